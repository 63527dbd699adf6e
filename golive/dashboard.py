"""``golive dashboard``: the runbook's health panels for one or both environments, on one screen.

Every value comes from the same probes as the checks and is judged against the same thresholds; a probe
that cannot measure shows as down (never as healthy). Panels are measured side by side, each probe bounded
by its timeout, so a hung dependency cannot freeze a frame. One frame exits like a gate: 0 when everything is
fine, 1 when something asks for review, 2 when something blocks.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO, cast

from golive import judgements
from golive.config import EnvironmentView, QueuePolicy, Settings, Thresholds
from golive.health import HealthReading
from golive.judgements import Judgement
from golive.masking import MaskingStream
from golive.probes.bounded import Overdue, side_by_side
from golive.probes.errors import ProbeError

if TYPE_CHECKING:
    from golive.probes.host import Usage
    from golive.probes.sampling import Sample

OK, WARN, FAIL, OFF = "ok", "warn", "FAIL", "-"
# Requests per frame for the performance panel: enough for a p95, bounded in time.
SAMPLE_REQUESTS = 40
SAMPLE_CONCURRENCY = 5
SAMPLE_MAX_S = 3.0


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    status: str = OK  # ok, warn, FAIL, or - (not configured)
    critical: bool = False  # a FAIL here blocks, as a critical check would

    @property
    def code(self) -> int:
        if self.status == FAIL:
            return 2 if self.critical else 1
        return 1 if self.status == WARN else 0


@dataclass
class Panel:
    title: str
    rows: list[Row] = field(default_factory=list)

    @property
    def code(self) -> int:
        return max((row.code for row in self.rows), default=0)


@dataclass
class Frame:
    environment: str
    panels: list[Panel]
    taken_s: float

    @property
    def code(self) -> int:
        return max((panel.code for panel in self.panels), default=0)


# --- Rows from readings: pure, so a test can hold them against the checks' verdicts ----------------------------

def judged(label: str, judgement: Judgement, critical: bool, value: str | None = None) -> Row:
    """A row showing a judgement, ``critical`` as the check that asserts it is. Its status is what the gate would
    make of it: a failure blocks (FAIL) where the check is critical and asks for a review (warn) where not."""
    blocks = judgement.verdict == judgements.FAIL and critical
    status = OK if judgement.ok else FAIL if blocks else WARN
    return Row(label, judgement.seen if value is None else value, status, critical)


def replay_row(endpoint: str, pause_state: str, waiting_bytes: int) -> Row:
    """One look at a standby's replay: paused shows as the check's REVIEW. A stall needs two looks: the check's."""
    return judged(f"standby {endpoint}", judgements.standby_replay(pause_state, waiting_bytes), critical=False)


def application_rows(health: HealthReading, expected: str | None) -> list[Row]:
    rows = [judged("health", judgements.health(health), critical=True)]
    rows.append(Row("version", f"{health.version} (expected {expected or '?'})",
                    OK if expected and health.version == expected else FAIL, critical=True))
    rows.append(Row("uptime", "?" if health.uptime is None else f"{health.uptime:.0f} s"))
    for name, dependency in sorted(health.dependencies.items()):
        rows.append(Row(f"sees {name}", dependency.text, OK if dependency.ok else FAIL, critical=True))
    return rows


def connection_row(used: int, limit: int, limits: Thresholds) -> Row:
    return judged("connections", judgements.connections(used, limit, limits), critical=False)


def replication_row(lags: dict[str, int], limits: Thresholds) -> Row:
    """The worst standby's lag as the primary sees it; no standby streaming fails."""
    worst = max(lags.values(), default=None)
    judgement = judgements.replication_lag(worst, limits)
    if worst is None:
        return judged("replication", judgement, critical=True)
    return judged("replication lag", judgement, critical=True, value=f"{worst} bytes ({len(lags)} standby)")


def queue_row(name: str, messages: int, consumers: int, policy: QueuePolicy) -> Row:
    """One queue against its policy; too deep and too few consumers both block, as their checks do."""
    judged_all = judgements.queue(name, messages, consumers, policy)
    bad = [j for j in judged_all if not j.ok]
    return Row(name, f"{messages} messages, {consumers} consumers", FAIL if bad else OK, critical=bool(bad))


def redis_rows(used_bytes: int, max_bytes: int, hits: float | None, min_hit_rate: float | None,
               limits: Thresholds) -> list[Row]:
    rows = [Row("ping", "PONG"), judged("memory", judgements.redis_memory(used_bytes, max_bytes, limits), False)]
    if min_hit_rate is None:
        rows.append(Row("hit rate", "no traffic yet" if hits is None else f"{hits:.0%}"))
    else:
        rows.append(judged("hit rate", judgements.hit_rate(hits, min_hit_rate), critical=False))
    return rows


def endpoint_row(method: str, path: str, status: int, expected: Sequence[int]) -> Row:
    return judged(f"{method} {path}", judgements.endpoint(status, expected), critical=True)


def sampled_rows(sample: Sample, paths: Sequence[str], limits: Thresholds) -> list[Row]:
    return [
        judged("error ratio", judgements.error_ratio(sample.error_ratio, limits), critical=True,
               value=f"{sample.error_ratio:.4f} (sampled, {sample.completed} requests to {', '.join(paths)})"),
        judged("p95", judgements.p95(sample.p95_ms, limits), critical=True,
               value="no answer" if sample.p95_ms is None else f"{sample.p95_ms:.0f} ms (sampled)"),
    ]


def usage_rows(use: Usage, limits: Thresholds) -> list[Row]:
    return [
        judged("cpu", judgements.cpu(use.cpu_ratio, limits), critical=False, value=f"{use.cpu_ratio:.0%}"),
        judged("memory", judgements.memory(use.memory_ratio, limits), critical=False,
               value=f"{use.memory_ratio:.1%} of host"),
    ]


def _guard(title: str, measure: Callable[[], list[Row]], critical: bool) -> Panel:
    """A panel whose probe could not measure shows that, as a failure: no data is not good data."""
    try:
        return Panel(title, measure())
    except ProbeError as error:
        return Panel(title, [Row("unreachable", f"{error.endpoint}: {error.detail}", FAIL, critical)])
    except Exception as error:  # a client library's own error: still down, never healthy
        return Panel(title, [Row("error", f"{type(error).__name__}: {error}", FAIL, critical)])


class Panels:
    """The measurements behind each panel, for one environment."""

    def __init__(self, settings: Settings, view: EnvironmentView) -> None:
        self.settings = settings
        self.view = view
        self.limits: Thresholds = settings.document.thresholds

    def application(self) -> list[Row]:
        from golive.probes import http as http_probe

        with http_probe.client_for(self.view.url, self.view.http) as client:
            health = http_probe.get_health(client, self.view.http)
        return application_rows(health, self.view.expected_version)

    def database(self) -> list[Row]:
        from golive.probes import postgres

        section = self.view.postgres
        if section is None:
            return [Row("postgres", "not configured", OFF)]
        with postgres.connect(section.dsn, self.view.timeout_s("postgres"), "golive-dashboard") as conn:
            postgres.scalar(conn, "SELECT 1")
            used, limit = postgres.connection_usage(conn)
            size = postgres.scalar(conn, "SELECT pg_database_size(current_database())")
            lags = postgres.replication_lag_bytes(conn) if section.replicas else {}
        rows = [
            Row("status", f"answers ({postgres.endpoint(section.dsn)})", OK, critical=True),
            connection_row(used, limit, self.limits),
            Row("size", f"{int(size) / 1_048_576:.1f} MiB"),
        ]
        if section.replicas:
            rows.append(replication_row(lags, self.limits))
        for dsn in section.replicas:
            with postgres.connect(dsn, self.view.timeout_s("postgres"), "golive-dashboard") as replica:
                position = postgres.replay_position(replica)
            rows.append(replay_row(postgres.endpoint(dsn), position.pause_state, position.waiting_bytes))
        return rows

    def rabbitmq(self) -> list[Row]:
        from golive.probes import rabbitmq

        section = self.view.rabbitmq
        if section is None:
            return [Row("rabbitmq", "not configured", OFF)]
        rows: list[Row] = []
        connection = rabbitmq.connect(section.url, self.view.timeout_s("rabbitmq"))
        try:
            for name, policy in section.queues.items():
                state = rabbitmq.queue_state(connection, name)
                rows.append(queue_row(name, state.messages, state.consumers, policy))
        finally:
            if connection.is_open:
                connection.close()
        # The management API is always asked: rabbitmq.management_url, else the broker's host on its default port.
        with rabbitmq.management(section.url, section.management_url, self.view.timeout_s("rabbitmq")) as api:
            alarms_ok = api.alarms_ok()
        rows.append(Row("alarms", "none" if alarms_ok else "ALARM (publishers blocked)", OK if alarms_ok else FAIL,
                        critical=True))
        return rows

    def redis(self) -> list[Row]:
        from golive.probes import redis as redis_probe

        section = self.view.redis
        if section is None:
            return [Row("redis", "not configured", OFF)]
        client = redis_probe.connect(section.url, self.view.timeout_s("redis"))
        try:
            memory = redis_probe.memory(client)
            hits = redis_probe.hit_rate(client)
        finally:
            client.close()
        return redis_rows(memory.used_bytes, memory.max_bytes, hits, section.min_hit_rate, self.limits)

    def endpoints(self) -> list[Row]:
        from golive.probes import http as http_probe

        if not self.view.http.endpoints:
            return [Row("endpoints", "not configured", OFF)]
        rows = []
        with http_probe.client_for(self.view.url, self.view.http) as client:
            for endpoint in self.view.http.endpoints:
                try:
                    answer = http_probe.request(client, endpoint.method, endpoint.path)
                    rows.append(endpoint_row(endpoint.method, endpoint.path, answer.status_code, endpoint.expect))
                except ProbeError as error:
                    rows.append(Row(f"{endpoint.method} {endpoint.path}", error.detail, FAIL, critical=True))
        return rows

    def performance(self) -> list[Row]:
        from golive.probes import sampling

        paths = self.view.http.sampling_paths
        sample = sampling.sample(self.view.url, paths, requests=SAMPLE_REQUESTS, concurrency=SAMPLE_CONCURRENCY,
                                 max_duration_s=SAMPLE_MAX_S, timeout_s=self.view.http.timeout_s,
                                 verify_tls=self.view.http.verify_tls, max_body_bytes=self.view.http.max_body_bytes)
        return sampled_rows(sample, paths, self.limits) + self._prometheus_rows()

    def _prometheus_rows(self) -> list[Row]:
        """The job's figures through the same job resolution, freshness rule and queries as Gate 2's checks."""
        section = self.view.prometheus
        if section is None:
            return [Row("prometheus", "not configured for this environment", OFF)]
        from golive import metrics
        from golive.probes.prometheus import Prometheus

        with Prometheus(section.url, self.view.timeout_s("prometheus")) as prometheus:
            try:
                # Up at its last scrape (no wait: the frame shows what Prometheus has now).
                job = metrics.prometheus_job(prometheus, section, self.view.name, self.view.url, fresh_after=0.0)
            except ProbeError as error:
                return [Row("prometheus", error.detail, FAIL, critical=True)]
            rows = [Row("prometheus job", f"{job.job} ({job.job_from}; preset {job.preset})", OK)]
            for label, read, judge in (("request rate", metrics.prometheus_request_rate, None),
                                       ("error ratio", metrics.prometheus_error_ratio, judgements.error_ratio),
                                       ("p95", metrics.prometheus_p95, judgements.p95)):  # fmt: skip
                try:
                    measured = read(job)
                except ProbeError as error:
                    rows.append(Row(f"{label} (prometheus)", error.detail, FAIL, critical=True))
                    continue
                value = measured.value if measured.value is not None else float("nan")
                unit = {"ms": " ms", "": ""}.get(measured.unit, measured.unit)
                shown = f"{value:.4g}{unit}"
                if judge is None:  # no limit on the rate: only a missing figure is bad
                    rows.append(Row(f"{label} (prometheus)", shown, FAIL if value != value else OK))
                else:
                    rows.append(judged(f"{label} (prometheus)", judge(measured.value, self.limits), critical=True,
                                       value=shown))
        return rows

    def processes(self) -> list[Row]:
        from golive.probes import host as host_probe

        if not self.view.process:
            return [Row("processes", "not configured", OFF)]
        host = host_probe.connect(self.view.host)
        found = host_probe.processes_matching(host, self.view.process)
        if not found:
            return [Row("process", f"none matching {self.view.process!r}", FAIL, critical=True)]
        use = host_probe.usage(host, [p.pid for p in found], sample_s=0.5)
        return [
            Row("process", f"{len(found)} running ({', '.join(str(p.pid) for p in found[:3])})", critical=True),
            *usage_rows(use, self.limits),
        ]

    def load_balancer(self) -> list[Row]:
        from golive.probes import load_balancer as lb_probe

        section = self.settings.document.load_balancer
        if section is None:
            return [Row("load balancer", "not configured", OFF)]
        balancer = lb_probe.connect(section, self.view.aws, self.view.timeout_s("aws"))
        shares = lb_probe.traffic_shares(balancer.weights())
        return [Row(f"to {env}", f"{share:.0f} %") for env, share in sorted(shares.items())]


PANELS: tuple[tuple[str, str, bool], ...] = (
    # (title, Panels method, whether a panel that cannot measure blocks)
    ("Application", "application", True),
    ("Database", "database", True),
    ("RabbitMQ", "rabbitmq", False),
    ("Redis", "redis", False),
    ("API endpoints", "endpoints", True),
    ("Performance", "performance", True),
    ("Processes", "processes", False),
    ("Load balancer", "load_balancer", False),
)


def frame_bound_s(view: EnvironmentView) -> float:
    """How long one frame may take: the performance sample and two of the slowest component's timeouts.
    A panel not measured by then shows as down."""
    return SAMPLE_MAX_S + 2 * view.max_timeout_s() + 1.0


def frame(settings: Settings, view: EnvironmentView, clock: Callable[[], float] = time.monotonic) -> Frame:
    """Measure every panel of one environment, side by side, within ``frame_bound_s``. Every service is asked
    afresh: an endpoint that hung in the last frame is not taken as hung in this one."""
    from golive.probes import http as http_probe

    started = clock()
    http_probe.forget_unanswered()
    panels = Panels(settings, view)
    bound_s = frame_bound_s(view)
    jobs = {title: partial(_guard, title, getattr(panels, method), critical) for title, method, critical in PANELS}
    results = side_by_side(jobs, bound_s)
    measured = []
    for title, _method, critical in PANELS:
        result = results[title]
        if isinstance(result, Overdue):
            result = Panel(title, [Row("unreachable", f"no reading within {bound_s:g}s (one frame's bound)", FAIL,
                                       critical)])  # fmt: skip
        measured.append(result)
    return Frame(view.name, measured, clock() - started)


_STYLES = {OK: "green", WARN: "yellow", FAIL: "bold red", OFF: "dim"}


def render(frames: Sequence[Frame], settings: Settings) -> Any:
    """A rich renderable: one column per environment, panels stacked in each."""
    from rich.console import Group
    from rich.panel import Panel as RichPanel
    from rich.table import Table

    frames = settings.masker.deep(copy.deepcopy(list(frames)))  # every label, value and note, before layout
    columns = Table.grid(expand=True, padding=(0, 2))
    for _ in frames:
        columns.add_column(ratio=1)
    cells = []
    for measured in frames:
        parts = []
        for panel in measured.panels:
            table = Table.grid(padding=(0, 1), expand=True)
            table.add_column(no_wrap=True)
            table.add_column(overflow="fold", ratio=1)
            table.add_column(no_wrap=True)
            for row in panel.rows:
                table.add_row(row.label, row.value, f"[{_STYLES[row.status]}]{row.status}[/]")
            parts.append(RichPanel(table, title=panel.title, title_align="left",
                                   border_style=_STYLES[[OK, WARN, FAIL][min(panel.code, 2)]]))
        verdict = ["GO", "REVIEW", "NO-GO"][measured.code]
        title = f"{measured.environment}: {verdict} (measured in {measured.taken_s:.1f} s)"
        cells.append(RichPanel(Group(*parts), title=title, border_style=_STYLES[[OK, WARN, FAIL][measured.code]]))
    columns.add_row(*cells)
    return columns


def views_for(settings: Settings, env: str | None) -> list[EnvironmentView]:
    """--env NAME, else both environments side by side (candidate first)."""
    if env is not None:
        return [settings.select(env)]
    ordered = sorted(settings.environments.values(), key=lambda v: {"candidate": 0, "live": 1}.get(v.role or "", 2))
    return ordered


def run(settings: Settings, env: str | None, continuous: bool, interval_s: float) -> int:
    from rich.console import Console
    from rich.live import Live

    # Everything the dashboard prints goes through the masker as it is written (render masks the frames' text
    # too, before rich lays it out: a long value folded over two lines would no longer read as the secret).
    screen = cast(TextIO, MaskingStream(sys.stdout, settings.masker))
    console = Console(file=screen, highlight=False)
    if not console.is_terminal:
        # Piped or logged: plain text (rich drops colour and cursor control), wide enough for two columns.
        console = Console(file=screen, highlight=False, width=160 if env is None else 100)
    views = views_for(settings, env)

    def measure() -> list[Frame]:
        # Daemon threads (side_by_side), not a pool: Ctrl-C ends the dashboard at once instead of waiting for the
        # frame being measured. Each frame holds itself to its own bound; this one only guards against a bug.
        jobs = {view.name: (lambda view=view: frame(settings, view)) for view in views}
        results = side_by_side(jobs, 3600.0)
        for result in results.values():
            if isinstance(result, BaseException):
                raise result
        return [results[view.name] for view in views]

    frames = measure()
    if not continuous:
        console.print(render(frames, settings))
        return max(f.code for f in frames)
    if not console.is_terminal:
        # No cursor tricks where nobody watches a screen: one plain frame after another.
        try:
            while True:
                console.print(render(frames, settings))
                console.print(f"-- next frame in {interval_s:g} s --")
                time.sleep(interval_s)
                frames = measure()
        except KeyboardInterrupt:
            return max(f.code for f in frames)
    try:
        with Live(render(frames, settings), console=console, auto_refresh=False, screen=False) as live:
            while True:
                time.sleep(interval_s)
                frames = measure()
                live.update(render(frames, settings), refresh=True)
    except KeyboardInterrupt:
        return max(f.code for f in frames)
