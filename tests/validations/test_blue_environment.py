"""Gate 1, blue environment validation: each check passes on the healthy sandbox and fails when blue is broken."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support.gates import sandbox_command, variant

MODULE = "validations/test_blue_environment.py"
CHECKS = (
    "test_app_process_running",
    "test_app_port_listening",
    "test_every_endpoint_answers_an_accepted_status",
    "test_no_errors_in_recent_log",
    "test_memory_below_threshold",
    "test_cpu_below_threshold",
)
BLUE = "http://127.0.0.1:18001"


def test_healthy_blue_passes_every_check(sandbox, run_gate):
    run = run_gate(sandbox, "pre", MODULE)
    assert run.outcomes() == dict.fromkeys(CHECKS, "passed"), run.stdout
    assert {c["component"] for c in run.record["checks"]} == {"host", "http"}
    assert run.partial_go


def test_crashed_blue_is_no_go(sandbox, run_gate):
    sandbox_command("fault", "blue", "--crash")
    run = run_gate(sandbox, "pre", MODULE, "-k", "not log")
    assert run.outcomes() == {
        "test_app_process_running": "failed",
        "test_app_port_listening": "failed",
        "test_every_endpoint_answers_an_accepted_status": "error",
        "test_memory_below_threshold": "failed",
        "test_cpu_below_threshold": "failed",
    }
    process = run.check("test_app_process_running")["message"]
    assert "no process on local has 'golive.sandbox.app --env blue' in its command line" in process
    assert "nothing listens on TCP port 18001 on local" in run.check("test_app_port_listening")["message"]
    assert "127.0.0.1:18001" in run.check("test_every_endpoint_answers_an_accepted_status")["message"]
    assert run.code == 2


def test_blue_answering_500_fails_its_endpoints_and_logs_errors(sandbox, run_gate):
    sandbox_command("fault", "blue", "--error-rate", "1.0")
    assert httpx.get(f"{BLUE}/api/status", timeout=5).status_code == 500  # the app logs it at ERROR
    run = run_gate(sandbox, "pre", MODULE, "-k", "endpoint or log")
    endpoints = run.check("test_every_endpoint_answers_an_accepted_status")["message"]
    log = run.check("test_no_errors_in_recent_log")["message"]
    assert f"{BLUE}: GET /api/agents answered 500 (expected 200); GET /api/messages answered 500" in endpoints
    assert "/logs/blue.log: " in log and "error line(s) in the last" in log
    assert "allowed 0 (thresholds.log_error_lines); first: " in log
    assert "ERROR golive.sandbox.app: injected fault" in log
    assert run.code == 2


@pytest.fixture
def busy_blue() -> Iterator[None]:
    """Keep blue's app busy answering requests while a check samples its CPU."""
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=BLUE, timeout=5) as client:
            while not stop.is_set():
                client.get("/api/status")

    workers = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    yield
    stop.set()
    for worker in workers:
        worker.join(timeout=10)


def test_memory_and_cpu_above_their_thresholds_are_review(sandbox, run_gate, tmp_path, busy_blue):
    config = variant(sandbox, tmp_path / "tight.yaml", {"thresholds.memory_ratio": 0.001, "thresholds.cpu_ratio": 0.02})
    run = run_gate(config, "pre", MODULE, "-k", "memory or cpu")
    assert run.outcomes() == {"test_memory_below_threshold": "failed", "test_cpu_below_threshold": "failed"}
    memory = run.check("test_memory_below_threshold")["message"]
    cpu = run.check("test_cpu_below_threshold")["message"]
    assert "blue's app (pids " in memory and "allowed below 0% (thresholds.memory_ratio)" in memory
    assert " CPU(s) over 1.0 s; allowed below 2% (thresholds.cpu_ratio)" in cpu
    assert run.code == 1
