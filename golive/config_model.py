"""The configuration's model: its sections (pydantic models, strict, no unknown key) and value types.

golive.config reads a file into these and re-exports the ones other modules use: import them from
``golive.config``. Validators raise ``ValueError`` with a message that never carries the offending value.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictStr,
    model_validator,
)

from golive.config_commands import Cutover, Hooks, Serve
from golive.config_types import (
    AmqpUrl,
    HttpUrl,
    NonEmpty,
    PostgresDsn,
    QueryTemplate,
    Ratio,
    RedisUrl,
    Seconds,
    Section,
    Sql,
    UrlPath,
)
from golive.health import valid_pointer
from golive.promql import PresetName

SERVICE_SECTIONS = ("http", "postgres", "rabbitmq", "redis", "prometheus", "aws")


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


class EvidenceSigner(Section):
    name: NonEmpty  # who signs: a person or a CI job
    role: NonEmpty  # the role they sign as (Release Manager, Deployment Lead, ...)


class TrustedKey(Section):
    """A public key a verifier trusts (`golive keys init` prints the entry): a PEM file, or keyid and hex."""

    name: NonEmpty
    role: NonEmpty
    public_key: NonEmpty | None = None  # a PEM file, relative to the configuration file
    keyid: NonEmpty | None = None
    public: NonEmpty | None = None  # the Ed25519 public key in hex

    @model_validator(mode="after")
    def _one_key(self) -> TrustedKey:
        if (self.public_key is None) == (self.public is None):
            raise ValueError("give public_key (a PEM file) or public (hex, with its keyid), not both or neither")
        return self


class Evidence(Section):
    """Signed, chained decision records and attestations (golive/evidence.py); no key: unsigned, as before."""

    key: NonEmpty | None = None  # the signer's Ed25519 private key (mode 0600), never inside reports/
    signer: EvidenceSigner | None = None  # required with key
    trusted_keys: list[TrustedKey] = Field(default_factory=list)  # what `golive verify` accepts

    @model_validator(mode="after")
    def _signer_with_key(self) -> Evidence:
        if self.key is not None and self.signer is None:
            raise ValueError("key: needs signer: {name: ..., role: ...}")
        return self


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
    serve: Serve | None = None
    cutover: Cutover | None = None
    hooks: Hooks | None = None
    evidence: Evidence | None = None


_SECTION_MODELS: dict[str, type[Section]] = {
    "http": Http,
    "postgres": Postgres,
    "rabbitmq": RabbitMQ,
    "redis": Redis,
    "prometheus": Prometheus,
    "aws": Aws,
}
