"""golive.watch on a fake clock: the loop's timing is exact, so each rule fires at the end of its window, a blip
shorter than the window does not, and --on-rollback runs once. The readings are real (a canned HTTP service, a
closed PostgreSQL port); only time is the test's: it moves when the watch sleeps. tests/cli/test_watch.py runs
the command against the sandbox's faults."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from golive import watch
from golive.config import ConfigError, parse_settings
from tests.canned_http import Answer, CannedHTTP, Request

WINDOW_S = 5
INTERVAL_S = 1
HEALTHY = {"status": "ok", "version": "2.1.0", "database": "ok"}  # the app sees its database


class FakeClock:
    """The watch's ``clock`` and ``sleep``: time passes only when the watch sleeps; ``at`` holds what happens
    once a time is reached (seconds since the start: a server that crashes at T+3)."""

    def __init__(self, at: dict[float, Callable[[], None]] | None = None) -> None:
        self.now_s = 0.0
        self.pending = sorted((at or {}).items())

    def __call__(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.now_s += seconds
        while self.pending and self.pending[0][0] <= self.now_s:
            self.pending.pop(0)[1]()


def errors_between(clock: FakeClock, start_s: float, end_s: float = float("inf")) -> Callable[[Request], Answer]:
    """Every route answers 500 from ``start_s`` until ``end_s`` on the fake clock, and 200 otherwise."""
    return lambda request: Answer(500 if start_s <= clock() < end_s else 200, HEALTHY)


def run_watch(tmp_path: Path, url: str, clock: FakeClock, duration_s: float, triggers: dict[str, object],
              on_rollback: str | None = None, **extra: object) -> tuple[watch.WatchResult, str]:
    document = {"release": {"version": "2.1.0"}, "environments": {"blue": {"url": url, "role": "candidate"}},
                "rollback_triggers": triggers, **extra}  # fmt: skip
    settings = parse_settings(json.dumps(document), tmp_path / "golive.yaml", "test", {})
    out = io.StringIO()
    result = watch.watch(settings, settings.select("blue"), INTERVAL_S, duration_s, on_rollback, out=out,
                         clock=clock, sleep=clock.sleep, reports_dir=tmp_path / "reports")
    return result, out.getvalue()


def reading_times(output: str) -> list[float]:
    return [float(line.split("s", 1)[0].removeprefix("T+")) for line in output.splitlines() if line.startswith("T+")]


def test_error_rate_trigger_fires_at_the_end_of_its_window_and_rolls_back_once(tmp_path, canned_http):
    """Issue 7's must-show on the watch's clock: errors from T+10, window 5 s, interval 1 s."""
    clock = FakeClock()
    canned_http.routes["*"] = errors_between(clock, 10)
    marker = tmp_path / "rolled-back"
    result, output = run_watch(tmp_path, canned_http.url, clock, 60, {"error_rate": {"above": 0.10, "for_s": WINDOW_S}},
                               f"echo rolled back >> {marker}")
    assert result.code == 2, output
    assert result.firing is not None and result.firing.since == 10
    fired_at = reading_times(output)[-1]
    assert fired_at == 10 + WINDOW_S <= 10 + WINDOW_S + 2 * INTERVAL_S, output
    assert reading_times(output) == [float(t) for t in range(16)] and result.readings == 16
    assert "rollback trigger error_rate: error ratio above 0.1" in output
    assert "condition since T+10.0s" in output
    assert marker.read_text() == "rolled back\n"  # exactly once
    timeline = (tmp_path / "reports" / "timeline.jsonl").read_text()
    assert "rollback trigger fired on blue" in timeline and "--on-rollback exited 0" in timeline


def test_healthy_environment_runs_the_whole_duration(tmp_path, canned_http):
    clock = FakeClock()
    canned_http.answer("*", HEALTHY)
    marker = tmp_path / "rolled-back"
    result, output = run_watch(tmp_path, canned_http.url, clock, 12, {"error_rate": {"above": 0.10, "for_s": WINDOW_S},
                               "database_down": {"for_s": WINDOW_S}, "crash": {"for_s": WINDOW_S}}, f"touch {marker}")
    assert result.code == 0, output
    assert output.splitlines()[-1] == "no rollback trigger fired in 12 s: exit 0"
    assert reading_times(output) == [float(t) for t in range(13)] and not marker.exists()
    assert "error ratio 0.000" in output and "database ok  app ok" in output


def test_a_blip_shorter_than_the_window_does_not_fire(tmp_path, canned_http):
    clock = FakeClock()
    canned_http.routes["*"] = errors_between(clock, 4, 7)
    result, output = run_watch(tmp_path, canned_http.url, clock, 16, {"error_rate": {"above": 0.10, "for_s": 8}})
    assert result.code == 0, output
    assert [line[:5] for line in output.splitlines() if "error ratio 1.000" in line] == ["T+  4", "T+  5", "T+  6"]


def test_a_crashed_app_fires_crash_at_the_end_of_its_window(tmp_path):
    server = CannedHTTP.everywhere(HEALTHY)
    clock = FakeClock(at={3: server.close})
    with server:
        result, output = run_watch(tmp_path, server.url, clock, 60, {"crash": {"for_s": WINDOW_S}})
    assert result.code == 2, output
    assert result.firing is not None and result.firing.since == 3
    assert reading_times(output)[-1] == 3 + WINDOW_S
    assert "rollback trigger crash:" in output and "app DOWN" in output


def test_database_unreachable_fires_database_down_without_showing_the_password(tmp_path, canned_http, closed_port):
    clock = FakeClock()
    canned_http.answer("*", HEALTHY)
    result, output = run_watch(tmp_path, canned_http.url, clock, 30, {"database_down": {"for_s": 3}},
                               postgres={"dsn": f"postgresql://postgres:pw-s3cret@127.0.0.1:{closed_port}/x"})
    assert result.code == 2, output
    assert reading_times(output)[-1] == 3
    assert "rollback trigger database_down: database connectivity lost" in output
    assert "pw-s3cret" not in output + (tmp_path / "reports" / "timeline.jsonl").read_text()


def test_a_trigger_without_a_threshold_is_a_configuration_error(tmp_path, canned_http):
    with pytest.raises(ConfigError, match="rollback_triggers: no trigger has a threshold; nothing to watch"):
        run_watch(tmp_path, canned_http.url, FakeClock(), 5, {})
