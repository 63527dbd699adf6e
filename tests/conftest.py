"""Shared fixtures for golive's own tests."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.canned_http import CannedHTTP
from tests.support import REPO
from tests.support.gates import stop_process
from tests.support.polling import wait_for
from tests.support.prometheus import free_port

pytest_plugins = ["pytester"]

SANDBOX_LOCK = "/tmp/golive-tests-sandbox.lock"
PARTS = ("sandbox", "others")  # scripts/run-tests runs each part in its own process: GOLIVE_TESTS_PART=PART


def pytest_configure(config: pytest.Config) -> None:
    """Started in the background by a shell without job control (``(make test &)``), this process inherits SIGINT
    ignored, and so would every golive it starts: the tests that press Ctrl-C on a dashboard or a gate would
    wait for nothing. A handler here (not an inherited SIG_IGN) gives each child the default disposition."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``GOLIVE_TESTS_PART=sandbox`` only the tests that use the sandbox run, with ``=others`` only the
    rest: scripts/run-tests runs both parts side by side (the sandbox is one per machine, so its tests take
    turns in one process while the others run beside them)."""
    part = os.environ.get("GOLIVE_TESTS_PART")
    if part is None:
        return
    if part not in PARTS:
        raise pytest.UsageError(f"GOLIVE_TESTS_PART={part!r}: expected one of {', '.join(PARTS)}")
    wanted = part == "sandbox"
    keep = [item for item in items if ("sandbox_session" in getattr(item, "fixturenames", ())) == wanted]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(autouse=True)
def _forget_unanswered() -> Iterator[None]:
    """An origin that hung in one test is not taken as hung in the next (a port can be handed out again)."""
    from golive.probes import http

    http.forget_unanswered()
    yield
    http.forget_unanswered()


@pytest.fixture
def canned_http() -> Iterator[CannedHTTP]:
    """The test's own loopback HTTP server answering what the test routes to it (tests/canned_http.py)."""
    with CannedHTTP() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sandbox for this test session: brought down when the session ends."""
    from golive.sandbox.cli import main

    # One sandbox per machine: test sessions that use it take turns (another session's faults or `down`
    # would break this one's checks).
    with open(SANDBOX_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        config = tmp_path_factory.mktemp("sandbox") / "golive.sandbox.yaml"
        try:
            yield config
        finally:
            main(["down"])


@pytest.fixture
def sandbox(sandbox_session: Path) -> Path:
    """A healthy sandbox (started, repaired, every fault cleared); its golive configuration's path."""
    from golive.sandbox.cli import main

    assert main(["up", "--config-out", str(sandbox_session)]) == 0, "golive sandbox up failed"
    return sandbox_session


@dataclass
class GateRun:
    code: int
    stdout: str
    stderr: str
    record: dict[str, Any]

    def check(self, name: str) -> dict[str, Any]:
        """The record entry of the check whose node id ends with ``name`` (function name or name[param])."""
        matches = [c for c in self.record["checks"] if c["id"].endswith(name)]
        assert matches, f"no check {name!r} in the record; have: {[c['id'] for c in self.record['checks']]}"
        return matches[0]

    @property
    def partial_go(self) -> bool:
        """A subset of a gate (paths, node ids or -k) whose checks would have made the gate GO: since a subset is
        never the gate's GO (issue 11) it is the partial REVIEW, exit 1, whose one reason is that it was partial."""
        reasons = self.record.get("reasons", [])
        return (self.code == 1 and self.record.get("verdict") == "REVIEW" and bool(self.record.get("partial"))
                and len(reasons) == 1 and reasons[0].startswith("partial: "))

    def outcomes(self) -> dict[str, str]:
        return {c["id"].rsplit("::", 1)[-1]: c["outcome"] for c in self.record["checks"]}


@pytest.fixture
def run_gate(tmp_path: Path) -> Callable[..., GateRun]:
    """Run ``pytest -m MARKER`` over the repository's validations with a configuration; returns the record."""

    def run(config: Path, marker: str, *args: str, timeout: float = 300, reports: Path | None = None) -> GateRun:
        # A shared `reports` directory lets a later gate read what an earlier one saved (the Gate 1 baseline).
        reports = reports or tmp_path / f"reports-{len(list(tmp_path.glob('reports-*')))}"
        environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", marker, f"--golive-config={config}", f"--golive-reports={reports}",
             "-p", "no:cacheprovider", "-q", *args],
            cwd=REPO, capture_output=True, text=True, timeout=timeout, env=environ,
        )
        latest = sorted(reports.glob("latest-*.json"), key=lambda path: path.stat().st_mtime_ns)
        output = f"{completed.stdout}\n{completed.stderr}"
        assert latest, f"no decision record written (exit {completed.returncode}):\n{output}"
        return GateRun(completed.returncode, completed.stdout, completed.stderr, json.loads(latest[-1].read_text()))

    return run


# --- AWS: fake credentials and a private moto server -------------------------------------------------


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, and no shared config files, so nothing reaches a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        pytest.skip("moto_server not installed")
    port = free_port()  # tests.support.prometheus
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/moto-api/", timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_for("moto_server", answers, 30)
        yield url
    finally:
        stop_process(process)
