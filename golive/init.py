"""``golive init``: a commented starting configuration, written from what a running service answers.

It asks each environment's usual health, readiness and version endpoints (each request bounded by a short
timeout), reads the answers with golive.health (the one interpretation of health answers), and, with a
Prometheus, finds each environment's scrape job and the instrumentation library's preset with golive.metrics
(the checks' own resolution). What it could not detect becomes a comment naming the key to set. It never
writes a secret: a password given in a URL or DSN (``--url``, ``--prometheus``, ``--dsn``, ``--amqp``, ``--redis``)
becomes a ``${VAR}`` reference, and the variables to set are listed; every comment and summary line (they quote
what the services answered, which may quote a DSN with its password) passes golive's masker; and before the file is
written, a last check refuses it if any credential given on the command line is still in the text. The text it
writes is validated with golive's own loader before anything is written.

Candidate endpoints, as frameworks publish them:
- ``/health``, ``/healthz``, ``/livez``, ``/readyz``: hand-written services and Kubernetes-style probes
  (kubernetes.io, "Kubernetes API health endpoints").
- ``/actuator/health``, ``/actuator/health/liveness``, ``/actuator/health/readiness``, ``/actuator/info``:
  Spring Boot Actuator and its health groups (Spring Boot 2.3+, "Kubernetes probes").
- ``/health/live``, ``/health/ready``: MicroProfile Health (``/health`` aggregates liveness and readiness).
- ``/ready``, ``/version``, ``/info``: the status-plus-flags family and version endpoints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import httpx
import yaml

from golive import health, metrics
from golive.config import ConfigError, _amqp_url, _postgres_dsn, _redis_url, parse_settings
from golive.config import Prometheus as PrometheusSection
from golive.masking import Masker, mask_url, password_of, secrets_of
from golive.probes import http as http_probe
from golive.probes.errors import ProbeError
from golive.probes.prometheus import Prometheus

LIVENESS_PATHS = ("/health", "/healthz", "/livez", "/actuator/health", "/health/live")
READINESS_PATHS = ("/ready", "/readyz", "/health/ready", "/health/readiness", "/actuator/health/readiness")
VERSION_PATHS = ("/version", "/info", "/actuator/info", "/api/version")
# Spring keeps its version in /actuator/info (build.version): ask there first when the health answer is Spring's.
_VERSION_FIRST = {"spring": "/actuator/info"}
DEFAULT_TIMEOUT_S = 2.0
ROLES = ("candidate", "live")  # the first --url is the candidate (blue), the second the live (green)
NAMES = ("blue", "green")
# Where a password found in --dsn, --amqp, --redis, --prometheus or an environment's --url goes instead: the variable
# the file references (an environment's by its name).
PASSWORD_VARIABLES = {"postgres": "PGPASSWORD", "rabbitmq": "RABBITMQ_PASSWORD", "redis": "REDIS_PASSWORD",
                      "prometheus": "PROMETHEUS_PASSWORD", "blue": "BLUE_URL_PASSWORD", "green": "GREEN_URL_PASSWORD"}
_KNOWN = tuple(health.DEPENDENCY_NAMES)


class InitError(Exception):
    """``golive init`` cannot go on; ``str()`` is the one line to show (credentials masked)."""


@dataclass
class Detected:
    """What one environment's endpoints said."""

    name: str
    url: str
    health_path: str
    ready_path: str | None
    version_path: str | None
    reading: health.HealthReading
    notes: list[str] = field(default_factory=list)  # endpoints that did not answer in time, for comments

    @property
    def http_keys(self) -> dict[str, Any]:
        keys: dict[str, Any] = {"dialect": self.reading.dialect}
        if self.ready_path is not None:
            keys["ready_path"] = self.ready_path
        if self.version_path is not None:
            keys["version_path"] = self.version_path
        return keys


@dataclass(frozen=True)
class Request:
    """What ``golive init`` was asked."""

    urls: tuple[str, ...]
    prometheus: str | None = None
    dsn: str | None = None
    amqp: str | None = None
    redis: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Result:
    text: str
    variables: tuple[str, ...]  # the ${VAR}s the file references, to set before a gate
    summary: list[str]  # one line per thing detected or not, for the terminal
    # The credentials given on the command line, in each form they may take in text, with the flag that gave
    # them: none may be in ``text`` (write refuses it).
    forbidden: tuple[tuple[str, frozenset[str]], ...] = field(default=(), repr=False)


# --- probing ------------------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """An http(s) URL with a host, without a trailing slash; InitError otherwise."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise InitError(f"--url {mask_url(url)}: not an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InitError(f"--url {mask_url(url)}: not an http(s) URL (http://host:port)")
    return url.rstrip("/")


def _ask(client: httpx.Client, path: str) -> health.Answer | str:
    """The answer at a path, or why there is none (a timeout on one path is not the service being down)."""
    try:
        response = http_probe.request(client, "GET", path)
    except ProbeError as error:
        return error.detail
    content_type = response.headers.get("content-type", "")
    return health.Answer(http_probe.url_of(client, path), response.status_code, content_type, response.text)


def _usable(answer: health.Answer | str, role: str) -> health.Answer | None:
    """The answer, if it is a health answer golive can read for this role: 2xx, or 503 (the service saying it is
    unhealthy); 401/403 (not for golive's eyes), 404 and other errors say nothing about health."""
    if isinstance(answer, str) or not (200 <= answer.status_code < 300 or answer.status_code == 503):
        return None
    try:
        health.parse(answer, health.Spec(), role)
    except health.Unreadable:
        return None
    return answer


def detect(name: str, url: str, timeout_s: float) -> Detected:
    """Ask an environment's candidate endpoints; InitError when it does not answer at all or has no health
    endpoint golive can read."""
    notes: list[str] = []
    with http_probe.make_client(url, timeout_s, max_connections=2, max_keepalive=1) as client:
        live: health.Answer | None = None
        for index, path in enumerate(LIVENESS_PATHS):
            answer = _ask(client, path)
            if isinstance(answer, str) and index == 0:  # refused or silent: the service is not there to ask
                raise InitError(f"{name} at {mask_url(url)}: {answer}; nothing written")
            if isinstance(answer, str):
                notes.append(f"{path}: {answer}")
            live = _usable(answer, "health")
            if live is not None:
                break
        if live is None:
            tried = ", ".join(LIVENESS_PATHS)
            raise InitError(f"{name} at {mask_url(url)}: no health answer golive can read at {tried}; "
                            "nothing written (write http.health.path by hand)")  # fmt: skip
        health_path = _path_of(live, url)
        ready = _first(client, READINESS_PATHS, "ready", notes, exclude=health_path)
        first = health.interpret(live, health.Spec(), ready)
        version_answer = None
        if first.version is None:
            dialect_first = _VERSION_FIRST.get(first.dialect)
            order = tuple(dict.fromkeys([*([dialect_first] if dialect_first else []), *VERSION_PATHS]))
            version_answer = _first_version(client, order, notes)
    spec = health.Spec.build(dialect=first.dialect)
    reading = health.interpret(live, spec, ready, version_answer)
    return Detected(name, url, health_path, _path_of(ready, url) if ready else None,
                    _path_of(version_answer, url) if version_answer else None, reading, notes)  # fmt: skip


def _first(client: httpx.Client, paths: Sequence[str], role: str, notes: list[str],
           exclude: str) -> health.Answer | None:  # fmt: skip
    for path in paths:
        if path == exclude:
            continue
        answer = _ask(client, path)
        if isinstance(answer, str):
            notes.append(f"{path}: {answer}")
        usable = _usable(answer, role)
        if usable is not None:
            return usable
    return None


def _first_version(client: httpx.Client, paths: Sequence[str], notes: list[str]) -> health.Answer | None:
    for path in paths:
        answer = _ask(client, path)
        if isinstance(answer, str):
            notes.append(f"{path}: {answer}")
            continue
        if 200 <= answer.status_code < 300 and health.version_in(answer.text, health.Spec(), answer.content_type):
            return answer
    return None


def _path_of(answer: health.Answer, base_url: str) -> str:
    return answer.endpoint[len(base_url.rstrip("/")):] or "/"


@dataclass(frozen=True)
class Scrape:
    jobs: dict[str, str]  # environment -> job
    preset: str | None
    problems: list[str]  # what could not be found, each naming the key to set


def scrape_jobs(url: str, environments: Sequence[Detected], timeout_s: float) -> Scrape:
    """Each environment's job and the preset, found as the checks find them (golive.metrics); an unreachable
    Prometheus is an InitError."""
    section = PrometheusSection(url=url)
    jobs: dict[str, str] = {}
    problems: list[str] = []
    preset: str | None = None
    with Prometheus(url, timeout_s) as prom:
        try:
            prom.targets()
        except ProbeError as error:
            raise InitError(f"--prometheus: {error}; nothing written") from None
        for environment in environments:
            try:
                job, job_from = metrics.resolve_job(prom, section, environment.name, environment.url)
            except ProbeError as error:
                problems.append(error.detail)
                continue
            jobs[environment.name] = job
            if preset is None:
                try:
                    # after=0: the targets' last scrapes as they are, no wait (they must be up).
                    scraped = metrics.wait_for_fresh_scrape(prom, job, 0.0, job_from=job_from)
                    preset, _source, _queries = metrics.resolve_queries(prom, section, job, scraped)
                except ProbeError as error:
                    problems.append(error.detail)
    return Scrape(jobs, preset, problems)


# --- secrets ------------------------------------------------------------------------------------------


def without_password(url: str, component: str) -> tuple[str, str | None]:
    """The URL or DSN with its password replaced by ``${VAR}``, and VAR (None when there was no password)."""
    variable = PASSWORD_VARIABLES[component]
    reference = "${" + variable + "}"
    if "://" not in url:  # a libpq key=value DSN: host=... password=...
        parts = url.split()
        found = False
        for index, part in enumerate(parts):
            if part.lower().startswith("password="):
                parts[index], found = f"password={reference}", part[len("password="):] != reference
        return (" ".join(parts), variable) if found else (url, None)
    split = urlsplit(url)
    found_variable: str | None = None
    netloc = split.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user, password = userinfo.split(":", 1)
            if password and password != reference:
                netloc, found_variable = f"{user}:{reference}@{host}", variable
    query = parse_qsl(split.query, keep_blank_values=True)
    if any(key.lower() == "password" for key, _ in query):  # postgresql://host/db?password=...
        query = [(key, reference if key.lower() == "password" else value) for key, value in query]
        found_variable = variable
    rebuilt = urlunsplit((split.scheme, netloc, split.path, urlencode(query, safe="${}", quote_via=quote),
                          split.fragment))  # fmt: skip
    return (rebuilt, found_variable) if found_variable else (url, None)


def _given(request: Request) -> list[tuple[str, str]]:
    """Each URL or DSN given on the command line, with its flag."""
    given = [("--url", url) for url in request.urls]
    given += [(flag, value) for flag, value in (("--prometheus", request.prometheus), ("--dsn", request.dsn),
                                                ("--amqp", request.amqp), ("--redis", request.redis)) if value]
    return given


def _username(url_or_dsn: str) -> str | None:
    if "://" not in url_or_dsn:
        users = [part[len("user="):] for part in url_or_dsn.split() if part.lower().startswith("user=")]
        return users[-1] if users else None
    try:
        username = urlsplit(url_or_dsn).username
    except ValueError:
        return None
    return unquote(username) if username else None


def credentials(url_or_dsn: str) -> list[str]:
    """The credentials a URL or DSN given to init carries, as the file must never hold them: its password (unless it
    is the user's name too, as in ``guest:guest``: the name is written, the pair is not), ``user:password``, the
    base64 basic auth sends, secret-named query parameters."""
    user, password = _username(url_or_dsn), password_of(url_or_dsn)
    found = [secret for secret in secrets_of(url_or_dsn) if secret != user]
    if user and password:
        found.append(f"{user}:{password}")
        userinfo = urlsplit(url_or_dsn).netloc.rpartition("@")[0] if "://" in url_or_dsn else ""
        found.append(userinfo)  # as given, percent-encoded
    return list(dict.fromkeys(secret for secret in found if secret))


def request_masker(request: Request) -> Masker:
    """A masker of what init shows and quotes: credential shapes, and every secret the command line gave."""
    return Masker(secret for _flag, value in _given(request) for secret in secrets_of(value))


def leaked(result: Result) -> list[str]:
    """The flags whose credentials are in the result's text (empty: none is)."""
    return [flag for flag, forms in result.forbidden if any(form in result.text for form in forms)]


# --- writing ------------------------------------------------------------------------------------------


def generate(request: Request, now: datetime | None = None) -> Result:
    """Probe the environments (and Prometheus) and build the configuration's text, validated by golive's
    loader; InitError on bad input or an environment that does not answer."""
    urls = [check_url(url) for url in request.urls]
    if not 1 <= len(urls) <= 2:
        raise InitError("give --url once or twice: the candidate (blue) first, then the live environment (green)")
    if request.prometheus is not None:
        prometheus = request.prometheus
        try:
            request = Request(request.urls, check_url(prometheus), request.dsn, request.amqp, request.redis,
                              request.timeout_s)  # fmt: skip
        except InitError:
            raise InitError(f"--prometheus {mask_url(prometheus)}: not an http(s) URL") from None
    # Bad input is said before anything is asked, in the loader's own words (the value is never shown).
    for flag, given, valid in (("--dsn", request.dsn, _postgres_dsn), ("--amqp", request.amqp, _amqp_url),
                               ("--redis", request.redis, _redis_url)):  # fmt: skip
        if given is not None:
            try:
                valid(given)
            except ValueError as error:
                raise InitError(f"{flag}: {error}; nothing written") from None
    detected = [detect(name, url, request.timeout_s) for name, url in zip(NAMES, urls, strict=False)]
    scrape = scrape_jobs(request.prometheus, detected, request.timeout_s) if request.prometheus else None
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _render(request, detected, scrape, when)


def _render(request: Request, detected: list[Detected], scrape: Scrape | None, when: str) -> Result:
    lines: list[str] = []
    summary: list[str] = []
    variables: list[str] = []
    sources = ", ".join(f"{mask_url(d.url)} ({d.name})" for d in detected)
    if request.prometheus is not None:
        sources += f", Prometheus {mask_url(request.prometheus)}"
    lines += [f"# Generated by `golive init` at {when} from {sources}.",
              "# A starting point: review it, fill in what the TODO lines name, then run `golive gate 1`.",
              "# Every key golive knows, with its meaning: golive.example.yaml; for editors: `golive config schema`.",
              ""]  # fmt: skip
    blue = detected[0]
    green = detected[1] if len(detected) > 1 else None

    release: dict[str, Any] = {"version": blue.reading.version or "TODO"}
    if green is not None and green.reading.version:
        release["previous"] = green.reading.version
    lines.append(f"# release.version: what {blue.name} reports; release.previous: what the live environment reports.")
    lines += _dump({"release": release})
    if blue.reading.version is None:
        lines.append(f"# TODO: {blue.name} reports no version: set release.version (and http.health.version or "
                     "http.health.version_path to say where the service reports it).")  # fmt: skip
        summary.append(f"{blue.name}: no version found: set release.version")
    if green is None:
        lines.append("# TODO: no second --url: add environments.green (role: live) and release.previous.")
    elif green.reading.version is None:
        lines.append(f"# TODO: {green.name} reports no version: set release.previous.")
        summary.append(f"{green.name}: no version found: set release.previous")

    environments: dict[str, dict[str, Any]] = {}
    url_variables: list[str] = []
    for d, role in zip(detected, ROLES, strict=False):
        url, variable = without_password(d.url, d.name)
        environments[d.name] = {"url": url, "role": role}
        if variable is not None:
            url_variables.append(variable)
            summary.append(f"{d.name}: the password of its URL is not written: set {variable}")
    variables += url_variables
    lines.append("")
    if green is not None and (green.health_path, green.http_keys) != (blue.health_path, blue.http_keys):
        lines.append(f"# {green.name} answers health elsewhere or otherwise than {blue.name}: its own http keys.")
        # Overrides merge key by key over the shared http: a path blue has and green has not is written as null.
        own = {"ready_path": None, "version_path": None, **green.http_keys}
        environments[green.name]["http"] = {"health_path": green.health_path, "health": own}
    if url_variables:
        lines.append(f"# The passwords of the URLs are not written here: set {', '.join(url_variables)} before running "
                     "a gate.")  # fmt: skip
    lines += _dump({"environments": environments})

    http: dict[str, Any] = {"timeout_s": 5, "health_path": blue.health_path, "health": blue.http_keys}
    lines += ["", f"# Health as {blue.name} answered it: dialect {blue.reading.dialect}, endpoints "
              f"{', '.join(blue.reading.endpoints.values())}."]  # fmt: skip
    lines += _dump({"http": http})
    for d in detected:
        summary.append(f"{d.name}: dialect {d.reading.dialect}, health {d.health_path}"
                       f"{', ready ' + d.ready_path if d.ready_path else ''}"
                       f"{', version ' + d.version_path if d.version_path else ''}"
                       f"; version {d.reading.version or 'not found'}; state {d.reading.state}")  # fmt: skip
        if d.reading.state != health.HEALTHY:
            lines.append(f"# NOTE: {d.name} says it is {d.reading.state} now: {d.reading.describe()}.")
        for note in d.notes:
            lines.append(f"# NOTE: {d.name} {note}")
    if blue.ready_path is None:
        lines.append(f"# TODO: no readiness endpoint found ({', '.join(READINESS_PATHS)}): set "
                     "http.health.ready_path if the service has one.")  # fmt: skip
    if blue.reading.version is None:
        lines.append(f"# TODO: no version found at {', '.join(VERSION_PATHS)}: set http.health.version_path and "
                     "http.health.version.")  # fmt: skip
    lines.append("# TODO: sampling measures the health path until http.endpoints lists the API's GET endpoints "
                 "(e.g. [{path: /api/items, method: GET, expect: [200]}]).")  # fmt: skip

    seen: dict[str, str] = {}
    for d in detected:
        for name, dependency in d.reading.dependencies.items():
            seen.setdefault(name, dependency.text)
    known = [name for name in seen if name in _KNOWN]
    unknown = [name for name in seen if name not in _KNOWN]
    lines.append(f"# Dependencies the health answers name: {', '.join(sorted(seen)) or 'none'}.")
    for name in sorted(unknown):
        lines.append(f"# {name!r} is not a name golive knows for {', '.join(_KNOWN)}: if it is one of them, say so:")
        lines.append(f"#   http: {{health: {{dependency_names: {{database: [{name}]}}}}}}   # or rabbitmq, redis")
    summary.append(f"dependencies: {', '.join(sorted(seen)) or 'none'}"
                   f"{'; not known: ' + ', '.join(sorted(unknown)) if unknown else ''}")  # fmt: skip

    for component, given, key, name in (("postgres", request.dsn, "dsn", "database"),
                                        ("rabbitmq", request.amqp, "url", "rabbitmq"),
                                        ("redis", request.redis, "url", "redis")):  # fmt: skip
        flag = {"postgres": "--dsn", "rabbitmq": "--amqp", "redis": "--redis"}[component]
        if given is None:
            if name in known:
                lines += ["", f"# TODO: the service reports {name}; give {flag} (or set {component}.{key}) so golive "
                          f"checks {component} itself."]  # fmt: skip
            continue
        value, variable = without_password(given, component)
        lines.append("")
        if variable is not None:
            variables.append(variable)
            lines.append(f"# The password is not written here: set {variable} before running a gate.")
        lines += _dump({component: {key: value}})

    lines.append("")
    if scrape is None or request.prometheus is None:
        lines.append("# TODO: no --prometheus: set prometheus.url (golive then finds each environment's job and the "
                     "metric naming).")  # fmt: skip
        summary.append("prometheus: not given")
    else:
        prometheus_url, variable = without_password(request.prometheus, "prometheus")
        if variable is not None:
            variables.append(variable)
            lines.append(f"# The password of Prometheus's URL is not written here: set {variable}.")
        prometheus: dict[str, Any] = {"url": prometheus_url}
        if scrape.jobs:
            prometheus["jobs"] = scrape.jobs
        if scrape.preset is not None:
            prometheus["preset"] = scrape.preset
        lines.append(f"# Jobs found among Prometheus's targets by each environment's host:port; preset "
                     f"{scrape.preset or 'not detected'} (golive.promql).")  # fmt: skip
        lines += _dump({"prometheus": prometheus})
        for problem in scrape.problems:
            lines.append(f"# TODO: {problem}")
        summary.append(f"prometheus: jobs {', '.join(f'{k} {v}' for k, v in scrape.jobs.items()) or 'none'}; "
                       f"preset {scrape.preset or 'not detected'}")  # fmt: skip
    lines.append("# Not probed (add them as the deployment has them): load_balancer, aws, thresholds, "
                 "rollback_triggers, attestations.")  # fmt: skip
    # Comments quote what the services answered (a health answer may quote a DSN with its password): masked.
    mask = request_masker(request)
    text = "\n".join(mask(line) if line.lstrip().startswith("#") else line for line in lines) + "\n"
    forbidden = tuple((flag, Masker(credentials(value)).secrets) for flag, value in _given(request))
    return Result(text, tuple(dict.fromkeys(variables)), [mask(line) for line in summary], forbidden)


def _dump(value: Mapping[str, Any]) -> list[str]:
    return yaml.safe_dump(dict(value), sort_keys=False, width=200, default_flow_style=False).rstrip("\n").split("\n")


def validate(result: Result, out: Path, environ: Mapping[str, str]) -> None:
    """The text loads with golive's own loader (the variables it references set to placeholders if unset)."""
    filled = {**{variable: "set-me" for variable in result.variables}, **environ}
    try:
        parse_settings(result.text, out, "golive init", filled)
    except ConfigError as error:
        raise InitError(f"the configuration golive init built does not load ({error}); nothing written") from None


def write(result: Result, out: Path, force: bool) -> None:
    """Write the file (atomically); an existing one only with ``force``; never one holding a credential given on the
    command line."""
    found = leaked(result)
    if found:
        raise InitError(f"the configuration built holds a credential given with {', '.join(found)}; nothing written "
                        "(give the password through the variable the file references instead)")  # fmt: skip
    if out.exists() and not force:
        raise InitError(f"{out} exists: nothing written (--force replaces it)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(result.text, encoding="utf-8")
        tmp.replace(out)
    except OSError as error:
        raise InitError(f"{out}: cannot write: {error.strerror}") from None


def run(request: Request, out: Path, force: bool, environ: Mapping[str, str] | None = None) -> Result:
    """``golive init``: refuse an existing file first (before probing), probe, validate, write."""
    if out.exists() and not force:
        raise InitError(f"{out} exists: nothing written (--force replaces it)")
    mask: Callable[[str], str] = request_masker(request)
    try:
        result = generate(request)
        validate(result, out, os.environ if environ is None else environ)
        write(result, out, force)
    except InitError as error:  # messages quote URLs and answers: no credential given here is shown
        raise InitError(mask(str(error))) from None
    return result
