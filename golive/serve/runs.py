"""Gate runs on request: the same ``golive gate`` an operator types, in a child process, bounded and kept.

Each run is a child ``golive gate NAME --golive-config=... --env=...`` (golive.gate_process.run_gate: the child pytest,
the decision record checked against the exit code, NO-GO for a run that died undecided). Runs on one
environment take turns (two gates probing and sampling one environment at once would disturb each other's
figures); a request for a gate and environment whose run is queued or running joins it, so an engine that
retries after its own timeout gets the decision of the run it started instead of starting another.

A run still going at ``serve.timeout_s`` is stopped (SIGTERM, which ``golive gate`` hands to its pytest so the
record says it was interrupted; SIGKILL after a grace) and is a NO-GO.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from golive.gates import Gate
from golive.masking import Masker, clip

LABELS = {0: "GO", 1: "REVIEW", 2: "NO-GO"}
# How long a stopped ``golive gate`` may take to end: it gives its pytest 30 s to write the NO-GO record.
STOP_GRACE_S = 45.0


@dataclass
class Run:
    """One gate run asked for over the API, from queued to decided."""

    id: str
    gate: Gate
    environment: str
    requested_at: str
    status: str = "queued"  # queued, running, done
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    verdict: str | None = None
    reasons: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None
    requests: int = 1  # how many requests this run answers (the first and those that joined it)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def answer(self) -> dict[str, Any]:
        """What the API answers for this run (the Argo Rollouts web metric reads ``verdict`` from it)."""
        return {
            "id": self.id,
            "status": self.status,
            "gate": self.gate.name,
            "environment": self.environment,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "reasons": list(self.reasons),
            "failed": failed_checks(self.record),
            "requested_at": self.requested_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "requests": self.requests,
            "record": self.record,
        }


def failed_checks(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The checks of a record that failed or errored (waived ones are not among them)."""
    checks = record.get("checks", []) if isinstance(record, dict) else []
    return [
        {key: check.get(key) for key in ("id", "title", "severity", "component", "outcome", "message")}
        for check in checks
        if isinstance(check, dict) and check.get("outcome") in ("failed", "error")
    ]


def decide(exit_code: int | None, record: dict[str, Any] | None, timed_out_after: float | None,
           output_tail: str = "") -> tuple[int, str, list[str]]:
    """(exit code, verdict, reasons) of a finished child ``golive gate``; anything short of an exit code and a
    decision record that agree is a NO-GO."""
    record_reasons = [str(reason) for reason in record.get("reasons", [])] if isinstance(record, dict) else []
    if timed_out_after is not None:
        return 2, "NO-GO", [f"the gate run was still going after serve.timeout_s ({timed_out_after:g} s): "
                            "stopped", *record_reasons]
    agrees = (isinstance(record, dict) and exit_code in LABELS and record.get("exit_code") == exit_code
              and record.get("verdict") == LABELS[exit_code])  # fmt: skip
    if agrees:
        assert exit_code is not None
        return exit_code, LABELS[exit_code], record_reasons
    why = f"the gate run ended with exit {exit_code} without a decision record that agrees: NO-GO"
    return 2, "NO-GO", [why, *([clip(output_tail, 500)] if output_tail else []), *record_reasons]


@dataclass(frozen=True)
class GateCommand:
    """How a run becomes a child ``golive gate``: the configuration the service was started with, the reports
    directory it writes to, the pytest arguments the configuration adds, and the bound."""

    config: Path
    reports_dir: Path
    pytest_args: tuple[str, ...]
    timeout_s: float
    hidden_variables: tuple[str, ...] = ()  # not passed to the child (the variable holding the service's token)

    def argv(self, run: Run, record_path: Path) -> list[str]:
        # Every value is one argument (no shell), and nothing comes from the request but a configured name.
        return [sys.executable, "-m", "golive", "gate", run.gate.name, f"--golive-config={self.config}",
                f"--env={run.environment}", f"--golive-reports={self.reports_dir}", f"--golive-json={record_path}",
                *self.pytest_args]  # fmt: skip

    def run(self, run: Run, runs_dir: Path, stopping: threading.Event) -> tuple[int, str, list[str], dict | None]:
        """Run the child to its end or to the bound; (exit code, verdict, reasons, record)."""
        record_path = runs_dir / f"{run.id}.json"
        log_path = runs_dir / f"{run.id}.log"
        environ = {k: v for k, v in os.environ.items() if k not in self.hidden_variables}
        with log_path.open("wb") as log:
            child = subprocess.Popen(self.argv(run, record_path), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=environ, start_new_session=True)
            timed_out = self._wait(child, stopping)
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        tail = _tail(log_path) if child.returncode not in (0, 1) or record is None else ""
        if stopping.is_set() and timed_out is None and child.returncode not in LABELS:
            return 2, "NO-GO", ["golive serve stopped while the gate ran"], record
        code, verdict, reasons = decide(child.returncode, record, timed_out, tail)
        return code, verdict, reasons, record if isinstance(record, dict) else None

    def _wait(self, child: subprocess.Popen[bytes], stopping: threading.Event) -> float | None:
        """Wait for the child; stop it at the bound or when the service stops. The bound, if it was reached."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _stop(child)
                return self.timeout_s
            try:
                child.wait(timeout=min(remaining, 0.5))  # short steps: the service may be stopping
                return None
            except subprocess.TimeoutExpired:
                pass
            if stopping.is_set():
                _stop(child)
                return None


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (``golive gate`` hands it to its pytest, which records the interruption), then SIGKILL for the
    child and everything under it."""
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=STOP_GRACE_S)
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(psutil.Error):
        for process in psutil.Process(child.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                process.kill()
    with contextlib.suppress(ProcessLookupError):
        child.kill()
    child.wait()


def _tail(path: Path, limit: int = 2000) -> str:
    """The last lines of a run's output (the one that says why, when a run ends without a record)."""
    try:
        text = path.read_bytes()[-limit:].decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunBook:
    """The runs asked for: the one to join for a (gate, environment), one at a time per environment, the
    finished ones kept (up to ``keep``) for ``GET /v1/runs/{id}``."""

    def __init__(self, command: GateCommand, runs_dir: Path, keep: int, masker: Masker,
                 announce: Callable[[str, str], None]) -> None:
        self.command = command
        self.runs_dir = runs_dir
        self.keep = keep
        self.masker = masker
        self.announce = announce  # (timeline kind, message)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._open: dict[tuple[str, str], Run] = {}  # (gate, environment) -> the run queued or running
        self._turns: dict[str, threading.Lock] = {}  # environment -> whose turn it is
        self._threads: list[threading.Thread] = []

    def request(self, gate: Gate, environment: str) -> tuple[Run, bool]:
        """The run that answers a request: the open one for this gate and environment, else a new one. Returns
        (run, joined)."""
        with self._lock:
            if self.stopping.is_set():
                raise RuntimeError("golive serve is stopping")
            key = (gate.name, environment)
            run = self._open.get(key)
            if run is not None:
                run.requests += 1
                return run, True
            run = Run(id=uuid.uuid4().hex[:16], gate=gate, environment=environment, requested_at=_now())
            self._open[key] = run
            self._runs[run.id] = run
            self._forget_old()
            turn = self._turns.setdefault(environment, threading.Lock())
            thread = threading.Thread(target=self._execute, args=(run, turn), name=f"golive-run-{run.id}",
                                      daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return run, False

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def runs(self) -> list[Run]:
        with self._lock:
            return list(self._runs.values())

    def close(self, timeout_s: float = STOP_GRACE_S + 15) -> None:
        """Stop taking runs; stop the running ones (NO-GO) and wait for them."""
        self.stopping.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)

    def _execute(self, run: Run, turn: threading.Lock) -> None:
        try:
            with turn:
                if self.stopping.is_set():
                    code, verdict, reasons, record = 2, "NO-GO", ["golive serve stopped before the run"], None
                else:
                    run.status, run.started_at = "running", _now()
                    self.announce("event", f"serve: run {run.id}: gate {run.gate.name} on {run.environment} started")
                    code, verdict, reasons, record = self.command.run(run, self.runs_dir, self.stopping)
        except Exception as error:  # the run could not even be started: that is a NO-GO, said in one line
            code, verdict, reasons, record = 2, "NO-GO", [f"the gate run could not run: {type(error).__name__}: "
                                                          f"{clip(str(error), 300)}"], None
        with self._lock:
            run.exit_code, run.verdict = code, verdict
            run.reasons = [self.masker(reason) for reason in reasons]
            run.record = self.masker.deep(record) if record is not None else None
            run.status, run.finished_at = "done", _now()
            self._open.pop((run.gate.name, run.environment), None)
        kind = {"GO": "event", "REVIEW": "warning"}.get(verdict, "error")
        self.announce(kind, f"serve: run {run.id}: gate {run.gate.name} on {run.environment}: {verdict} "
                            f"(exit {code}) for {run.requests} request{'s' if run.requests != 1 else ''}")
        run.done.set()

    def _forget_old(self) -> None:
        finished = [run_id for run_id, run in self._runs.items() if run.status == "done"]
        for run_id in finished[: max(len(self._runs) - self.keep, 0)]:
            del self._runs[run_id]

