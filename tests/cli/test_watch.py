"""golive watch against the sandbox: each rollback trigger fires under its fault, within window plus two
intervals, runs --on-rollback once; a healthy environment runs the whole duration and exits 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.gates import sandbox_command, variant

WINDOW_S = 5
INTERVAL_S = 1


def start_watch(config: Path, tmp_path: Path, duration_s: float, *extra: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    return subprocess.Popen(
        [sys.executable, "-m", "golive", "watch", "--env", "blue", "--interval", str(INTERVAL_S), "--duration",
         str(duration_s), "--golive-config", str(config), "--reports", str(tmp_path / "reports"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ,
    )


def triggers(config: Path, tmp_path: Path, **rules: dict[str, float]) -> Path:
    return variant(config, tmp_path / "watch.yaml", {"rollback_triggers": rules})


def fired_at(output: str) -> float:
    """The watch's own clock (T+ seconds) at the reading that completed the window."""
    readings = [float(t) for t in re.findall(r"^T\+\s*([0-9.]+)s", output, re.MULTILINE)]
    assert "ROLLBACK:" in output and readings, output
    return readings[-1]


def test_error_rate_trigger_fires_within_window_plus_two_intervals_and_rolls_back_once(sandbox, tmp_path):
    """Issue 7's must-show, on the watch's own clock: fault after 10 s, trigger window 5 s, interval 1 s."""
    config = triggers(sandbox, tmp_path, error_rate={"above": 0.10, "for_s": WINDOW_S},
                      p95_ms={"above": 2000, "for_s": WINDOW_S}, database_down={"for_s": WINDOW_S})
    marker = tmp_path / "rolled-back"
    watch = start_watch(config, tmp_path, 60, "--on-rollback", f"echo rolled back >> {marker}")
    started = time.monotonic()
    time.sleep(10)
    sandbox_command("fault", "blue", "--error-rate", "0.5")
    fault_at = time.monotonic() - started
    output, _ = watch.communicate(timeout=60)
    assert watch.returncode == 2, output
    assert "rollback trigger error_rate: error ratio above 0.1" in output
    assert fired_at(output) - fault_at <= WINDOW_S + 2 * INTERVAL_S + 1.0, output  # +1: the watch starts first
    assert fired_at(output) < 19, output
    assert marker.read_text() == "rolled back\n"  # exactly once
    timeline = (tmp_path / "reports" / "timeline.jsonl").read_text()
    assert "rollback trigger fired on blue" in timeline and "--on-rollback exited 0" in timeline


def test_healthy_environment_runs_the_whole_duration(sandbox, tmp_path):
    config = triggers(sandbox, tmp_path, error_rate={"above": 0.10, "for_s": WINDOW_S},
                      p95_ms={"above": 2000, "for_s": WINDOW_S}, database_down={"for_s": WINDOW_S})
    marker = tmp_path / "rolled-back"
    watch = start_watch(config, tmp_path, 12, "--on-rollback", f"touch {marker}")
    output, _ = watch.communicate(timeout=60)
    assert watch.returncode == 0, output
    assert "no rollback trigger fired" in output and not marker.exists()
    assert len(re.findall(r"^T\+", output, re.MULTILINE)) >= 10


@pytest.mark.parametrize(
    ("fault", "rules", "name"),
    [
        (["fault", "blue", "--latency-ms", "2500"], {"p95_ms": {"above": 2000, "for_s": WINDOW_S}}, "p95_ms"),
        (["fault", "blue", "--crash"], {"crash": {"for_s": WINDOW_S}}, "crash"),
        (["fault", "blue", "--error-rate", "0.2"], {"error_rate": {"above": 0.10, "for_s": WINDOW_S}}, "error_rate"),
    ],
)
def test_each_trigger_fires_under_its_fault(sandbox, tmp_path, fault, rules, name):
    config = triggers(sandbox, tmp_path, **rules)
    sandbox_command(*fault)
    watch = start_watch(config, tmp_path, 40)
    output, _ = watch.communicate(timeout=90)
    assert watch.returncode == 2, output
    assert f"rollback trigger {name}:" in output
    # A 2.5 s answer stretches each reading (and so the interval) to about 2.5 s.
    slack = 2 * 2.5 if name == "p95_ms" else 2 * INTERVAL_S
    assert fired_at(output) <= WINDOW_S + slack + 1.0, output


def test_database_unreachable_fires_database_down(sandbox, tmp_path, closed_port):
    config = triggers(sandbox, tmp_path, database_down={"for_s": 3})
    config = variant(config, config, {"postgres.dsn": f"postgresql://postgres:pw-s3cret@127.0.0.1:{closed_port}/x"})
    watch = start_watch(config, tmp_path, 30)
    output, _ = watch.communicate(timeout=60)
    assert watch.returncode == 2, output
    assert "rollback trigger database_down: database connectivity lost" in output
    assert "pw-s3cret" not in output


def test_memory_trigger_measures_the_apps_share_of_the_host(sandbox, tmp_path):
    """No sandbox fault exhausts the host's memory; a limit below what blue's process uses stands in for one, and a
    generous limit shows the same measurement not firing."""
    config = triggers(sandbox, tmp_path, memory={"above": 0.95, "for_s": 3})
    watch = start_watch(config, tmp_path, 5)
    output, _ = watch.communicate(timeout=60)
    assert watch.returncode == 0, output
    shares = [float(m) for m in re.findall(r"memory (\d+)%", output)]
    assert shares and all(share < 95 for share in shares), output

    config = triggers(sandbox, tmp_path, memory={"above": 0.00001, "for_s": 3})
    watch = start_watch(config, tmp_path, 30)
    output, _ = watch.communicate(timeout=60)
    assert watch.returncode == 2, output
    assert "rollback trigger memory: memory above" in output
    assert fired_at(output) <= 3 + 2 * INTERVAL_S + 1.0, output


def test_a_blip_shorter_than_the_window_does_not_fire(sandbox, tmp_path):
    config = triggers(sandbox, tmp_path, error_rate={"above": 0.10, "for_s": 8})
    watch = start_watch(config, tmp_path, 16)
    time.sleep(4)
    sandbox_command("fault", "blue", "--error-rate", "1.0")
    time.sleep(3)
    sandbox_command("fault", "blue", "--clear")
    output, _ = watch.communicate(timeout=60)
    assert watch.returncode == 0, output
    assert "error ratio 1.000" in output  # the blip was seen, and it was shorter than the window


def test_watch_without_triggers_is_a_one_line_error(sandbox, tmp_path):
    config = variant(sandbox, tmp_path / "none.yaml", {"rollback_triggers": None})
    watch = start_watch(config, tmp_path, 5)
    output, _ = watch.communicate(timeout=60)
    assert watch.returncode == 2
    assert output.strip().splitlines() == ["golive: none.yaml: rollback_triggers: not configured; nothing to watch"]
