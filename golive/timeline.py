"""The deployment timeline: events with UTC time and elapsed time, in an append-only file under reports/.

Every process of a deployment (the shell running the runbook, deploy scripts, every gate run) appends to the
same JSON-lines file; a line is written with one ``write`` on an ``O_APPEND`` descriptor, so concurrent
writers never interleave. ``T+`` times count from the ``start`` event (the runbook's T+0), or from ``init``
before the deployment starts.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from golive import inputs
from golive.masking import mask_url

KINDS = ("init", "start", "phase", "event", "warning", "error", "complete", "gate")
TIMELINE_FILE = "timeline.jsonl"


class TimelineError(Exception):
    """The timeline file cannot be read or written. One line."""


@dataclass(frozen=True)
class Event:
    at: str  # ISO-8601 UTC
    kind: str
    message: str
    source: str  # who wrote it: user@host pid, or the gate run
    pid: int

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.at)


@dataclass(frozen=True)
class Entry:
    event: Event
    elapsed_s: float | None  # since T+0 (start), or since init before start

    @property
    def elapsed(self) -> str:
        if self.elapsed_s is None:
            return "      "
        sign = "-" if self.elapsed_s < 0 else "+"
        minutes, seconds = divmod(int(abs(self.elapsed_s)), 60)
        return f"T{sign}{minutes:02d}:{seconds:02d}"


class Timeline:
    """One deployment's timeline file. A Python API for deployment scripts as well as the CLI."""

    def __init__(self, path: Path, mask: Callable[[str], str] | None = None) -> None:
        self.path = path
        self._mask = mask or mask_url  # every line is masked as it is written (the configuration's secrets too)

    @classmethod
    def in_reports(cls, reports_dir: Path, mask: Callable[[str], str] | None = None) -> Timeline:
        return cls(reports_dir / TIMELINE_FILE, mask)

    def init(self, message: str = "timeline initialised") -> Event:
        """Start a new timeline; an earlier one is kept beside it, renamed with its first event's time."""
        if self.path.exists() and self.path.stat().st_size:
            first = next(iter(self.read()), None)
            stamp = first.moment.strftime("%Y%m%dT%H%M%SZ") if first else "unknown"
            archived = self.path.with_name(f"timeline-{stamp}.jsonl")
            number = 1
            while archived.exists():
                number += 1
                archived = self.path.with_name(f"timeline-{stamp}-{number}.jsonl")
            self.path.rename(archived)
        return self.add("init", message)

    def add(self, kind: str, message: str, source: str | None = None, now: datetime | None = None) -> Event:
        if kind not in KINDS:
            raise TimelineError(f"unknown event kind {kind!r} (one of: {', '.join(KINDS)})")
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        event = Event(at=moment.isoformat(timespec="milliseconds"), kind=kind, message=self._mask(message),
                      source=self._mask(source or _source()), pid=os.getpid())
        line = (json.dumps(asdict(event), sort_keys=True) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise TimelineError(f"{self.path}: cannot append ({error.strerror})") from None
        return event

    def read(self) -> list[Event]:
        if not self.path.exists() and not self.path.is_symlink():
            return []
        try:
            lines = inputs.read_bytes(self.path, str(self.path)).splitlines()
        except inputs.InputError as error:
            raise TimelineError(str(error)) from None
        events = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(Event(**inputs.parse_json(line, f"{self.path}: line {number}")))
            except (ValueError, TypeError):
                raise TimelineError(f"{self.path}: line {number}: not a timeline event") from None
        return sorted(events, key=lambda event: event.moment)

    def entries(self) -> list[Entry]:
        return with_elapsed(self.read())


def with_elapsed(events: Iterable[Event]) -> list[Entry]:
    ordered = sorted(events, key=lambda event: event.moment)
    start = next((e for e in ordered if e.kind == "start"), None) or next((e for e in ordered if e.kind == "init"),
                                                                          None)
    origin = start.moment if start else None
    return [Entry(e, (e.moment - origin).total_seconds() if origin else None) for e in ordered]


def _source() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"
