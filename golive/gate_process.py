"""Running one gate: the one runner and process supervisor of golive. ``golive gate``, the demo, ``golive
cutover``'s steps, ``golive serve``'s runs and the AWS lifecycle hooks all start their gate run here.

A run is a child pytest with the gate's marker expression, in its own process group, handed a run id
($GOLIVE_RUN_ID) that its decision record must carry back. It ends as the record says only when that record
loads (golive.decision_record: bounded, validated), is this run's, and agrees with the exit code; anything
short of that is a NO-GO saying why. A run still going at its bound, or stopped because its caller is
shutting down, or interrupted by SIGINT/SIGTERM, is a NO-GO too: SIGTERM to its process group first (pytest
then writes its interrupted NO-GO record), SIGKILL after ``GRACE_S``; no process of the group is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from golive import gates, record
from golive.decision_record import DecisionRecord, RecordError
from golive.rootdir import PATH_OPTIONS

GRACE_S = 30.0  # how long a stopped pytest may take to write its NO-GO record before its group is killed
VERDICT_CODES = {"GO": 0, "REVIEW": 1, "NO-GO": 2}


@dataclass(frozen=True)
class GateResult:
    """How a gate run ended.

    ``status`` is what ``golive gate`` exits with: the verdict's code, pytest's own status for a run that decides
    nothing (``--collect-only``, ...) and 4 for a pytest usage error. ``verdict`` is NO-GO unless a record of this
    run that agrees with its exit code says otherwise; ``record`` is that record. ``problem`` is the runner's
    own line when it, not the record, made the run a NO-GO."""

    status: int
    verdict: str
    reasons: tuple[str, ...] = ()
    record: DecisionRecord | None = None
    problem: str | None = None

    @property
    def exit_code(self) -> int:
        """The verdict's exit code (0, 1 or 2), whatever the process's status."""
        return VERDICT_CODES[self.verdict]


def run_gate(gate: str, pytest_args: Sequence[str], *, bound_s: float | None = None,
             bound_name: str = "its bound", stopping: threading.Event | None = None, log: Path | None = None,
             environ: Mapping[str, str] | None = None) -> GateResult:
    """Run one gate (``gates.BY_ARGUMENT``) in a child pytest and judge how it ended.

    ``bound_s``: a run still going then is stopped and is a NO-GO (``bound_name`` names the bound in the
    reason). ``stopping``: set it to stop the run (a NO-GO). ``log``: the run's output goes to that file, not to
    the terminal, and its last lines are quoted when the run ended without a record. ``environ``: the child's
    environment (default: golive's own). Without ``log``, the runner's own line goes to stderr.
    """
    environ = dict(os.environ if environ is None else environ)
    expression = gates.BY_ARGUMENT[gate].expression
    args = _joined_path_options(pytest_args)
    if any(arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")) for arg in args):
        return _said(GateResult(2, "NO-GO", ("gate sets the marker expression itself; drop -m",),
                                problem="gate sets the marker expression itself; drop -m"), log)
    supervisor = _Supervisor(bound_s, bound_name, stopping, log)
    if _decides_nothing(args):
        # Listing, collecting or planning the gate's checks: pytest's answer is the answer, with no verdict.
        status, stopped = supervisor.run([sys.executable, "-m", "pytest", "-m", expression, *args], environ)
        return GateResult(status, "NO-GO", (stopped or "the run decides nothing: no decision record",))
    with tempfile.TemporaryDirectory(prefix="golive-gate-") as scratch:
        record_path = _json_option(args)
        extra: list[str] = []
        if record_path is None:
            record_path = Path(scratch) / "record.json"
            extra = [f"--golive-json={record_path}"]  # one argument: pytest would take a separate PATH for a test path
        run_id = uuid.uuid4().hex
        status, stopped = supervisor.run([sys.executable, "-m", "pytest", "-m", expression, *extra, *args],
                                         {**environ, record.RUN_ID_VARIABLE: run_id})
        loaded, unread = _load(record_path, run_id)
    tail = _tail(log) if log is not None and (loaded is None or status not in (0, 1)) else ""
    return _said(decide(status, loaded, stopped=stopped, tail=tail, unread=unread), log)


def decide(status: int, loaded: DecisionRecord | None, *, stopped: str | None = None, tail: str = "",
           unread: str | None = None) -> GateResult:
    """How a finished run ended: ``status`` its exit status, ``loaded`` its record (already checked to be this
    run's), ``stopped`` why the runner stopped it, ``tail`` its last output lines, ``unread`` why no record
    loaded. Fails closed: only a record that agrees with the status decides."""
    record_reasons = tuple(loaded.reasons) if loaded is not None else ()
    quoted = (tail,) if tail else ()
    if stopped is not None:
        # Stopped is NO-GO whatever the record says; its own NO-GO (pytest's, "interrupted") still tells more.
        kept = loaded if loaded is not None and loaded.agrees(status) and loaded.verdict == "NO-GO" else None
        reasons = (stopped, *(record_reasons if kept is not None else quoted))
        return GateResult(2, "NO-GO", reasons, kept, problem=stopped)
    if status == 4 and loaded is None:  # a pytest usage error, before any check ran: pytest said why
        return GateResult(4, "NO-GO", ("pytest stopped on a usage error (exit 4) before any check ran", *quoted))
    if loaded is None or not loaded.agrees(status):
        problem = f"the gate run ended with exit {status} without a matching decision record: NO-GO"
        detail = (unread,) if unread else (
            (f"its record says {loaded.verdict} (exit {loaded.exit_code})",) if loaded is not None else ())
        return GateResult(2, "NO-GO", (problem, *detail, *quoted, *record_reasons), None, problem=problem)
    return GateResult(status, loaded.verdict, record_reasons, loaded)


def _said(result: GateResult, log: Path | None) -> GateResult:
    if result.problem and log is None:  # the run spoke on the terminal: so does its runner
        print(f"golive: {result.problem}", file=sys.stderr, flush=True)
    return result


def _load(path: Path, run_id: str) -> tuple[DecisionRecord | None, str | None]:
    """The run's record, or (None, why not): absent, unreadable, not a record, or left by another run."""
    if not path.exists():
        return None, None
    try:
        loaded = DecisionRecord.load(path)
    except RecordError as error:
        return None, str(error)
    if loaded.run_id != run_id:
        return None, f"decision record {path.name}: not this run's (its run_id is {loaded.run_id!r})"
    return loaded, None


def _decides_nothing(args: Sequence[str]) -> bool:
    flags = {flag for options in record.NO_DECISION_OPTIONS.values() for flag in options}
    return any(arg in flags for arg in args)


class _Supervisor:
    """One child process group, to its end: bounded, stoppable, signals forwarded, output to a log if asked."""

    def __init__(self, bound_s: float | None, bound_name: str, stopping: threading.Event | None,
                 log: Path | None) -> None:
        self.bound_s, self.bound_name, self.stopping, self.log = bound_s, bound_name, stopping, log
        self.received: list[int] = []

    def run(self, command: list[str], environ: dict[str, str]) -> tuple[int, str | None]:
        """(exit status, why the run was stopped or None)."""
        output: IO[bytes] | None = self.log.open("wb") if self.log is not None else None
        try:
            child = subprocess.Popen(command, env=environ, process_group=0,
                                     stdin=subprocess.DEVNULL if output is not None else None,
                                     stdout=output, stderr=subprocess.STDOUT if output is not None else None)
        except BaseException:
            if output is not None:
                output.close()
            raise
        terminal = _hand_terminal_to(child.pid) if output is None else None
        handled = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
        previous = {signum: signal.signal(signum, self._forwarder(child.pid)) for signum in handled}
        try:
            return self._wait(child)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            _signal_group(child.pid, signal.SIGKILL)  # whatever the run left (an xdist worker) goes with it
            if terminal is not None:
                _take_terminal_back(terminal)
            if output is not None:
                output.close()

    def _forwarder(self, pgid: int) -> Callable[[int, object], None]:
        def forward(signum: int, frame: object) -> None:
            self.received.append(signum)
            _signal_group(pgid, signum)

        return forward

    def _wait(self, child: subprocess.Popen[bytes]) -> tuple[int, str | None]:
        started = time.monotonic()
        stopped: str | None = None
        stopped_at: float | None = None
        while True:
            try:
                code = child.wait(timeout=0.5)  # short steps: a bound, a stop or a signal may come
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if stopped_at is None and self.received:
                stopped_at = now  # forwarded already; said once the run has ended, with pytest's status
            elif stopped_at is None and self.bound_s is not None and now - started >= self.bound_s:
                stopped, stopped_at = (f"the gate run was still going after {self.bound_name} "
                                       f"({self.bound_s:g} s): stopped"), now
                _signal_group(child.pid, signal.SIGTERM)
            elif stopped_at is None and self.stopping is not None and self.stopping.is_set():
                stopped, stopped_at = "the gate run was stopped while it ran: golive is shutting down", now
                _signal_group(child.pid, signal.SIGTERM)
            elif stopped_at is not None and now - stopped_at >= GRACE_S:
                _signal_group(child.pid, signal.SIGKILL)
        if stopped is None and self.received:
            stopped = self._interrupted(code)
        return code, stopped

    def _interrupted(self, code: int) -> str:
        return f"the gate run was interrupted by {signal.Signals(self.received[0]).name} (pytest exit {code}): NO-GO"


def _hand_terminal_to(pgid: int) -> int | None:
    """At a terminal, make the run's process group the foreground one: ``--pdb``, ``--trace`` and
    ``breakpoint()`` read the keyboard (a background group reading it is stopped), and Ctrl-C reaches every
    process of the run from the terminal itself. Returns the terminal's descriptor, or None when golive runs
    without one (CI, a pipe) or in the background."""
    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may change signal dispositions (SIGTTOU, to take it back)
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp():
            return None
        os.tcsetpgrp(fd, pgid)
    except (OSError, ValueError):
        return None
    _signal_group(pgid, signal.SIGCONT)  # had it read the terminal before it was given it, it was stopped
    return fd


def _take_terminal_back(fd: int) -> None:
    # golive is in the background now: asking for the terminal back would stop it, unless SIGTTOU is ignored.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, os.getpgrp())
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group has already gone
        os.killpg(pgid, signum)


def _tail(path: Path, limit: int = 2000) -> str:
    """The last lines of a run's output (the ones that say why, when a run ends without a record)."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(path.stat().st_size - limit, 0))
            text = handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:])[:500]


def _joined_path_options(args: Sequence[str]) -> list[str]:
    """`--golive-config PATH` -> `--golive-config=PATH`.

    pytest picks its rootdir before plugins register their options, so a separate path value outside the
    project would be taken for a test path and move the rootdir (and with it testpaths and reports/); the
    plugin puts it back (golive.rootdir), and the wrapper does not rely on that.
    """
    joined: list[str] = []
    index = 0
    while index < len(args):
        if args[index] in PATH_OPTIONS and index + 1 < len(args):
            joined.append(f"{args[index]}={args[index + 1]}")
            index += 2
        else:
            joined.append(args[index])
            index += 1
    return joined


def _json_option(args: Sequence[str]) -> Path | None:
    """The path given with --golive-json, if the caller passed one."""
    for arg in args:
        if arg.startswith("--golive-json="):
            return Path(arg.split("=", 1)[1])
    return None
