"""golive dashboard against the sandbox: one frame exits like a gate; a hung dependency shows as down in a
bounded frame; plain text when piped; both environments side by side."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.gates import sandbox_command, variant
from tests.support.polling import wait_for

ANSI = re.compile(r"\x1b\[")
FRAME = re.compile(r"blue: (GO|REVIEW|NO-GO) \(measured")


def dashboard(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    return subprocess.run([sys.executable, "-m", "golive", "dashboard", "--golive-config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, env=environ)


@pytest.fixture
def config(sandbox: Path, tmp_path: Path) -> Path:
    # A short Prometheus window, so errors injected by an earlier test leave the rate window quickly.
    return variant(sandbox, tmp_path / "dashboard.yaml", {"prometheus.window": "8s"})


def settled(config: Path, deadline_s: float = 30) -> subprocess.CompletedProcess[str]:
    """The first frame after earlier faults have left Prometheus's window (bounded)."""
    frames: list[subprocess.CompletedProcess[str]] = []

    def frame_exits_0() -> bool:
        frames.append(dashboard(config, "--env", "blue"))
        return frames[-1].returncode == 0

    with contextlib.suppress(pytest.fail.Exception):  # the caller asserts on the last frame, showing it
        wait_for("a dashboard frame exiting 0", frame_exits_0, deadline_s, every_s=2)
    return frames[-1]


def test_healthy_blue_is_one_plain_frame_and_exit_0(config):
    result = settled(config)
    assert result.returncode == 0, result.stdout
    for title in ("Application", "Database", "RabbitMQ", "Redis", "API endpoints", "Performance", "Processes",
                  "Load balancer"):
        assert title in result.stdout
    assert "blue: GO" in result.stdout and "(prometheus)" in result.stdout and "(sampled" in result.stdout
    assert re.search(r"standby \S+ +replay not paused, \d+ bytes waiting", result.stdout), result.stdout
    assert not ANSI.search(result.stdout), "piped output must be plain text"


def test_both_environments_side_by_side(config):
    result = dashboard(config)
    first_line = result.stdout.splitlines()[0]
    assert "blue:" in first_line and "green:" in first_line


@pytest.mark.parametrize(
    "fault",
    [["--crash"], ["--error-rate", "0.2"], ["--latency-ms", "400"]],
    ids=["crash", "error-rate", "latency"],
)
def test_faults_that_make_gate_2_no_go_make_the_frame_exit_2(config, fault):
    sandbox_command("fault", "blue", *fault)
    result = dashboard(config, "--env", "blue")
    assert result.returncode == 2, result.stdout
    assert "FAIL" in result.stdout


def test_a_paused_standby_replay_is_a_review_as_the_replication_check_makes_it(config):
    sandbox_command("helper", "pause-replay")
    result = dashboard(config, "--env", "blue")
    assert re.search(r"standby \S+ +replay paused, \d+ bytes waiting", result.stdout), result.stdout
    assert result.returncode >= 1, result.stdout


def test_a_hung_dependency_shows_as_down_within_its_timeout(config, tmp_path, hanging_port):
    hung = variant(config, tmp_path / "hung.yaml", {"redis": {"url": f"redis://127.0.0.1:{hanging_port}/0",
                                                              "timeout_s": 1}})
    result = dashboard(hung, "--env", "blue", timeout=30)
    assert result.returncode >= 1, result.stdout
    redis_panel = result.stdout[result.stdout.index("Redis"):result.stdout.index("API endpoints")]
    assert f"127.0.0.1:{hanging_port}" in redis_panel and "FAIL" in redis_panel
    taken = float(re.search(r"measured in ([0-9.]+) s", result.stdout).group(1))
    # The frame waits for its slowest probe, each bounded: the 1 s Redis timeout or the performance sample.
    assert taken < 8, result.stdout


def test_continuous_refreshes_until_ctrl_c(config):
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    process = subprocess.Popen(
        [sys.executable, "-m", "golive", "dashboard", "--golive-config", str(config), "--env", "blue",
         "--continuous", "--interval", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ,
    )
    assert process.stdout is not None
    lines: list[str] = []
    frames = threading.Semaphore(0)

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if FRAME.search(line):
                frames.release()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # Ctrl-C once two frames are out (however long a busy machine takes to draw them, within a minute).
        assert frames.acquire(timeout=60) and frames.acquire(timeout=60), "".join(lines)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    output = "".join(lines)
    verdicts = FRAME.findall(output)
    assert len(verdicts) >= 2, output
    assert process.returncode == {"GO": 0, "REVIEW": 1, "NO-GO": 2}[verdicts[-1]]  # the last frame's verdict
