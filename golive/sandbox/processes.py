"""Start, watch and stop the sandbox's processes by PID, safely across PID reuse.

Each process is started in its own session (so its process group id is its PID) with its output in a log
file, and recorded as PID plus kernel start time: a recorded PID only counts as ours while the process at
that PID has the same start time. Stopping sends the process its polite signal, waits a bounded time, then
SIGKILLs its whole process group (PostgreSQL's and HAProxy's children included). The process table (who runs,
who is a zombie, command lines) is read through psutil.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    start_ticks: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_ticks": self.start_ticks}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        return cls(int(data["pid"]), int(data["start_ticks"]))


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (field 22 of /proc/PID/stat): what state.json records.
    psutil gives this only as seconds since the epoch (moved by clock changes), so it is read here."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return int(raw[raw.rindex(")") + 2 :].split()[19])


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def reap(pid: int) -> None:
    """Collect a finished child of this process, so it does not linger as a zombie that looks alive."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(record: ProcessRecord) -> bool:
    reap(record.pid)
    return _running(record.pid) and start_ticks(record.pid) == record.start_ticks


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``."""
    members = []
    for process in psutil.process_iter(["status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(process.pid) == pgid:
                members.append(process.pid)
    return members


def cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline()).strip()
    except psutil.Error:
        return ""


def processes_mentioning(text: str) -> list[int]:
    """Live processes (other than this one) whose command line contains ``text``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if process.pid == os.getpid() or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if text in " ".join(process.info["cmdline"] or ()):
            found.append(process.pid)
    return found


def spawn(
    command: Sequence[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> ProcessRecord:
    """Start ``command`` detached in its own session, output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(command)}\n".encode())
        log.flush()
        extra: dict[str, Any] = {}
        if user is not None:
            extra = {"user": user, "group": user, "extra_groups": []}
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            **extra,
        )
    ticks = start_ticks(process.pid)
    if ticks is None:  # exited at once; the caller's readiness wait reports it with the log
        ticks = -1
    return ProcessRecord(process.pid, ticks)


def wait_gone(pids: Sequence[int], timeout_s: float) -> list[int]:
    """Wait until none of ``pids`` runs; return those still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    remaining = list(pids)
    while True:
        for pid in remaining:
            reap(pid)
        remaining = [pid for pid in remaining if _running(pid)]
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(0.05)


def stop(record: ProcessRecord, polite: signal.Signals = signal.SIGTERM, timeout_s: float = 10.0) -> list[int]:
    """Stop a recorded process and its process group; return PIDs that survived even SIGKILL (normally none)."""
    pgid = record.pid
    if not is_alive(record) and start_ticks(record.pid) is not None:
        return []  # the PID now belongs to someone else's process (and so may its group id)
    if is_alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, polite)
        wait_gone([record.pid], timeout_s)
    leftovers = group_members(pgid)
    if leftovers:
        # Children (PostgreSQL backends, HAProxy workers) normally leave with their parent; give them a moment.
        leftovers = wait_gone(leftovers, 2.0)
    if leftovers or is_alive(record):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        return wait_gone([*leftovers, record.pid], 5.0)
    return []


def wait_reaped(pids: Sequence[int], timeout_s: float) -> list[int]:
    """Wait until ``pids`` have left the process table (zombies included: an orphan's zombie lasts until init
    collects it, and ``pgrep`` still lists it); return those still listed at the deadline."""
    deadline = time.monotonic() + timeout_s
    remaining = list(pids)
    while True:
        for pid in remaining:
            reap(pid)
        remaining = [pid for pid in remaining if psutil.pid_exists(pid)]
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(0.05)
