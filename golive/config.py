"""The golive configuration: one YAML file, validated, interpolated from the environment, credentials known.

``load_settings`` turns a file into ``Settings`` or raises ``ConfigError`` whose message is one line naming
the file and the key path (``golive.yaml: postgres.replicas[0]: not a PostgreSQL DSN``). Messages never carry
the offending value, so a bad password-bearing DSN cannot leak through an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, NoReturn, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from golive import promql
from golive.health import valid_pointer
from golive.masking import Masker, is_secret_env_name, secrets_of
from golive.promql import PresetName
from golive.sqltext import statement_count

DEFAULT_CONFIG = "golive.yaml"
CONFIG_ENV_VAR = "GOLIVE_CONFIG"
SERVICE_SECTIONS = ("http", "postgres", "rabbitmq", "redis", "prometheus", "aws")


class ConfigError(Exception):
    """The configuration cannot be used. ``str()`` is the one line to show."""


# --- value types -------------------------------------------------------------------------------------


def _url_check(value: str, schemes: tuple[str, ...], what: str, need_host: bool = True) -> str:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise ValueError(what) from None
    if parts.scheme not in schemes or (need_host and not parts.hostname):
        raise ValueError(what)
    return value


def _http_url(value: str) -> str:
    return _url_check(value, ("http", "https"), "not an http(s) URL")


def _postgres_dsn(value: str) -> str:
    what = "not a PostgreSQL DSN"
    if "://" in value:
        _url_check(value, ("postgresql", "postgres"), what)
        return value
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(value)
    except Exception:
        raise ValueError(what) from None
    if not params.get("host") and not params.get("dbname"):
        raise ValueError(what)
    return value


def _amqp_url(value: str) -> str:
    return _url_check(value, ("amqp", "amqps"), "not an AMQP URL (amqp://user:password@host:port/vhost)")


def _redis_url(value: str) -> str:
    if value.startswith("unix://"):
        return value
    return _url_check(value, ("redis", "rediss"), "not a Redis URL (redis://host:port/db)")


def _relative_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with /")
    return value


def _query_template(value: str) -> str:
    """A PromQL template: ``{job}`` and ``{window}`` filled in by str.format, PromQL's own braces doubled."""
    try:
        promql.selectors(value.format(job="job", window="1m"))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"not a query template ({exc}): write PromQL's braces as {{{{ and }}}}, placeholders {{job}} and {{window}}"
        ) from None
    return value


@dataclass(frozen=True)
class _Mistyped:
    """Stands for a boolean given as a number or a number given as a boolean: no field type accepts it."""

    expected: str  # what the key takes, for the error line


def _unmistaken(value: Any, annotation: Any) -> Any:
    """``value`` with every boolean where ``annotation`` expects a number, and every number where it expects a
    boolean, replaced by a ``_Mistyped`` (looking into lists and mappings; sections check their own fields)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unmistaken(value, get_args(annotation)[0])
    if origin in (Union, UnionType):
        members = [member for member in get_args(annotation) if member is not NoneType]
        if Any in members or (isinstance(value, bool) and bool in members):
            return value
        fixed = [_unmistaken(value, member) for member in members]
        return fixed[0] if all(isinstance(item, _Mistyped) for item in fixed) else value
    if origin in (list, tuple, set, frozenset) and isinstance(value, list):
        return [_unmistaken(item, get_args(annotation)[0]) for item in value]
    if origin is dict and isinstance(value, dict):
        return {key: _unmistaken(item, get_args(annotation)[1]) for key, item in value.items()}
    if annotation in (int, float) and isinstance(value, bool):
        return _Mistyped("expected a number, not true or false")
    if annotation is bool and isinstance(value, int | float) and not isinstance(value, bool):
        return _Mistyped("expected true or false, not a number")
    return value


def _one_statement(value: str) -> str:
    """Configured SQL runs as exactly one read-only statement: refuse more (or none) when the file is read."""
    count = statement_count(value)
    if count != 1:
        raise ValueError(
            "holds no SQL statement" if count == 0
            else f"holds {count} SQL statements; configured SQL runs as exactly one read-only statement"
        )
    return value


HttpUrl = Annotated[StrictStr, AfterValidator(_http_url)]
PostgresDsn = Annotated[StrictStr, AfterValidator(_postgres_dsn)]
AmqpUrl = Annotated[StrictStr, AfterValidator(_amqp_url)]
RedisUrl = Annotated[StrictStr, AfterValidator(_redis_url)]
UrlPath = Annotated[StrictStr, AfterValidator(_relative_path)]
Seconds = Annotated[float, Field(gt=0, le=3600)]
Ratio = Annotated[float, Field(ge=0, le=1)]
NonEmpty = Annotated[StrictStr, Field(min_length=1)]
QueryTemplate = Annotated[StrictStr, Field(min_length=1), AfterValidator(_query_template)]
Sql = Annotated[StrictStr, Field(min_length=1), AfterValidator(_one_statement)]  # run by golive.probes.postgres


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data: Any) -> Any:
        """pydantic reads ``true`` as 1 for a number (``timeout_s: true`` would be one second) and 1 as true for
        a flag: such a value is replaced by one no type accepts, so the key fails as any other wrong type does.
        Numbers still come as ints, floats or strings (``${VAR}``)."""
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {key: _unmistaken(value, fields[key].annotation) if key in fields else value
                for key, value in data.items()}


# --- sections ----------------------------------------------------------------------------------------


class Release(Section):
    version: NonEmpty
    previous: NonEmpty | None = None
    repository: NonEmpty | None = None  # a git repository (path) whose tags name releases
    tag_format: NonEmpty = "v{version}"


class Endpoint(Section):
    path: UrlPath
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    expect: list[Annotated[int, Field(ge=100, le=599)]] = Field(default_factory=lambda: [200], min_length=1)


class Sampling(Section):
    """Active latency sampling: N requests at concurrency C against these paths, bounded in time.

    Without ``paths`` golive samples the API (``Http.sampling_paths``), not the health checker.
    """

    requests: Annotated[int, Field(ge=1, le=100_000)] = 100
    concurrency: Annotated[int, Field(ge=1, le=256)] = 10
    paths: Annotated[list[UrlPath], Field(min_length=1)] | None = None
    max_duration_s: Seconds = 30.0


class Integration(Section):
    """An external service the application depends on (payments, e-mail, an LLM API...)."""

    name: NonEmpty
    url: HttpUrl
    expect: list[Annotated[int, Field(ge=100, le=599)]] = Field(default_factory=lambda: [200], min_length=1)


def _pointer(value: str) -> str:
    if not valid_pointer(value):
        raise ValueError("not a dotted path (build.version) or a JSON pointer (/build/version)")
    return value


Pointer = Annotated[StrictStr, AfterValidator(_pointer)]


class HealthAnswers(Section):
    """How to read the service's health answers (golive.health); every key optional: dialects are detected."""

    path: UrlPath | None = None  # the liveness endpoint; becomes http.health_path
    ready_path: UrlPath | None = None  # a readiness endpoint read as well (dependencies, 503 when not ready)
    version_path: UrlPath | None = None  # where the version is, when not in the health answer (/actuator/info)
    dialect: Literal["auto", "golive", "ietf", "spring", "kubernetes", "flags"] = "auto"
    status: Pointer | None = None  # where the status word sits
    version: Pointer | None = None
    dependencies: Pointer | None = None  # the object holding one entry per dependency
    healthy: list[NonEmpty] = Field(default_factory=list)  # words added to golive's own (ok, pass, up, ...)
    degraded: list[NonEmpty] = Field(default_factory=list)  # a REVIEW
    unhealthy: list[NonEmpty] = Field(default_factory=list)
    dependency_names: dict[NonEmpty, list[NonEmpty]] = Field(default_factory=dict)  # database: [maindb]

    @model_validator(mode="after")
    def _words_disjoint(self) -> HealthAnswers:
        seen: dict[str, str] = {}
        for key in ("healthy", "degraded", "unhealthy"):
            for word in getattr(self, key):
                normal = word.strip().lower()
                if seen.setdefault(normal, key) != key:
                    raise ValueError(f"a word is listed under both {seen[normal]} and {key}")
        return self


def _health_paths(value: Any) -> Any:
    """``http.health.path`` is the liveness path, ``http.health_path`` its contract name: one value."""
    if not isinstance(value, dict):
        return value
    health = value.get("health")
    path = health.get("path") if isinstance(health, dict) else None
    if path is not None:
        if "health_path" in value and value["health_path"] != path:
            raise ValueError("health.path and health_path disagree: give one of them")
        value = {**value, "health_path": path}
    return value


MAX_BODY_BYTES = 4 * 1024 * 1024  # what golive reads of one HTTP answer at most, unless http.max_body_bytes


class Http(Section):
    timeout_s: Seconds = 5.0
    verify_tls: bool = True
    max_body_bytes: Annotated[int, Field(gt=0)] = MAX_BODY_BYTES
    health_path: UrlPath = "/health"
    health: HealthAnswers = Field(default_factory=HealthAnswers)
    endpoints: list[Endpoint] = Field(default_factory=list)
    sampling: Sampling = Field(default_factory=Sampling)
    integrations: list[Integration] = Field(default_factory=list)

    _paths = model_validator(mode="before")(_health_paths)

    @property
    def sampling_paths(self) -> tuple[str, ...]:
        """The paths active sampling requests (every user of sampling reads this, never ``sampling.paths``)."""
        return self._sampling_choice()[0]

    @property
    def sampling_paths_key(self) -> str:
        """Which key chose ``sampling_paths``: ``http.sampling.paths``, ``http.endpoints`` or ``http.health_path``."""
        return self._sampling_choice()[1]

    def _sampling_choice(self) -> tuple[tuple[str, ...], str]:
        # Explicit paths win; else the API: GET endpoints that answer a 2xx when they work (POSTs would write,
        # an endpoint expecting only 401 measures the rejection); else, with no such endpoint, the health path.
        if self.sampling.paths is not None:
            return tuple(self.sampling.paths), "http.sampling.paths"
        api = [e.path for e in self.endpoints if e.method == "GET" and any(200 <= s < 300 for s in e.expect)]
        if api:
            return tuple(dict.fromkeys(api)), "http.endpoints"
        return (self.health_path,), "http.health_path"


class Thresholds(Section):
    error_rate: Ratio = 0.001
    p95_ms: Annotated[float, Field(gt=0)] = 200.0
    cert_min_days: Annotated[int, Field(ge=0)] = 30
    replication_lag_bytes: Annotated[int, Field(ge=0)] = 1_048_576
    db_connections_ratio: Ratio = 0.8
    long_transaction_s: Annotated[float, Field(gt=0)] = 300.0
    memory_ratio: Ratio = 0.7
    cpu_ratio: Ratio = 0.6
    log_error_lines: Annotated[int, Field(ge=0)] = 0
    log_tail_lines: Annotated[int, Field(ge=1)] = 1000
    secret_max_age_days: Annotated[float, Field(gt=0)] = 90
    dns_max_ttl_s: Annotated[int, Field(ge=0)] = 60
    image_critical_findings: Annotated[int, Field(ge=0)] = 0
    waiver_notice_days: Annotated[int, Field(ge=0)] = 7  # waivers expiring this soon are flagged
    # Gates 2 and 3
    p95_ratio_to_baseline: Annotated[float, Field(ge=1)] = 1.25  # candidate p95 / live baseline p95
    p95_margin_ms: Annotated[float, Field(ge=0)] = 25.0  # differences below this are noise, whatever the ratio
    error_rate_margin: Ratio = 0.001  # candidate error ratio may exceed the baseline's by this much
    log_error_lines_critical: Annotated[int, Field(ge=1)] = 10  # Gate 3: this many error lines block
    redis_memory_ratio: Ratio = 0.9  # used_memory / maxmemory
    dlq_growth: Annotated[int, Field(ge=0)] = 0  # messages a dead-letter queue may gain during a gate
    synthetic_deadline_s: Annotated[float, Field(gt=0)] = 15.0
    traffic_tolerance: Ratio = 0.15  # observed share of traffic vs the configured weight
    slow_query_ms: Annotated[float, Field(gt=0)] = 500.0
    lock_wait_s: Annotated[float, Field(gt=0)] = 30.0


class SchemaVersion(Section):
    query: Sql
    expect: NonEmpty


class Invariant(Section):
    name: NonEmpty
    sql: Sql


class Integrity(Section):
    tables: list[NonEmpty] = Field(default_factory=list)  # row counts must not drop below Gate 1's baseline
    invariants: list[Invariant] = Field(default_factory=list)
    immutable_tables: list[NonEmpty] = Field(default_factory=list)  # checksums must not change across the cutover


class BusinessMetric(Section):
    """A number the business watches (SQL returning one value), with bounds and a limit on its drop."""

    name: NonEmpty
    sql: Sql
    min: float | None = None
    max: float | None = None
    max_drop_ratio: Ratio | None = None  # relative to the Gate 1 baseline


class Postgres(Section):
    dsn: PostgresDsn
    replicas: list[PostgresDsn] = Field(default_factory=list)
    schema_version: SchemaVersion | None = None
    integrity: Integrity | None = None
    business_metrics: list[BusinessMetric] = Field(default_factory=list)
    timeout_s: Seconds | None = None


class QueuePolicy(Section):
    min_consumers: Annotated[int, Field(ge=0)] | None = None
    max_messages: Annotated[int, Field(ge=0)] | None = None


class RabbitMQ(Section):
    url: AmqpUrl
    management_url: HttpUrl | None = None
    queues: dict[str, QueuePolicy] = Field(default_factory=dict)
    timeout_s: Seconds | None = None


class Redis(Section):
    url: RedisUrl
    min_hit_rate: Ratio | None = None
    min_replicas: Annotated[int, Field(ge=0)] | None = None  # replicas the primary must have online
    timeout_s: Seconds | None = None


class PrometheusQueries(Section):
    """PromQL for the gate metrics; ``{job}`` and ``{window}`` are filled in. Each one unset comes from the preset
    (``prometheus.preset``, or detected from the job's series: golive.promql)."""

    error_ratio: QueryTemplate | None = None
    p95_ms: QueryTemplate | None = None
    request_rate: QueryTemplate | None = None


class Prometheus(Section):
    url: HttpUrl
    jobs: dict[str, NonEmpty] = Field(default_factory=dict)  # environment name -> scrape job
    # environment name -> the scrape target's instance (host:port), to find its job without prometheus.jobs
    instances: dict[str, NonEmpty] = Field(default_factory=dict)
    preset: PresetName | None = None  # the instrumentation library's naming; unset: detected
    alert_rules: list[NonEmpty] = Field(default_factory=list)  # alerting rules that must be loaded
    window: Annotated[StrictStr, Field(pattern=r"^[0-9]+[smh]$")] = "1m"
    queries: PrometheusQueries = Field(default_factory=PrometheusQueries)
    timeout_s: Seconds | None = None


class AlbLoadBalancer(Section):
    kind: Literal["alb"]
    listener_arn: NonEmpty
    target_groups: dict[Literal["blue", "green"], NonEmpty]
    front_url: HttpUrl | None = None  # where users' traffic enters: sampled to see which version answers


class HaproxyLoadBalancer(Section):
    kind: Literal["haproxy"]
    admin_socket: NonEmpty
    backend: NonEmpty
    servers: dict[Literal["blue", "green"], NonEmpty]
    front_url: HttpUrl | None = None


class Backups(Section):
    bucket: NonEmpty
    prefix: StrictStr = ""
    max_age_h: Annotated[float, Field(gt=0)] = 24


class Image(Section):
    repository: NonEmpty
    tag: NonEmpty
    max_size_mb: Annotated[float, Field(gt=0)] = 500


class Dns(Section):
    """A DNS switchover: the Route53 record whose TTL must be low before cutover."""

    zone_id: NonEmpty
    record: NonEmpty


class Aws(Section):
    region: NonEmpty
    endpoint_url: HttpUrl | None = None
    secrets: list[NonEmpty] = Field(default_factory=list)
    backups: Backups | None = None
    image: Image | None = None
    alarms: list[NonEmpty] = Field(default_factory=list)
    log_groups: list[NonEmpty] = Field(default_factory=list)
    dns: Dns | None = None
    timeout_s: Seconds | None = None


class Synthetic(Section):
    """The synthetic end-to-end transaction of Gate 2, through the candidate's API.

    golive POSTs ``body`` (its ``{marker}`` placeholders become a golive-owned name) to ``post_path``, reads
    the new id from ``id_field`` of the answer, waits until ``sql`` (``%(id)s`` bound) returns ``done_value``
    and ``get_path`` answers 200, then removes it through ``delete_path``.
    """

    post_path: UrlPath
    body: dict[str, Any] = Field(default_factory=dict)
    id_field: NonEmpty = "id"
    sql: Sql
    done_value: StrictStr = "done"
    get_path: UrlPath
    delete_path: UrlPath | None = None


class Security(Section):
    public_urls: list[HttpUrl] = Field(default_factory=list)  # must be https and send HSTS
    source_paths: list[NonEmpty] = Field(default_factory=list)  # scanned for hard-coded secrets


class Deploy(Section):
    """The host the deployment runs from, and what must be on it."""

    host: NonEmpty = "local://"
    commands: list[NonEmpty] = Field(default_factory=list)
    files: list[NonEmpty] = Field(default_factory=list)


class Waiver(Section):
    check: NonEmpty
    reason: NonEmpty
    approved_by: NonEmpty
    expires: date
    covers_unreachable: bool = False  # also waive the check when it could not reach its component


class Attestations(Section):
    file: NonEmpty = "reports/attestations.jsonl"
    max_age_h: Annotated[float, Field(gt=0)] = 24


def _path_or_mapping(value: Any) -> Any:
    return {"file": value} if isinstance(value, str) else value


class Sustained(Section):
    """A condition that fires once it has held for ``for_s`` seconds."""

    for_s: Annotated[float, Field(ge=0)] = 0


class Trigger(Sustained):
    above: Annotated[float, Field(ge=0)] | None = None


class RollbackTriggers(Section):
    error_rate: Trigger | None = None  # above: a ratio
    p95_ms: Trigger | None = None  # above: milliseconds
    # On/off conditions have no limit: an `above` there would be ignored, so it is refused.
    database_down: Sustained | None = None
    crash: Sustained | None = None  # the app's process gone or its health failing
    memory: Trigger | None = None  # above: share of the host's memory used by the app


class EnvironmentSection(Section):
    url: HttpUrl
    role: Literal["candidate", "live"] | None = None
    version: NonEmpty | None = None
    host: NonEmpty = "local://"
    process: NonEmpty | None = None
    log_file: NonEmpty | None = None
    env_file: NonEmpty | None = None  # the variables staged for the app on its host
    required_env: list[NonEmpty] = Field(default_factory=list)
    # Per-environment service sections, merged over the shared ones and validated in ``_environment_view``.
    http: dict[str, Any] | None = None
    postgres: dict[str, Any] | None = None
    rabbitmq: dict[str, Any] | None = None
    redis: dict[str, Any] | None = None
    prometheus: dict[str, Any] | None = None
    aws: dict[str, Any] | None = None


class Document(Section):
    release: Release
    environments: Annotated[dict[str, EnvironmentSection], Field(min_length=1)]
    http: Http = Field(default_factory=Http)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    postgres: Postgres | None = None
    rabbitmq: RabbitMQ | None = None
    redis: Redis | None = None
    prometheus: Prometheus | None = None
    load_balancer: Annotated[AlbLoadBalancer | HaproxyLoadBalancer, Field(discriminator="kind")] | None = None
    aws: Aws | None = None
    synthetic: Synthetic | None = None
    security: Security | None = None
    deploy: Deploy | None = None
    # A path, or {file: PATH, max_age_h: HOURS}; relative paths are relative to the configuration file.
    attestations: Annotated[
        Attestations, BeforeValidator(_path_or_mapping, json_schema_input_type=NonEmpty | Attestations)
    ] = Field(default_factory=Attestations)
    waivers: list[Waiver] = Field(default_factory=list)
    rollback_triggers: RollbackTriggers | None = None


_SECTION_MODELS: dict[str, type[Section]] = {
    "http": Http,
    "postgres": Postgres,
    "rabbitmq": RabbitMQ,
    "redis": Redis,
    "prometheus": Prometheus,
    "aws": Aws,
}


# --- the validated result ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentView:
    """One environment with every service section resolved (shared section, overridden per environment)."""

    name: str
    role: str | None
    url: str
    expected_version: str | None
    host: str
    process: str | None
    log_file: str | None
    env_file: str | None
    required_env: tuple[str, ...]
    http: Http
    postgres: Postgres | None
    rabbitmq: RabbitMQ | None
    redis: Redis | None
    prometheus: Prometheus | None
    aws: Aws | None

    def timeout_s(self, section: str) -> float:
        """The network timeout for a component: its own ``timeout_s``, else ``http.timeout_s``."""
        own = getattr(getattr(self, section, None), "timeout_s", None)
        return float(own if own is not None else self.http.timeout_s)

    def max_timeout_s(self) -> float:
        """The longest network timeout of any component configured for this environment (what bounds of a
        dashboard frame or a watch reading are made of)."""
        sections = ("postgres", "rabbitmq", "redis", "prometheus", "aws")
        return max([self.timeout_s(name) for name in sections if getattr(self, name, None) is not None]
                   + [self.http.timeout_s])  # fmt: skip


@dataclass(frozen=True)
class Settings:
    path: Path
    source: str
    document: Document
    environments: dict[str, EnvironmentView]
    masker: Masker = field(default_factory=Masker)

    @property
    def release(self) -> Release:
        return self.document.release

    @property
    def attestations_path(self) -> Path:
        return self.path.parent / self.document.attestations.file

    def configured(self, view: EnvironmentView, key: str) -> bool:
        """Whether the configuration gives ``key`` (a path of ``key_paths``) for the environment ``view``.

        Service sections (``postgres.schema_version``) are the environment's resolved ones, ``environments[]``
        is this environment (``environments[].log_file``), the rest the document's (``synthetic``); ``[]`` is
        any item of a list or value of a mapping (``rabbitmq.queues[].min_consumers``). Absent, None and empty
        collections are not configured; a path that names no configuration key raises ValueError (a typo must
        not read as "not configured").
        """
        if key not in key_paths():
            raise ValueError(f"{key!r} names no configuration key")
        segments = key.replace("[]", ".[]").split(".")
        root: Any = view if segments[0] in SERVICE_SECTIONS else self.document
        if segments[:2] == ["environments", "[]"]:
            root, segments = self.document.environments[view.name], segments[2:]
        return _given(root, segments)

    def environment_by_role(self, role: str) -> EnvironmentView | None:
        matches = [view for view in self.environments.values() if view.role == role]
        return matches[0] if matches else None

    def select(self, name: str | None) -> EnvironmentView:
        """The environment under test: ``--env NAME``, else the one whose role is ``candidate``."""
        if name is not None:
            if name not in self.environments:
                known = ", ".join(sorted(self.environments))
                raise ConfigError(f"{self.path.name}: --env {name}: no such environment (have: {known})")
            return self.environments[name]
        candidate = self.environment_by_role("candidate")
        if candidate is None:
            raise ConfigError(
                f"{self.path.name}: environments: no environment has role candidate; pass --env NAME"
            )
        return candidate


def _given(value: Any, segments: list[str]) -> bool:
    if value is None or (isinstance(value, str | list | tuple | dict) and not value):
        return False
    if not segments:
        return True
    head, rest = segments[0], segments[1:]
    if head == "[]":
        items = value.values() if isinstance(value, Mapping) else value
        return any(_given(item, rest) for item in items)
    return _given(value.get(head) if isinstance(value, Mapping) else getattr(value, head, None), rest)


# --- the keys ----------------------------------------------------------------------------------------


@cache
def key_paths() -> tuple[str, ...]:
    """Every key path the configuration model accepts, derived from it (nothing hard-coded): sections and their
    keys (``postgres.schema_version.query``), ``[]`` for each item of a list or value of a mapping
    (``environments[].url``, ``rabbitmq.queues[].min_consumers``), both load balancer kinds. A per-environment
    service section is one path (``environments[].postgres``): its keys are the shared section's."""
    found: dict[str, None] = {}
    _walk(Document, "", found)
    return tuple(found)


def _walk(annotation: Any, path: str, found: dict[str, None]) -> None:
    origin = get_origin(annotation)
    if origin is Annotated:
        _walk(get_args(annotation)[0], path, found)
    elif origin in (Union, UnionType):
        for member in get_args(annotation):
            if member is not NoneType:
                _walk(member, path, found)
    elif origin in (list, tuple, set, frozenset):
        _walk(get_args(annotation)[0], f"{path}[]", found)
    elif origin is dict:
        _walk(get_args(annotation)[1], f"{path}[]", found)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            key = f"{path}.{name}" if path else name
            found[key] = None
            if not (annotation is EnvironmentSection and name in SERVICE_SECTIONS):
                _walk(info.annotation, key, found)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file (for editors: yaml-language-server and the like)."""
    schema = Document.model_json_schema()
    defs = schema["$defs"]
    # A per-environment section is merged over the shared one: the same keys, none of them required.
    overrides = defs["EnvironmentSection"]["properties"]
    for section, model in _SECTION_MODELS.items():
        name = f"{model.__name__}Override"
        defs[name] = {key: value for key, value in defs[model.__name__].items() if key != "required"}
        defs[name]["title"] = f"{section}, for this environment (merged over the shared section)"
        overrides[section] = {"anyOf": [{"$ref": f"#/$defs/{name}"}, {"type": "null"}], "default": None}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "golive configuration"}


def given_paths(model: BaseModel, path: str = "") -> set[str]:
    """The key paths a validated document (or section) was given explicitly, in ``key_paths`` notation."""
    found: set[str] = set()
    for name in model.model_fields_set:
        key = f"{path}.{name}" if path else name
        found.add(key)
        if not (isinstance(model, EnvironmentSection) and name in SERVICE_SECTIONS):
            found |= _given_in(getattr(model, name), key)
    return found


def _given_in(value: Any, path: str) -> set[str]:
    if isinstance(value, BaseModel):
        return given_paths(value, path)
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, list | tuple) else ()
    found: set[str] = set()
    for item in items:
        found |= _given_in(item, f"{path}[]")
    return found


# --- loading -----------------------------------------------------------------------------------------


def resolve_path(cli_value: str | None, environ: Mapping[str, str], cwd: Path) -> tuple[Path, str]:
    """Where the configuration comes from: ``--golive-config``, else ``$GOLIVE_CONFIG``, else ./golive.yaml."""
    if cli_value:
        return (cwd / cli_value), "--golive-config"
    if environ.get(CONFIG_ENV_VAR):
        return (cwd / environ[CONFIG_ENV_VAR]), f"${CONFIG_ENV_VAR}"
    return (cwd / DEFAULT_CONFIG), "default"


# What a configuration file may hold. Real files are a few hundred values a few levels deep; YAML aliases can make
# a file of a few lines expand to billions of values (an "alias bomb"), and deep nesting exhausts the parser's
# recursion. Anchors and aliases stay allowed (they are how YAML shares a block), bounded by what they expand to.
MAX_CONFIG_CHARS = 1_048_576
MAX_DEPTH = 64
MAX_VALUES = 100_000


class _Refused(yaml.YAMLError):
    """The file is valid YAML that golive will not read (too big, too deep, a key that is not a plain value)."""

    def __init__(self, loc: tuple[Any, ...], problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.loc, self.problem, self.mark = loc, problem, mark


class _ConfigLoader(yaml.SafeLoader):
    """A safe loader that bounds what a file expands to and refuses duplicate and non-scalar keys.

    While composing it counts every value, an alias counting as all the values it stands for, and refuses a
    document above ``MAX_VALUES`` of them, nested deeper than ``MAX_DEPTH``, or with an alias inside the very
    block it names; errors carry the key path where they happened.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._loc: list[Any] = []
        self._values = 0
        self._sizes: dict[int, int] = {}  # id(node) -> the values it expands to, once it is composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        part = _loc_part(parent, index)
        if part is not None:
            self._loc.append(part)
        try:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                target = self.anchors.get(event.anchor)  # an undefined alias is the composer's own error
                if target is not None:
                    size = self._sizes.get(id(target))
                    if size is None:
                        self._refuse(f"alias *{event.anchor} refers to the block that contains it", event)
                    self._count(size, event)
                node = super().compose_node(parent, index)
            else:
                event = self.peek_event()
                if len(self._loc) >= MAX_DEPTH:
                    self._refuse(f"nested deeper than {MAX_DEPTH} levels", event)
                before = self._values
                node = super().compose_node(parent, index)
                self._sizes[id(node)] = self._values - before + 1
                self._count(1, event)
            if isinstance(parent, yaml.MappingNode) and index is None and not isinstance(node, yaml.ScalarNode):
                self._refuse("a key is a list or mapping; keys are plain names", event)
            assert node is not None  # an event always composes to a node
            return node
        finally:
            if part is not None:
                self._loc.pop()

    def _count(self, values: int, event: yaml.Event) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            self._refuse(f"more than {MAX_VALUES} values once aliases are expanded", event)

    def _refuse(self, problem: str, event: yaml.Event) -> NoReturn:
        raise _Refused(tuple(self._loc), problem, event.start_mark)


def _loc_part(parent: yaml.Node | None, index: Any) -> Any:
    """The key path segment of the node composed at ``index`` of ``parent`` (None: the document, or a key)."""
    if isinstance(index, int):
        return index
    if isinstance(index, yaml.ScalarNode):
        return index.value
    return None


def _construct_mapping(loader: _ConfigLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # The keys written here, before merge keys (<<: *base) bring theirs in: those a written key overrides.
    seen: set[Any] = set()
    for key_node, _value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        mark = key_node.start_mark
        try:
            duplicate = key in seen
        except TypeError:  # unhashable: the composer refuses list and mapping keys, this is the last guard
            raise yaml.constructor.ConstructorError(None, None, "a key is not a plain value", mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_ConfigLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$\{(?P<bad>[^}]*)\}?")


def format_location(loc: tuple[Any, ...]) -> str:
    """('postgres', 'replicas', 0) -> 'postgres.replicas[0]'; odd keys are quoted: queues["agent.tasks"]."""
    text = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself was invalid"
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(part)):
            text += ("." if text else "") + str(part)
        else:
            text += f'["{part}"]'
    return text or "(top level)"


def _interpolate(value: Any, loc: tuple[Any, ...], environ: Mapping[str, str], masker: Masker, name: str) -> Any:
    if isinstance(value, dict):
        return {key: _interpolate(item, (*loc, key), environ, masker, name) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, (*loc, index), environ, masker, name) for index, item in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("bad") is not None or match.group("name") is None:
            raise ConfigError(f"{name}: {format_location(loc)}: malformed ${{...}} reference")
        var = match.group("name")
        if var in environ:
            result = environ[var]
        elif match.group("default") is not None:
            result = match.group("default")
        else:
            raise ConfigError(f"{name}: {format_location(loc)}: environment variable {var} is not set")
        if is_secret_env_name(var):
            masker.add(result)
        return result

    return _VAR.sub(substitute, value)


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if isinstance(error.get("input"), _Mistyped):
        return str(error["input"].expected)
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in {"model_type", "dict_type"}:
        return "expected a mapping of keys"
    if kind in {"string_type", "str_type"}:
        return "expected a string (quote values such as versions: \"2.1.0\")"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _validation_error(name: str, error: ValidationError, prefix: tuple[Any, ...] = ()) -> ConfigError:
    # Inputs only to recognise a _Mistyped: never printed (a value may be a password).
    problems = error.errors(include_url=False)
    # A misspelt key also leaves the real one missing: name the misspelling first, it is what to fix.
    problems.sort(key=lambda problem: problem["type"] != "extra_forbidden")
    first = problems[0]
    loc = tuple(first["loc"])
    if loc[:1] == ("load_balancer",) and loc[1:2] in {("alb",), ("haproxy",)}:
        loc = loc[:1] + loc[2:]  # pydantic names the union member; users never wrote it
    more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
    return ConfigError(f"{name}: {format_location((*prefix, *loc))}: {_describe(first)}{more}")


def _merge(shared: Mapping[str, Any] | None, override: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(shared or {})
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _environment_view(
    name: str, env_name: str, env: EnvironmentSection, document: Document, raw: Mapping[str, Any]
) -> EnvironmentView:
    sections: dict[str, Any] = {}
    for section in SERVICE_SECTIONS:
        override = getattr(env, section)
        shared = getattr(document, section)
        if override is None:
            sections[section] = shared
            continue
        merged = _merge(raw.get(section) if isinstance(raw.get(section), Mapping) else None, override)
        try:
            sections[section] = TypeAdapter(_SECTION_MODELS[section]).validate_python(merged)
        except ValidationError as error:
            raise _validation_error(name, error, ("environments", env_name, section)) from None
    if env.version is not None:
        expected: str | None = env.version
    elif env.role == "candidate":
        expected = document.release.version
    elif env.role == "live":
        expected = document.release.previous
    else:
        expected = None
    return EnvironmentView(
        name=env_name,
        role=env.role,
        url=env.url.rstrip("/"),
        expected_version=expected,
        host=env.host,
        process=env.process,
        log_file=env.log_file,
        env_file=env.env_file,
        required_env=tuple(env.required_env),
        **sections,
    )


def _collect_secrets(views: Mapping[str, EnvironmentView], masker: Masker) -> None:
    for view in views.values():
        urls: list[str] = []
        if view.postgres:
            urls += [view.postgres.dsn, *view.postgres.replicas]
        if view.rabbitmq:
            urls.append(view.rabbitmq.url)
            if view.rabbitmq.management_url:
                urls.append(view.rabbitmq.management_url)
        if view.redis:
            urls.append(view.redis.url)
        if view.prometheus:
            urls.append(view.prometheus.url)
        urls.append(view.url)
        # Paths may carry credentials in their query strings (?access_token=...), integrations in their URLs.
        http = view.http
        urls += [http.health_path, http.health.ready_path or "", http.health.version_path or "",
                 *(e.path for e in http.endpoints), *http.sampling_paths, *(i.url for i in http.integrations)]
        masker.add(*(secret for url in urls for secret in secrets_of(url)))


def parse_settings(text: str, path: Path, source: str, environ: Mapping[str, str]) -> Settings:
    """Validate configuration text; raise ConfigError with one line naming the file and key path."""
    name = path.name
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigError(f"{name}: (top level): the file is larger than {MAX_CONFIG_CHARS} characters")
    try:
        raw = yaml.load(text, Loader=_ConfigLoader)
    except _Refused as error:
        line = f" (line {error.mark.line + 1})" if error.mark else ""
        where = format_location(error.loc[:8]) + ("..." if len(error.loc) > 8 else "")
        raise ConfigError(f"{name}: {where}: {error.problem}{line}") from None
    except RecursionError:  # the bounds above should make this unreachable: still one line, never a traceback
        raise ConfigError(f"{name}: (top level): nested too deeply") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        raise ConfigError(f"{name}: {where}: not valid YAML ({error.problem})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{name}: not valid YAML ({type(error).__name__})") from None
    if raw is None:
        raise ConfigError(f"{name}: (top level): the file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: (top level): expected a mapping of sections, got {type(raw).__name__}")
    masker = Masker()
    raw = _interpolate(raw, (), environ, masker, name)
    try:
        document = Document.model_validate(raw)
    except ValidationError as error:
        raise _validation_error(name, error) from None

    for role in ("candidate", "live"):
        holders = [env_name for env_name, env in document.environments.items() if env.role == role]
        if len(holders) > 1:
            raise ConfigError(
                f"{name}: environments: more than one environment has role {role} ({', '.join(holders)})"
            )
    views = {
        env_name: _environment_view(name, env_name, env, document, raw)
        for env_name, env in document.environments.items()
    }
    _collect_secrets(views, masker)
    return Settings(path=path, source=source, document=document, environments=views, masker=masker)


def load_settings(path: Path, source: str, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    if not path.is_file():
        hint = "" if source != "default" else f" (pass --golive-config PATH or set ${CONFIG_ENV_VAR})"
        raise ConfigError(f"{path}: configuration file not found{hint}")
    try:
        if path.stat().st_size > 4 * MAX_CONFIG_CHARS:  # not even read: UTF-8 takes at most 4 bytes a character
            raise ConfigError(f"{path}: (top level): the file is larger than {MAX_CONFIG_CHARS} characters")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration ({type(error).__name__})") from None
    return parse_settings(text, path, source, environ)
