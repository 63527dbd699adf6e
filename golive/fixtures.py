"""Fixtures for checks: the environments under test and a client for each backing service.

Every client comes from a probe (``golive.probes``) with the configured timeout. A section the configuration
leaves out makes the checks that need it skip with ``not configured``; a configured component that cannot be
reached makes them error with a message naming the component and endpoint, credentials masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from golive import attestations as book
from golive import facts, human_items
from golive.config import EnvironmentView, Settings
from golive.run import LATENCY_PROPERTY, SEVERITY_OVERRIDE, gate_run
from golive.verdict import NOT_CONFIGURED, Severity

if TYPE_CHECKING:  # httpx (with click and rich) loads with an environment's first client, not with the plugin
    import httpx

# Probes import their client libraries (boto3, pika, psycopg, redis, httpx), and golive.baseline the metrics
# and HTTP probes: they and testinfra are imported when a fixture first needs them (the function-level imports
# below, none of which dodges an import cycle), so loading the plugin and `golive checks` stays cheap.


def not_configured(what: str) -> None:
    """Skip a check because the configuration leaves its component out: the only skip a gate accepts."""
    __tracebackhide__ = True
    pytest.skip(f"{NOT_CONFIGURED}: {what}")


def fail_as_warning(request: pytest.FixtureRequest, message: str) -> NoReturn:
    """Fail this check at warning severity whatever its markers say.

    For a precondition a critical check cannot meet by itself, such as a Gate 1 baseline nobody captured: the
    check could not compare, which asks for a review (REVIEW), not a NO-GO, and never for a silent pass.
    """
    __tracebackhide__ = True
    request.node.stash[SEVERITY_OVERRIDE] = Severity.WARNING.value
    pytest.fail(message, pytrace=False)


@dataclass
class Environment:
    """One deployment environment (blue, green, ...) as checks see it."""

    view: EnvironmentView
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def name(self) -> str:
        return self.view.name

    @property
    def role(self) -> str | None:
        return self.view.role

    @property
    def url(self) -> str:
        return self.view.url

    @property
    def expected_version(self) -> str | None:
        return self.view.expected_version

    @cached_property
    def http(self) -> httpx.Client:
        """An httpx client with this environment's base URL, the configured timeout and TLS verification."""
        from golive.probes import http as http_probe

        client = http_probe.client_for(self.view.url, self.view.http)
        self._closers.append(client.close)
        return client

    @cached_property
    def host(self) -> Any:
        """A testinfra host for this environment (``local://`` unless configured)."""
        import testinfra

        return testinfra.get_host(self.view.host)

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


@dataclass
class _Session:
    settings: Settings
    selected: EnvironmentView
    environments: dict[str, Environment] = field(default_factory=dict)

    def environment(self, view: EnvironmentView) -> Environment:
        if view.name not in self.environments:
            self.environments[view.name] = Environment(view)
        return self.environments[view.name]


@pytest.fixture(scope="session")
def golive_session(request: pytest.FixtureRequest) -> Iterator[_Session]:
    run = gate_run(request.config)
    if run is None or run.settings is None or run.environment is None:
        pytest.fail("golive fixtures need a gate run: a validation under the validations directory", pytrace=False)
    session = _Session(settings=run.settings, selected=run.environment)
    yield session
    for environment in session.environments.values():
        environment.close()


@pytest.fixture(scope="session")
def golive_settings(golive_session: _Session) -> Settings:
    """The validated configuration."""
    return golive_session.settings


@pytest.fixture(scope="session")
def target(golive_session: _Session) -> Environment:
    """The environment under test: ``--env NAME``, else the candidate."""
    return golive_session.environment(golive_session.selected)


def _by_role(session: _Session, role: str) -> Environment:
    view = session.settings.environment_by_role(role)
    if view is None:
        not_configured(f"no environment has role {role}")
    assert view is not None
    return session.environment(view)


def _by_name(session: _Session, name: str) -> Environment:
    view = session.settings.environments.get(name)
    if view is None:
        not_configured(f"no environment named {name}")
    assert view is not None
    return session.environment(view)


@pytest.fixture(scope="session")
def candidate(golive_session: _Session) -> Environment:
    """The environment receiving the new release (role: candidate)."""
    return _by_role(golive_session, "candidate")


@pytest.fixture(scope="session")
def live(golive_session: _Session) -> Environment:
    """The environment serving production now (role: live)."""
    return _by_role(golive_session, "live")


@pytest.fixture(scope="session")
def blue(golive_session: _Session) -> Environment:
    return _by_name(golive_session, "blue")


@pytest.fixture(scope="session")
def green(golive_session: _Session) -> Environment:
    return _by_name(golive_session, "green")


@pytest.fixture(scope="session")
def target_host(target: Environment) -> Any:
    """The testinfra host of the environment under test."""
    return target.host


# --- backing services of the environment under test ---------------------------------------------------


@pytest.fixture(scope="session")
def postgres(target: Environment) -> Iterator[Any]:
    """A read-only psycopg connection to the target's PostgreSQL primary."""
    section = target.view.postgres
    if section is None:
        not_configured("postgres")
    assert section is not None
    from golive.probes import postgres as postgres_probe

    connection = postgres_probe.connect(section.dsn, target.view.timeout_s("postgres"))
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def rabbitmq(target: Environment) -> Iterator[Any]:
    """A pika blocking connection to the target's RabbitMQ."""
    section = target.view.rabbitmq
    if section is None:
        not_configured("rabbitmq")
    assert section is not None
    from golive.probes import rabbitmq as rabbitmq_probe

    connection = rabbitmq_probe.connect(section.url, target.view.timeout_s("rabbitmq"))
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture(scope="session")
def rabbitmq_management(target: Environment) -> Any:
    """The RabbitMQ management HTTP API of the target, with the broker's credentials.

    ``rabbitmq.management_url``, else the broker's host on the management plugin's default port: a configured
    broker's management checks always look (and fail, saying which key to set, when nothing answers there).
    """
    from golive.probes import rabbitmq as rabbitmq_probe

    section = target.view.rabbitmq
    if section is None:
        not_configured("rabbitmq")
    assert section is not None
    return rabbitmq_probe.management(section.url, section.management_url, target.view.timeout_s("rabbitmq"))


@pytest.fixture(scope="session")
def redis(target: Environment) -> Iterator[Any]:
    """A redis client for the target's cache."""
    section = target.view.redis
    if section is None:
        not_configured("redis")
    assert section is not None
    from golive.probes import redis as redis_probe

    client = redis_probe.connect(section.url, target.view.timeout_s("redis"))
    yield client
    client.close()


@dataclass(frozen=True)
class AwsClients:
    """boto3 clients honouring the configured region, endpoint_url and timeout."""

    region: str
    endpoint_url: str | None
    timeout_s: float

    def client(self, service: str) -> Any:
        from golive.probes import aws as aws_probe

        return aws_probe.client(service, self.region, self.endpoint_url, self.timeout_s)


@pytest.fixture(scope="session")
def aws(target: Environment) -> AwsClients:
    section = target.view.aws
    if section is None:
        not_configured("aws")
    assert section is not None
    return AwsClients(section.region, section.endpoint_url, target.view.timeout_s("aws"))


@pytest.fixture(scope="session")
def prometheus(target: Environment) -> Any:
    """The Prometheus HTTP API watching the target."""
    from golive.probes.prometheus import Prometheus

    section = target.view.prometheus
    if section is None:
        not_configured("prometheus")
    assert section is not None
    return Prometheus(section.url, target.view.timeout_s("prometheus"))


@pytest.fixture(scope="session")
def load_balancer(golive_settings: Settings) -> Any:
    """The load balancer section (ALB or HAProxy) of the configuration."""
    section = golive_settings.document.load_balancer
    if section is None:
        not_configured("load_balancer")
    return section


# --- the Gate 1 baseline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate1Baseline:
    """The baseline Gate 1 saved for this release from the live environment of this configuration (``data`` None:
    never captured, or ``path`` None: no environment has role live). ``legacy`` is a baseline file of the release
    from before baselines had identities, if one exists: never used, only named."""

    path: Path | None
    data: dict[str, Any] | None
    identity: dict[str, Any] | None = None
    legacy: Path | None = None

    @property
    def captured_at(self) -> str:
        return str((self.data or {}).get("captured_at") or "an unknown time")

    @property
    def where(self) -> str:
        """Which baseline, for messages: ``/reports/baseline-2.1.0-<key>.json (captured 2026-...)``."""
        return f"{self.path} (captured {self.captured_at})"

    @property
    def cited(self) -> str:
        """Which baseline, for the end of a message in parentheses: ``baseline /reports/... , captured 2026-...``."""
        return f"baseline {self.path}, captured {self.captured_at}"

    def figures(self, request: pytest.FixtureRequest, key: str) -> dict[str, Any]:
        """One section of the baseline (``row_counts``, ``table_checksums``...). A missing baseline, or one
        captured before that section was configured, fails the check at warning severity, saying what to do.
        The check's facts say which baseline it used."""
        __tracebackhide__ = True
        from golive import baseline  # late: it loads the probes (see the top of this module)

        if self.path is None or self.identity is None:
            fail_as_warning(request, "no environment has role live, so Gate 1 captured no baseline to compare with")
        if self.data is None:
            whose = baseline.describe(self.identity)
            if self.legacy is not None:
                fail_as_warning(
                    request,
                    f"no Gate 1 baseline of {whose} at {self.path}; {self.legacy} was saved by an earlier golive "
                    "without the live environment's identity, so it is not used: run Gate 1 again",
                )
            fail_as_warning(request, f"no Gate 1 baseline of {whose} at {self.path}: run Gate 1 first")
        facts.note("baseline", {"path": str(self.path), "captured_at": self.data.get("captured_at"), **self.identity})
        section = self.data.get(key)
        if not isinstance(section, dict):
            fail_as_warning(request, f"the Gate 1 baseline at {self.where} has no {key}: run Gate 1 again")
        return dict(section)


@pytest.fixture(scope="session")
def gate1_baseline(request: pytest.FixtureRequest, golive_settings: Settings) -> Gate1Baseline:
    """The baseline Gate 1 captured for this release from the live environment (role live) as this configuration
    describes it, in the reports directory."""
    from golive import baseline  # late: it loads the probes (see the top of this module)

    run = gate_run(request.config)
    assert run is not None
    live = golive_settings.environment_by_role("live")
    if live is None:
        return Gate1Baseline(path=None, data=None)
    reports_dir, release = run.reports_dir, golive_settings.release.version
    identity = baseline.identity(live)
    legacy = baseline.legacy_path_for(reports_dir, release)
    return Gate1Baseline(
        path=baseline.path_for(reports_dir, release, identity),
        data=baseline.load(reports_dir, release, identity, golive_settings.masker),
        identity=identity,
        legacy=legacy if legacy.exists() else None,
    )


# --- attestations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttestationBook:
    """The attestations recorded for this release, and the rule an item must meet to count as signed."""

    path: str
    release: str
    max_age_h: float
    records: tuple[Any, ...]

    def assert_signed(self, item: Any) -> None:
        __tracebackhide__ = True
        status = book.standing(item, self.records, self.release, self.max_age_h)
        assert status.valid is not None, f"{item.id}: {status.reason} [{self.path}]"


@pytest.fixture(scope="session")
def attestations(golive_settings: Settings) -> AttestationBook:
    """The attestation records (a malformed file makes every attestation check error, never pass)."""
    path = golive_settings.attestations_path
    records = book.read(path)
    return AttestationBook(
        path=str(path), release=golive_settings.release.version,
        max_age_h=golive_settings.document.attestations.max_age_h, records=tuple(records),
    )


def attestation_params(module_file: str) -> list[Any]:
    """One parameter per human item beside a validations module (``attestation_params(__file__)`` in
    ``test_team.py`` reads ``team.checklist.yaml``), marked critical where the runbook blocks on it."""
    return [
        pytest.param(item, id=item.id, marks=[pytest.mark.critical] if item.critical else [])
        for item in human_items.for_module(module_file)
    ]


# --- pictures for the report -------------------------------------------------------------------------


@pytest.fixture
def latency_picture(request: pytest.FixtureRequest) -> Callable[[str, dict[str, Any]], None]:
    """Hand a measured latency distribution to the gate report: ``latency_picture("green (baseline)", sample)``.

    ``sample`` carries p50_ms, p95_ms, p99_ms and, where known, source, requests and error_ratio. It travels in
    the check's report (``user_properties``), so it reaches the report under xdist too.
    """

    def add(label: str, sample: dict[str, Any]) -> None:
        keys = ("p50_ms", "p95_ms", "p99_ms", "source", "requested", "completed", "error_ratio")
        request.node.user_properties.append(
            (LATENCY_PROPERTY, {"label": label, **{key: sample.get(key) for key in keys}})
        )

    return add
