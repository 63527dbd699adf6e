"""Running one gate: ``golive gate N``'s child pytest, whose exit code must agree with the decision record it
leaves. The one place a gate run is started in-process (``golive gate``, the demo, ``golive cutover``'s steps);
``golive serve`` and the engine hooks start ``golive gate`` itself as a child process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from golive import gates, record
from golive.rootdir import PATH_OPTIONS


def run_gate(gate: str, pytest_args: Sequence[str]) -> tuple[int, dict[str, object] | None]:
    """Run one gate in a child pytest and check it left a decision record agreeing with its exit code.

    A child that died without deciding (a crash, a kill, an ``os._exit`` inside a check) is a NO-GO, and so is
    one whose record does not carry the run id handed to it: a record left at that path by an earlier run.
    """
    expression = gates.BY_ARGUMENT[gate].expression
    args = _joined_path_options(pytest_args)
    if any(arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")) for arg in args):
        print("golive: gate sets the marker expression itself; drop -m", file=sys.stderr)
        return 2, None
    if _decides_nothing(args):
        # Listing, collecting or planning the gate's checks: pytest's answer is the answer, with no verdict.
        return _run_child([sys.executable, "-m", "pytest", "-m", expression, *args], dict(os.environ))[0], None
    with tempfile.TemporaryDirectory(prefix="golive-gate-") as scratch:
        record_path = _json_option(args)
        extra: list[str] = []
        if record_path is None:
            record_path = Path(scratch) / "record.json"
            extra = [f"--golive-json={record_path}"]  # one argument: pytest would take a separate PATH for a test path
        run_id = uuid.uuid4().hex
        code, stopped_by = _run_child([sys.executable, "-m", "pytest", "-m", expression, *extra, *args],
                                      {**os.environ, record.RUN_ID_VARIABLE: run_id})
        if stopped_by:
            print(f"golive: the gate run was interrupted by {stopped_by} (pytest exit {code}): NO-GO", file=sys.stderr)
            return 2, None
        if code == 4:  # a pytest usage error, before any check ran: pytest said why
            return 4, None
        try:
            document = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            document = None
        if not isinstance(document, dict) or document.get("run_id") != run_id:
            document = None  # absent, unreadable, or left at that path by an earlier run
        if document is None or document.get("exit_code") != code or code not in (0, 1, 2):
            print(
                f"golive: the gate run ended with exit {code} without a matching decision record: NO-GO",
                file=sys.stderr,
            )
            return 2, document
        return code, document


def _decides_nothing(args: Sequence[str]) -> bool:
    flags = {flag for options in record.NO_DECISION_OPTIONS.values() for flag in options}
    return any(arg in flags for arg in args)


_GRACE_S = 30.0  # how long an interrupted pytest may take to write its NO-GO record before it is killed


def _run_child(command: list[str], environ: dict[str, str]) -> tuple[int, str | None]:
    """Run pytest in its own process group; SIGINT or SIGTERM to golive reaches all of it (xdist workers too).

    Returns the exit status and the signal that interrupted the run, if one did. No process of the group is
    left behind.
    """
    child = subprocess.Popen(command, env=environ, process_group=0)
    terminal = _hand_terminal_to(child.pid)
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        _signal_group(child.pid, signum)

    handled = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {signum: signal.signal(signum, forward) for signum in handled}
    try:
        while True:
            try:
                code = child.wait(timeout=_GRACE_S if received else None)
                break
            except subprocess.TimeoutExpired:
                _signal_group(child.pid, signal.SIGKILL)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _signal_group(child.pid, signal.SIGKILL)  # whatever the run left (an xdist worker) goes with it
        if terminal is not None:
            _take_terminal_back(terminal)
    return code, signal.Signals(received[0]).name if received else None


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
