"""Gate runs on request: the same gate run an operator starts with ``golive gate``, bounded and kept.

Each run is golive.gate_process.run_gate's (``--golive-config=... --env=...``): the child pytest, its output in
``serve/<id>.log``, its record in ``serve/<id>.json`` checked against the exit code, NO-GO for a run that died
undecided. Runs on one environment take turns (two gates probing and sampling one environment at once would
disturb each other's figures); a request for a gate and environment whose run is queued or running joins it, so
an engine that retries after its own timeout gets the decision of the run it started instead of starting another.

A run still going at ``serve.timeout_s`` is stopped (SIGTERM to its process group, so pytest records that it was
interrupted; SIGKILL after a grace) and is a NO-GO; so is a run stopped because the service is stopping.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import acceptance, gate_process
from golive.decision_record import DecisionRecord
from golive.gates import Gate
from golive.masking import Masker, clip

# How long a stopped run may take to end: pytest's grace to write its NO-GO record, and some.
STOP_GRACE_S = gate_process.GRACE_S + 15.0


@dataclass
class Run:
    """One gate run asked for over the API, from queued to decided."""

    id: str
    gate: Gate
    environment: str
    requested_at: str
    masker: Masker = field(default_factory=Masker, repr=False)  # what answers hide (the token too)
    status: str = "queued"  # queued, running, done
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    verdict: str | None = None
    reasons: list[str] = field(default_factory=list)
    record: DecisionRecord | None = None
    requests: int = 1  # how many requests this run answers (the first and those that joined it)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def answer(self) -> dict[str, Any]:
        """What the API answers for this run (the Argo Rollouts web metric reads ``verdict`` from it)."""
        failed = [check.summary() for check in self.record.failed_checks] if self.record is not None else []
        return {
            "id": self.id,
            "status": self.status,
            "gate": self.gate.name,
            "environment": self.environment,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "reasons": list(self.reasons),
            "failed": self.masker.deep(failed),
            "requested_at": self.requested_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "requests": self.requests,
            "record": self.masker.deep(self.record.document()) if self.record is not None else None,
        }


@dataclass(frozen=True)
class GateCommand:
    """How a run is started: the configuration the service was started with, the reports directory it writes
    to, the pytest arguments the configuration adds, and the bound (``bound_name`` names it in the NO-GO)."""

    config: Path
    reports_dir: Path
    pytest_args: tuple[str, ...]
    timeout_s: float
    expect: acceptance.Expectation  # what the record must be to be answered (golive.acceptance): release, trust
    hidden_variables: tuple[str, ...] = ()  # not passed to the child (the variable holding the service's token)
    bound_name: str = "serve.timeout_s"

    def args(self, run: Run, record_path: Path) -> list[str]:
        # Every value is one argument (no shell), and nothing comes from the request but a configured name.
        return [f"--golive-config={self.config}", f"--env={run.environment}", f"--golive-reports={self.reports_dir}",
                f"--golive-json={record_path}", *self.pytest_args]  # fmt: skip

    def run(self, run: Run, runs_dir: Path, stopping: threading.Event) -> gate_process.GateResult:
        """Run the gate to its end, to the bound, or until ``stopping`` is set; its record and log in ``runs_dir``."""
        environ = {k: v for k, v in os.environ.items() if k not in self.hidden_variables}
        result = gate_process.run_gate(run.gate.name, self.args(run, runs_dir / f"{run.id}.json"),
                                       bound_s=self.timeout_s, bound_name=self.bound_name, stopping=stopping,
                                       log=runs_dir / f"{run.id}.log", environ=environ)
        return acceptance.accept_run(result, dataclasses.replace(self.expect, environment=run.environment,
                                                                 gate=run.gate.name))


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
            run = Run(id=uuid.uuid4().hex[:16], gate=gate, environment=environment, requested_at=_now(),
                      masker=self.masker)
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
                    result = gate_process.GateResult(2, "NO-GO", ("golive serve stopped before the run",))
                else:
                    run.status, run.started_at = "running", _now()
                    self.announce("event", f"serve: run {run.id}: gate {run.gate.name} on {run.environment} started")
                    result = self.command.run(run, self.runs_dir, self.stopping)
        except Exception as error:  # the run could not even be started: that is a NO-GO, said in one line
            result = gate_process.GateResult(2, "NO-GO", (f"the gate run could not run: {type(error).__name__}: "
                                                          f"{clip(str(error), 300)}",))
        code, verdict = result.exit_code, result.verdict
        with self._lock:
            run.exit_code, run.verdict = code, verdict
            run.reasons = [self.masker(reason) for reason in result.reasons]
            run.record = result.record
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

