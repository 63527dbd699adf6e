"""``golive watch``: take readings of one environment every interval and roll back when a trigger fires.

Each reading runs its probes side by side, each bounded by its timeout, so a hung dependency shows as "no
data" (which counts against health) instead of freezing the loop. When a trigger fires: say which, what was
measured and since when, append a timeline event, run ``--on-rollback`` once (its output and exit code
recorded), exit 2. When ``--duration`` passes without a trigger: exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

from golive import reports_dir as reports
from golive.config import ConfigError, EnvironmentView, Settings
from golive.masking import CUT, MaskingStream
from golive.probes.bounded import Overdue, side_by_side
from golive.probes.errors import ProbeError
from golive.timeline import Timeline, TimelineError
from golive.triggers import Evaluator, Firing, Reading, rules_from

# Requests per reading: enough for a ratio and a p95 each second, few enough not to load the app.
SAMPLE_REQUESTS = 20
SAMPLE_CONCURRENCY = 4


@dataclass
class Probes:
    """What one reading measures for an environment: functions that return a value or raise ProbeError."""

    view: EnvironmentView
    interval_s: float
    requests: int = SAMPLE_REQUESTS  # per reading: the more, the steadier a ratio (golive cutover takes more)

    @property
    def reading_bound_s(self) -> float:
        """How long one reading may take: its sample's duration and two of the slowest component's timeouts.
        A measurement not taken by then is no data (which counts against health)."""
        return self._sample_s + 2 * self.view.max_timeout_s() + 0.5

    @property
    def _sample_s(self) -> float:
        return max(0.2, 0.8 * self.interval_s)

    def http(self) -> tuple[float, float | None, dict[str, str]]:
        """(error ratio, p95 ms, notes) from a small sample of the environment's sampling paths."""
        from golive.probes import sampling

        measured = sampling.sample(
            self.view.url, self.view.http.sampling_paths, requests=self.requests, concurrency=SAMPLE_CONCURRENCY,
            max_duration_s=self._sample_s, timeout_s=self.view.http.timeout_s,
            verify_tls=self.view.http.verify_tls, max_body_bytes=self.view.http.max_body_bytes,
        )
        if measured.completed == 0:
            raise ProbeError("http", self.view.url, "no request completed")
        return measured.error_ratio, measured.p95_ms, {}

    def app_and_database(self) -> tuple[bool, bool | None, dict[str, str]]:
        """(app ok, database ok as the app sees it, notes) from the health endpoint and the app's process."""
        from golive.probes import http as http_probe

        notes: dict[str, str] = {}
        with http_probe.client_for(self.view.url, self.view.http) as client:
            try:
                health = http_probe.get_health(client, self.view.http)
            except ProbeError as error:
                return False, None, {"app": error.detail, "database": "app unreachable"}
        # A 503 that names a sick dependency, or a readiness answer saying not ready: the app itself answers.
        app_ok = health.live_state in ("healthy", "degraded") or health.status_code == 503
        if not app_ok:
            notes["app"] = f"health answered {health.describe()}"
        if self.view.process:
            from golive.probes import host as host_probe

            if not host_probe.processes_matching(host_probe.connect(self.view.host), self.view.process):
                app_ok, notes["app"] = False, f"no process matching {self.view.process!r}"
        database = health.dependencies.get("database")
        if database is not None and not database.ok:
            notes["database"] = database.text
        return app_ok, (None if database is None else database.ok), notes

    def database(self) -> tuple[bool, dict[str, str]]:
        """Whether golive itself gets an answer from the PostgreSQL primary."""
        from golive.probes import postgres

        section = self.view.postgres
        assert section is not None
        try:
            with postgres.connect(section.dsn, self.view.timeout_s("postgres"), "golive-watch") as connection:
                postgres.scalar(connection, "SELECT 1")
        except ProbeError as error:
            return False, {"database": error.detail}
        return True, {}

    def memory(self) -> float:
        from golive.probes import host as host_probe

        assert self.view.process is not None
        host = host_probe.connect(self.view.host)
        found = host_probe.processes_matching(host, self.view.process)
        if not found:
            raise ProbeError("host", self.view.host, f"no process matching {self.view.process!r}")
        return host_probe.usage(host, [p.pid for p in found], cpu=False).memory_ratio


def take_reading(probes: Probes, clock: Callable[[], float], want_memory: bool) -> Reading:
    """Run every probe at once; a probe that raises leaves its measurement empty (no data)."""
    from golive.probes import http as http_probe

    started = clock()
    http_probe.forget_unanswered()  # each reading asks every service afresh
    notes: dict[str, str] = {}
    values: dict[str, Any] = {}
    jobs: dict[str, Callable[[], Any]] = {"http": probes.http, "app": probes.app_and_database}
    if probes.view.postgres is not None:
        jobs["database"] = probes.database
    if want_memory:
        jobs["memory"] = probes.memory
    for name, result in side_by_side(jobs, probes.reading_bound_s).items():
        if isinstance(result, Overdue):
            notes[name] = f"no reading within {result.bound_s:g}s (one reading's bound)"
        elif isinstance(result, ProbeError):
            notes[name] = result.detail
        elif isinstance(result, BaseException):
            raise result
        else:
            values[name] = result
    error_ratio = p95 = None
    if "http" in values:
        error_ratio, p95, extra = values["http"]
        notes.update(extra)
    app_ok, database_ok = False, None
    if "app" in values:
        app_ok, database_ok, extra = values["app"]
        notes.update(extra)
    if "database" in values:
        direct_ok, extra = values["database"]
        notes.update(extra)
        database_ok = direct_ok and database_ok is not False
    return Reading(at=started, error_ratio=error_ratio, p95_ms=p95, database_ok=database_ok, app_ok=app_ok,
                   memory_ratio=values.get("memory"), notes=notes)


def describe(reading: Reading, origin: float) -> str:
    def number(value: float | None, fmt: str) -> str:
        return "no data" if value is None else format(value, fmt)

    database = {True: "ok", False: "DOWN", None: "no data"}[reading.database_ok]
    memory = "" if reading.memory_ratio is None else f"  memory {reading.memory_ratio:.0%}"
    return (f"T+{reading.at - origin:5.1f}s  error ratio {number(reading.error_ratio, '.3f')}  "
            f"p95 {number(reading.p95_ms, '.0f')} ms  database {database}  app {'ok' if reading.app_ok else 'DOWN'}"
            f"{memory}")


@dataclass
class WatchResult:
    code: int
    firing: Firing | None = None
    readings: int = 0


def watch(settings: Settings, view: EnvironmentView, interval_s: float, duration_s: float,
          on_rollback: str | None, out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep, reports_dir: Path | None = None) -> WatchResult:
    triggers = settings.document.rollback_triggers
    if triggers is None:
        raise ConfigError(f"{settings.path.name}: rollback_triggers: not configured; nothing to watch")
    rules = rules_from(triggers)
    if not rules:
        raise ConfigError(f"{settings.path.name}: rollback_triggers: no trigger has a threshold; nothing to watch")
    want_memory = any(rule.name == "memory" for rule in rules)
    if want_memory and not view.process:
        raise ConfigError(
            f"{settings.path.name}: rollback_triggers.memory needs environments.{view.name}.process to measure"
        )
    evaluator = Evaluator(rules)
    probes = Probes(view, interval_s)
    # Masked where written: every line of this output, and each timeline line, from the configuration's secrets.
    out = cast(TextIO, MaskingStream(out, settings.masker))
    if reports_dir is None:  # the one rule (golive.reports_dir): $GOLIVE_REPORTS, the ini's, ./reports
        reports_dir = reports.resolve(None, os.environ, Path.cwd()).path
    timeline = Timeline.in_reports(reports_dir, settings.masker)
    origin = clock()
    print(f"watching {view.name} ({view.url}) every {interval_s:g} s for {duration_s:g} s; triggers: "
          + "; ".join(f"{rule.name}: {rule.describe} for {rule.window_s:g} s" for rule in rules), file=out,
          flush=True)
    count = 0
    while True:
        reading = take_reading(probes, clock, want_memory)
        count += 1
        print(describe(reading, origin), file=out, flush=True)
        firings = evaluator.observe(reading)
        if firings:
            return _roll_back(firings[0], view, on_rollback, timeline, out, origin, count)
        elapsed = clock() - origin
        if elapsed >= duration_s:
            print(f"no rollback trigger fired in {elapsed:.0f} s: exit 0", file=out, flush=True)
            return WatchResult(0, None, count)
        next_at = origin + count * interval_s
        sleep(max(0.0, min(next_at - clock(), duration_s - elapsed)))


def _roll_back(firing: Firing, view: EnvironmentView, on_rollback: str | None, timeline: Timeline,
               out: TextIO, origin: float, count: int) -> WatchResult:
    message = f"{view.name}: {firing.message()}; condition since T+{firing.since - origin:.1f}s"
    print(f"ROLLBACK: {message}", file=out, flush=True)
    _append(timeline, "error", f"rollback trigger fired on {message}", out)
    if on_rollback:
        run_on_rollback(on_rollback, timeline, out)
    return WatchResult(2, firing, count)


ON_ROLLBACK_TIMEOUT_S = 300


def run_on_rollback(command: str, timeline: Timeline, out: TextIO, source: str = "golive watch") -> str:
    """Run ``--on-rollback`` once, bounded; its exit and the end of its output go to ``out`` and the timeline.
    Returns what happened (``--on-rollback exited 0``)."""
    try:
        completed = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=ON_ROLLBACK_TIMEOUT_S)
        output = (completed.stdout + completed.stderr).strip()
        result = f"--on-rollback exited {completed.returncode}"
    except subprocess.TimeoutExpired as expired:
        output, result = str(expired.stdout or ""), f"--on-rollback did not finish within {ON_ROLLBACK_TIMEOUT_S} s"
    print(f"{result}; output: {_tail(output, 2000)}", file=out, flush=True)
    _append(timeline, "event", f"{result}: {_tail(output, 500)}", out, source)
    return result


def _tail(text: str, limit: int) -> str:
    """The end of ``text``, the cut marked with ``...`` (so the masker still finds a secret cut short there)."""
    return text if len(text) <= limit else CUT + text[len(text) - limit + len(CUT):]


def _append(timeline: Timeline, kind: str, message: str, out: TextIO, source: str = "golive watch") -> None:
    try:
        timeline.add(kind, message, source=source)
    except TimelineError as error:
        print(f"golive: {error}", file=out, flush=True)
