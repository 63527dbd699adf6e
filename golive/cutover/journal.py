"""The cutover's journal and lock: what survives a crash or ``kill -9``.

The journal is a JSON-lines file per load balancer under ``reports/cutover/``; each line is flushed and
fsynced before golive goes on, so after a crash it says which weights golive last set (or was setting) and
which step it was in. A run appends a ``start`` line and then its events; the state is read from the last
``start`` on. ``--resume`` continues an unfinished run; ``--abort`` puts traffic back on the live side.

The lock is an advisory ``flock`` on a file named for the load balancer in the system's temporary directory,
so two cutovers against one load balancer cannot run at once, whatever reports directory each uses; the
kernel releases it when the process ends, ``kill -9`` included.

Every line passes a masker as it is written (a rollback's reason may quote a URL with its password): the
configuration's when the runner gives it, else one of credential shapes.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from golive import inputs
from golive.masking import Masker

FINISHED = ("done", "rolled-back", "aborted")


class JournalError(Exception):
    """The journal or the lock forbids what was asked. One line."""


def key_of(names: Sequence[str]) -> str:
    """A short stable name for a set of traffic managers (the journal's and the lock's file name)."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


@dataclass
class State:
    """What the journal says about the last run."""

    path: Path
    started: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.started is None or any(event["event"] in FINISHED for event in self.events)

    @property
    def outcome(self) -> str | None:
        return next((event["event"] for event in reversed(self.events) if event["event"] in FINISHED), None)

    @property
    def last_weights(self) -> dict[str, int] | None:
        """The weights the last confirmed move left (the starting weights when nothing moved yet)."""
        for event in reversed(self.events):
            if event["event"] == "moved":
                return dict(event["weights"])
        return None if self.started is None else dict(self.started["weights"])

    @property
    def intended_weights(self) -> dict[str, int] | None:
        """The weights of a move that was started and not confirmed (a crash in the middle of a call)."""
        for event in reversed(self.events):
            if event["event"] == "moved":
                return None
            if event["event"] == "moving":
                return dict(event["weights"])
        return None

    @property
    def intended_step(self) -> int | None:
        for event in reversed(self.events):
            if event["event"] == "moved":
                return None
            if event["event"] == "moving":
                return int(event["step"]) if "step" in event else None
        return None

    @property
    def step(self) -> int:
        """The index of the last step whose weights were confirmed, -1 when none was."""
        moved = [event for event in self.events if event["event"] == "moved" and "step" in event]
        return int(moved[-1]["step"]) if moved else -1


class Journal:
    def __init__(self, path: Path, mask: Masker | None = None) -> None:
        self.path = path
        self._mask = mask or Masker()

    @classmethod
    def for_managers(cls, reports_dir: Path, names: Sequence[str], mask: Masker | None = None) -> Journal:
        return cls(reports_dir / "cutover" / f"{key_of(names)}.journal.jsonl", mask)

    def state(self) -> State:
        state = State(self.path)
        if not self.path.exists() and not self.path.is_symlink():
            return state
        try:
            lines = inputs.read_bytes(self.path, f"{self.path}: the cutover journal").splitlines()
        except inputs.InputError as error:
            raise JournalError(str(error)) from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = inputs.parse_json(line, f"{self.path}: line {number}")
            except inputs.InputError:
                if number == len(lines):  # a line cut short by a crash in the middle of writing it
                    break
                raise JournalError(f"{self.path}: line {number}: not JSON; the journal cannot be trusted") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("event"), str):
                raise JournalError(f"{self.path}: line {number}: not a journal entry")
            if entry["event"] == "start":
                state.started, state.events = entry, []
            else:
                state.events.append(entry)
        return state

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        entry = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, "pid": os.getpid(),
                 **self._mask.deep(copy.deepcopy(fields))}  # fmt: skip
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return entry


@contextlib.contextmanager
def locked(names: Sequence[str], lock_dir: Path | None = None) -> Iterator[Path]:
    """Hold the cutover lock of these traffic managers; JournalError at once when another process holds it."""
    directory = lock_dir or Path(tempfile.gettempdir())
    path = directory / f"golive-cutover-{key_of(names)}.lock"
    stream: TextIO = open(path, "a+", encoding="utf-8")  # noqa: SIM115  (held for the with block)
    try:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "another process"
            raise JournalError(f"another golive cutover holds the lock of {', '.join(names)} ({holder}, {path})") \
                from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"pid {os.getpid()}")
        stream.flush()
        yield path
    finally:
        stream.close()
