"""Health answers as real services give them: one interpretation, used by the checks, the dashboard and watch.

Pure logic, no network: ``interpret`` turns what the liveness endpoint (and, when configured, the readiness
and version endpoints) answered into a ``HealthReading``: a state (healthy, degraded, unhealthy, unknown), the
status word, the version, each dependency's state, and which dialect was read from which endpoint. An answer
it cannot read raises ``Unreadable``, whose message names the configuration key to set and the top-level fields
it saw; an unknown status word is never healthy.

Dialects recognised without configuration (``http.health.dialect: auto``):
- ``golive``: golive's own sandbox, ``{"status": "ok", "version", "uptime", "database": "ok", ...}``.
- ``ietf``: the Health Check Response Format for HTTP APIs (draft-inadarei-api-health-check-06,
  ``application/health+json``): ``status`` pass/warn/fail, ``version`` and ``releaseId``, ``checks`` keyed
  ``component:measurement`` holding lists of ``{status, componentType, observedValue, output}``; pass and warn
  come with 2xx-3xx, fail with 4xx-5xx (section 3.1).
- ``spring``: Spring Boot Actuator ``/actuator/health`` (``org.springframework.boot.actuate.health.Status``:
  UP, DOWN, OUT_OF_SERVICE, UNKNOWN; DOWN and OUT_OF_SERVICE answer 503), dependencies under
  ``components.<name>.status`` (``details`` before Spring Boot 2.2); the version from ``/actuator/info``
  ``build.version``.
- ``kubernetes``: plain-text probes as the Kubernetes API server answers them (kubernetes.io, "Kubernetes API
  health endpoints"): ``/healthz``, ``/livez``, ``/readyz`` answer ``ok``; ``?verbose`` gives ``[+]name ok`` and
  ``[-]name failed: reason withheld`` lines; machines rely on the HTTP status.
- ``flags``: the status-word-plus-flags family of hand-written and library health endpoints (``healthy`` /
  ``unhealthy``, ``up`` / ``down``, ``ready`` / ``not_ready``; NestJS Terminus' ``{"status": "ok"|"error",
  "details": {"database": {"status": "up"}}}``), dependencies as ``{connected: true}``, ``{healthy: true}``,
  ``{status: "up"}`` or plain strings, at the top level or under ``dependencies``, ``checks``, ``details``,
  ``services``; often on a separate readiness endpoint answering 503 when not ready.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from golive import inputs
from golive.masking import clip

HEALTHY, DEGRADED, UNHEALTHY, UNKNOWN = "healthy", "degraded", "unhealthy", "unknown"
DIALECTS = ("auto", "golive", "ietf", "spring", "kubernetes", "flags")

# Status words, compared case-insensitively with spaces and hyphens read as underscores.
HEALTHY_WORDS = ("ok", "pass", "passed", "up", "healthy", "ready", "alive", "live", "available", "serving", "green")
DEGRADED_WORDS = ("warn", "warning", "degraded", "partial", "yellow")
UNHEALTHY_WORDS = (
    "fail", "failed", "failure", "down", "unhealthy", "not_ready", "notready", "unready", "error", "out_of_service",
    "critical", "red", "shutting_down", "dead", "unavailable", "not_serving", "offline", "disconnected",
)  # fmt: skip
# Canonical dependency names and the names services give them (Spring's indicators are db, rabbit, redis).
DEPENDENCY_NAMES: dict[str, tuple[str, ...]] = {
    "database": ("database", "db", "postgres", "postgresql", "pg", "sql", "datasource"),
    "rabbitmq": ("rabbitmq", "rabbit", "amqp", "broker", "mq", "messaging"),
    "redis": ("redis", "cache", "valkey"),
}
# Where the flags family keeps its dependencies, besides the top level.
_CONTAINERS = ("dependencies", "checks", "details", "components", "services", "info", "error")
# Boolean fields that carry a dependency's state ({"connected": true}) or, at the top level, the service's.
_FLAGS = ("healthy", "connected", "ok", "up", "ready", "alive", "available", "reachable")
_SAMPLE = 80


class Unreadable(ValueError):
    """An answer golive cannot interpret; ``str()`` names the key to set and what was seen."""

    def __init__(self, endpoint: str, message: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of a health, readiness or version endpoint."""

    endpoint: str  # the URL asked (for the record and messages)
    status_code: int
    content_type: str
    text: str


@dataclass(frozen=True)
class Dependency:
    state: str  # healthy | degraded | unhealthy | unknown
    text: str  # what the service said, for messages: "ok", "DOWN: Connection refused", "connected: false"

    @property
    def ok(self) -> bool:
        return self.state == HEALTHY


@dataclass(frozen=True)
class Spec:
    """How to read a service's health answers: ``http.health`` with golive's defaults filled in."""

    dialect: str = "auto"
    status: str | None = None  # where the status word sits: a dotted path or a JSON pointer
    version: str | None = None
    dependencies: str | None = None
    healthy: tuple[str, ...] = HEALTHY_WORDS
    degraded: tuple[str, ...] = DEGRADED_WORDS
    unhealthy: tuple[str, ...] = UNHEALTHY_WORDS
    names: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEPENDENCY_NAMES))

    @classmethod
    def build(
        cls,
        dialect: str = "auto",
        status: str | None = None,
        version: str | None = None,
        dependencies: str | None = None,
        healthy: Iterable[str] = (),
        degraded: Iterable[str] = (),
        unhealthy: Iterable[str] = (),
        names: Mapping[str, Iterable[str]] | None = None,
    ) -> Spec:
        """Configured words join golive's own; a configured word leaves the other lists (it is what you say)."""
        said = {HEALTHY: _words(healthy), DEGRADED: _words(degraded), UNHEALTHY: _words(unhealthy)}
        lists = {}
        for state, defaults in ((HEALTHY, HEALTHY_WORDS), (DEGRADED, DEGRADED_WORDS), (UNHEALTHY, UNHEALTHY_WORDS)):
            others = set().union(*(words for other, words in said.items() if other != state))
            lists[state] = tuple(dict.fromkeys([*said[state], *(w for w in defaults if w not in others)]))
        merged = {canonical: tuple(aliases) for canonical, aliases in DEPENDENCY_NAMES.items()}
        for canonical, aliases in (names or {}).items():
            merged[canonical] = tuple(dict.fromkeys([canonical, *_words(aliases), *merged.get(canonical, ())]))
        return cls(dialect, status, version, dependencies, lists[HEALTHY], lists[DEGRADED], lists[UNHEALTHY], merged)

    def state_of(self, word: str) -> str:
        normal = _normal(word)
        if normal in self.healthy:
            return HEALTHY
        if normal in self.degraded:
            return DEGRADED
        if normal in self.unhealthy or (normal.startswith("not_") and normal[4:] in self.healthy):
            return UNHEALTHY  # "not_ready", "not healthy": the negation of a healthy word
        return UNKNOWN

    def canonical(self, name: str) -> str | None:
        normal = _normal(name)
        for canonical, aliases in self.names.items():
            if normal == canonical or normal in aliases:
                return canonical
        return None


@dataclass(frozen=True)
class HealthReading:
    """What a service says about its health, whatever its dialect."""

    state: str  # healthy | degraded | unhealthy | unknown
    status: str  # the status word as the service gave it ("UP", "pass", "healthy"), or "HTTP 503"
    status_code: int  # of the liveness answer
    dialect: str
    endpoints: dict[str, str]  # role (health, ready, version) -> URL read
    version: str | None = None
    uptime: float | None = None
    dependencies: dict[str, Dependency] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()  # why the state is not healthy, in the service's words
    live_state: str = HEALTHY  # the liveness answer's own state (the app answers), readiness aside

    @property
    def ok(self) -> bool:
        return self.state == HEALTHY

    def describe(self) -> str:
        """``UP (HTTP 200, spring)``, ``not_ready (HTTP 503 at /ready; database connected: false)``."""
        detail = "; ".join(self.reasons)
        return f"{self.status} (HTTP {self.status_code}, {self.dialect}{'; ' + detail if detail else ''})"

    def facts(self) -> dict[str, Any]:
        """For the decision record (``golive.facts.note("health", ...)``)."""
        return {"dialect": self.dialect, "endpoints": dict(self.endpoints), "state": self.state,
                "status": self.status, "version": self.version}  # fmt: skip


# --- reading one answer -----------------------------------------------------------------------------------


@dataclass
class _Parsed:
    dialect: str
    word: str | None  # None: the answer carries no status word (a readiness answer may not)
    version: str | None = None
    uptime: float | None = None
    dependencies: dict[str, Dependency] = field(default_factory=dict)


def parse(answer: Answer, spec: Spec, role: str = "health") -> _Parsed:
    """The dialect, status word, version and dependencies of one answer; ``Unreadable`` when it has none."""
    if answer.status_code == 404:  # no endpoint there: whatever the body, it says nothing about health
        key = {"ready": "http.health.ready_path", "version": "http.health.version_path"}.get(role, "http.health.path")
        raise _unreadable(answer, "says nothing answers at this path (404)", key)
    body = _json(answer)
    if body is _NOT_JSON:
        return _kubernetes(answer, spec, role)
    if spec.dialect == "kubernetes":
        raise _unreadable(answer, "is JSON, but http.health.dialect is kubernetes (plain text)", "http.health.dialect")
    if not isinstance(body, dict):
        raise _unreadable(answer, f"is JSON but not an object ({type(body).__name__})", _status_key(role))
    dialect = spec.dialect if spec.dialect != "auto" else _detect(answer, body)
    word = _status_word(answer, body, spec, role)
    parsed = _Parsed(dialect, word, _version(answer, body, spec, dialect), _uptime(body))
    parsed.dependencies = _dependencies(answer, body, spec, dialect)
    if word is None and not parsed.dependencies and role != "version":
        fields = _fields(body)
        key = "http.health.dependencies" if role == "ready" else "http.health.status"
        raise _unreadable(
            answer, f"has no status field and no dependency golive can read (top-level fields: {fields})", key
        )
    return parsed


def _detect(answer: Answer, body: dict[str, Any]) -> str:
    status = body.get("status")
    word = status if isinstance(status, str) else ""
    if "health+json" in answer.content_type or (
        word in ("pass", "warn", "fail") and ("checks" in body or "releaseId" in body or "serviceId" in body)
    ):
        return "ietf"
    if word in ("UP", "DOWN", "OUT_OF_SERVICE", "UNKNOWN") or isinstance(body.get("components"), dict):
        return "spring"
    if word.lower() in ("ok", "degraded") and ("uptime" in body or any(
        isinstance(body.get(name), str) for name in DEPENDENCY_NAMES
    )):  # fmt: skip
        return "golive"
    return "flags"


def _status_word(answer: Answer, body: dict[str, Any], spec: Spec, role: str) -> str | None:
    if spec.status is not None:
        value = resolve(body, spec.status)
        if value is _MISSING:
            if role != "health":
                return None  # a readiness answer may carry only its dependencies
            what = f"has nothing at http.health.status {spec.status!r} (top-level fields: {_fields(body)})"
            raise _unreadable(answer, what, "http.health.status")
        return _word_of(value)
    status = body.get("status")
    if isinstance(status, str):
        return status
    if isinstance(status, bool):
        return "up" if status else "down"
    for flag in _FLAGS:  # {"healthy": true} with no status field
        if isinstance(body.get(flag), bool):
            return flag if body[flag] else f"not {flag}"
    return None


def _word_of(value: Any) -> str:
    if isinstance(value, bool):
        return "up" if value else "down"
    if isinstance(value, str):
        return value
    return clip(json.dumps(value), _SAMPLE)


def _version(answer: Answer, body: dict[str, Any], spec: Spec, dialect: str) -> str | None:
    if spec.version is not None:
        value = resolve(body, spec.version)
        return value if isinstance(value, str) and value else None
    # IETF: releaseId is the release, version the public (API) version (draft-06 sections 3.2, 3.3).
    # Spring's /actuator/info: build.version (from build-info), or app.version by convention.
    candidates = ("releaseId", "version") if dialect == "ietf" else ("version", "build.version", "app.version")
    for pointer in candidates:
        value = resolve(body, pointer)
        if isinstance(value, str) and value:
            return value
    return None


def _uptime(body: dict[str, Any]) -> float | None:
    uptime = body.get("uptime")
    return float(uptime) if isinstance(uptime, int | float) and not isinstance(uptime, bool) else None


def _dependencies(answer: Answer, body: dict[str, Any], spec: Spec, dialect: str) -> dict[str, Dependency]:
    found: dict[str, Dependency] = {}
    if spec.dependencies is not None:
        container = resolve(body, spec.dependencies)
        if not isinstance(container, dict | list):
            raise _unreadable(answer, f"has no object at http.health.dependencies {spec.dependencies!r} "
                              f"(top-level fields: {_fields(body)})", "http.health.dependencies")  # fmt: skip
        sources: list[tuple[Any, bool]] = [(container, True)]
    elif dialect == "ietf":
        sources = [(body.get("checks"), True)]
    elif dialect == "spring":
        # MicroProfile Health (Quarkus, Open Liberty) shares Spring's UP/DOWN and lists its procedures as
        # "checks": [{"name": "database", "status": "UP", "data": {...}}] (MicroProfile Health 2+ wire format).
        sources = [(body.get("components"), True), (body.get("details"), True), (body.get("checks"), True)]
    else:
        sources = [(body, False), *((body.get(name), True) for name in _CONTAINERS)]
    for container, every_key in sources:
        for name, value in _items(container):
            component = name.split(":", 1)[0]  # IETF keys are component:measurement
            canonical = spec.canonical(component)
            if canonical is None and not every_key:
                continue  # a top-level field that is not a known dependency ("version", "environment")
            dependency = _dependency(value, spec)
            if dependency is None:
                continue
            key = canonical or component
            if key in found:  # two readings of one dependency (postgres:connections, postgres:responseTime)
                dependency = _worse(found[key], dependency)
            found[key] = dependency
    return found


def _items(container: Any) -> list[tuple[str, Any]]:
    if isinstance(container, dict):
        return [(str(name), value) for name, value in container.items()]
    if isinstance(container, list):  # [{"name": "postgres", "status": "up"}]
        return [(str(item.get("name") or item.get("componentId")), item) for item in container
                if isinstance(item, dict) and (item.get("name") or item.get("componentId"))]  # fmt: skip
    return []


def _dependency(value: Any, spec: Spec) -> Dependency | None:
    if isinstance(value, str):
        # golive's sandbox puts the error text in place of "ok": anything else than a known word is unhealthy.
        state = spec.state_of(value)
        return Dependency(state if state != UNKNOWN else UNHEALTHY, value)
    if isinstance(value, bool):
        return Dependency(HEALTHY if value else UNHEALTHY, str(value).lower())
    if isinstance(value, list):  # IETF: a list of measurements of one component; the worst counts
        readings = [d for d in (_dependency(item, spec) for item in value) if d is not None]
        result = None
        for reading in readings:
            result = reading if result is None else _worse(result, reading)
        return result
    if not isinstance(value, dict):
        return None
    detail = value.get("output") or value.get("error") or value.get("message") or value.get("detail")
    if not detail and isinstance(value.get("details"), dict):
        detail = value["details"].get("error") or value["details"].get("message")
    suffix = f": {_one_line(detail)}" if isinstance(detail, str) and detail else ""
    status = value.get("status")
    if isinstance(status, str):
        return Dependency(spec.state_of(status), status + suffix)
    for flag in _FLAGS:
        if isinstance(value.get(flag), bool):
            return Dependency(HEALTHY if value[flag] else UNHEALTHY, f"{flag}: {str(value[flag]).lower()}{suffix}")
    return None


_RANK = {HEALTHY: 0, DEGRADED: 1, UNKNOWN: 2, UNHEALTHY: 3}


def _worse(a: Dependency, b: Dependency) -> Dependency:
    return b if _RANK[b.state] > _RANK[a.state] else a


_K8S_LINE = re.compile(r"^\[(?P<sign>[+-])\](?P<name>\S+?)\s+(?P<text>.*)$")


def _kubernetes(answer: Answer, spec: Spec, role: str) -> _Parsed:
    text = answer.text.strip()
    if spec.dialect not in ("auto", "kubernetes"):
        raise _unreadable(answer, f"is not JSON ({clip(answer.text, _SAMPLE)!r}) but http.health.dialect is "
                          f"{spec.dialect}", "http.health.dialect")  # fmt: skip
    dependencies: dict[str, Dependency] = {}
    word: str | None = None
    for line in text.splitlines():
        line = line.strip()
        match = _K8S_LINE.match(line)
        if match:
            name = match["name"]
            state = HEALTHY if match["sign"] == "+" else UNHEALTHY
            dependencies[spec.canonical(name) or name] = Dependency(state, match["text"])
        elif re.fullmatch(r"\S+ check (passed|failed)", line):  # "readyz check failed"
            word = "ok" if line.endswith("passed") else "failed"
        elif line and word is None and len(text.splitlines()) == 1:
            word = line
    if word is None and not dependencies:
        raise _unreadable(answer, f"is neither JSON nor a Kubernetes-style probe text ('ok', '[+]name ok' lines): "
                          f"{clip(answer.text, _SAMPLE)!r}", _status_key(role))  # fmt: skip
    if word is None:
        word = "ok" if all(d.ok for d in dependencies.values()) else "failed"
    if spec.state_of(word) == UNKNOWN and role == "health" and not dependencies and spec.dialect == "auto":
        raise _unreadable(answer, f"is neither JSON nor a Kubernetes-style probe text ('ok', '[+]name ok' lines): "
                          f"{clip(answer.text, _SAMPLE)!r}", "http.health.dialect")  # fmt: skip
    return _Parsed("kubernetes", word, dependencies=dependencies)


# --- the reading ------------------------------------------------------------------------------------------


def interpret(health: Answer, spec: Spec, ready: Answer | None = None, version: Answer | None = None) -> HealthReading:
    """One reading from the liveness answer and, when their endpoints are configured, readiness and version."""
    endpoints = {"health": health.endpoint}
    live = parse(health, spec, "health")
    state, reasons = _state(live, health, spec)
    live_state = state
    dependencies = dict(live.dependencies)
    dialect = live.dialect
    found_version = live.version
    if ready is not None:
        endpoints["ready"] = ready.endpoint
        readiness = parse(ready, spec, "ready")
        ready_state, ready_reasons = _state(readiness, ready, spec, where=f" at {_path(ready.endpoint)}")
        if _RANK[ready_state] > _RANK[state]:
            state = ready_state
        reasons += ready_reasons
        for name, dependency in readiness.dependencies.items():
            dependencies[name] = _worse(dependencies[name], dependency) if name in dependencies else dependency
        found_version = found_version or readiness.version
    if version is not None:
        endpoints["version"] = version.endpoint
        if version.status_code == 404:
            parse(version, spec, "version")  # raises, naming http.health.version_path
        body = _json(version)
        if isinstance(body, dict):
            found_version = _version(version, body, spec, dialect) or found_version
        elif version.text.strip() and body is _NOT_JSON and version.status_code < 400:
            found_version = clip(version.text.strip(), _SAMPLE)
    status = live.word if live.word is not None else f"HTTP {health.status_code}"
    if state != HEALTHY:
        sick = [f"{name} {dep.text}" for name, dep in sorted(dependencies.items()) if not dep.ok]
        reasons += tuple(item for item in sick if all(item not in reason for reason in reasons))
    return HealthReading(state, status, health.status_code, dialect, endpoints, found_version, live.uptime,
                         dependencies, reasons, live_state)  # fmt: skip


def version_in(text: str, spec: Spec, content_type: str = "") -> str | None:
    """The version one answer reports (a health or version endpoint's), in whichever dialect it speaks."""
    answer = Answer("", 200, content_type, text)
    body = _json(answer)
    if not isinstance(body, dict):
        return None
    return _version(answer, body, spec, spec.dialect if spec.dialect != "auto" else _detect(answer, body))


def _state(parsed: _Parsed, answer: Answer, spec: Spec, where: str = "") -> tuple[str, tuple[str, ...]]:
    """The state one answer gives: its HTTP status first (4xx/5xx is unhealthy whatever the body says, as
    load balancers read it), then its status word; an answer with no word goes by its HTTP status."""
    word_state = spec.state_of(parsed.word) if parsed.word is not None else None
    if answer.status_code >= 400:
        said = f" says {parsed.word!r}" if parsed.word is not None else ""
        return UNHEALTHY, (f"HTTP {answer.status_code}{where}{said}",)
    if word_state is None:
        return HEALTHY, ()
    if word_state == UNKNOWN:
        return UNKNOWN, (f"status {parsed.word!r}{where} is not a word golive knows (set http.health.healthy, "
                         "http.health.degraded or http.health.unhealthy)",)  # fmt: skip
    if word_state != HEALTHY:
        return word_state, (f"status {parsed.word!r}{where}",)
    return HEALTHY, ()


# --- pointers and helpers ---------------------------------------------------------------------------------


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()
_NOT_JSON: Any = _Missing()


def resolve(body: Any, pointer: str) -> Any:
    """The value at a dotted path (``build.version``, ``checks.0.status``) or a JSON pointer (RFC 6901,
    ``/build/version``); ``_MISSING`` when there is none."""
    if pointer.startswith("/"):
        parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]
    elif pointer == "":
        return body
    else:
        parts = pointer.split(".")
    value = body
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def valid_pointer(pointer: str) -> bool:
    """A dotted path of non-empty names, or a JSON pointer."""
    return pointer.startswith("/") or (pointer != "" and all(pointer.split(".")))


def _json(answer: Answer) -> Any:
    try:  # a service's answer is outside input too: bounded in depth (its size is http.max_body_bytes')
        return inputs.parse_json(answer.text, f"health answer of {answer.endpoint}")
    except inputs.InputError:
        return _NOT_JSON


def _unreadable(answer: Answer, what: str, key: str) -> Unreadable:
    message = f"HTTP {answer.status_code} health answer {what}; set {key} to say how to read it"
    return Unreadable(answer.endpoint, message)


def _status_key(role: str) -> str:
    return {"ready": "http.health.dependencies", "version": "http.health.version"}.get(role, "http.health.status")


def _fields(body: dict[str, Any]) -> str:
    names = sorted(str(name) for name in body)
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "none"


def _words(words: Iterable[str]) -> list[str]:
    return [_normal(word) for word in words]


def _normal(word: str) -> str:
    return re.sub(r"[\s-]+", "_", word.strip().lower())


def _one_line(text: str) -> str:
    return clip(" ".join(text.split()), 200)


def _path(url: str) -> str:
    match = re.match(r"^[a-z]+://[^/]+(?P<path>/.*)?$", url)
    return (match["path"] if match else None) or url
