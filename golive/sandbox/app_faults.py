"""The orchestrator's faults: error rate, added latency and dependencies reported down, from the fault file."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

log = logging.getLogger("golive.sandbox.app")


def error_text(exc: BaseException) -> str:
    """One line saying what went wrong, for health fields and error bodies."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


class Faults:
    """Error rate and added latency, read from the fault file when its modification time changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.error_rate = 0.0
        self.latency_ms = 0.0
        self.dependencies_down: frozenset[str] = frozenset()
        self._mtime: float | None = None
        self._debt = 0.0

    def refresh(self) -> None:
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self.error_rate, self.latency_ms, self._mtime = 0.0, 0.0, None
            self.dependencies_down = frozenset()
            return
        if mtime == self._mtime:
            return
        try:
            data = json.loads(self.path.read_text())
            self.error_rate = min(max(float(data.get("error_rate", 0.0)), 0.0), 1.0)
            self.latency_ms = max(float(data.get("latency_ms", 0.0)), 0.0)
            self.dependencies_down = frozenset(str(name) for name in data.get("dependency_down", []))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.error("ignoring unreadable fault file %s: %s", self.path, error_text(exc))
            self.error_rate, self.latency_ms, self.dependencies_down = 0.0, 0.0, frozenset()
        self._mtime = mtime
        self._debt = 0.0

    def should_fail(self) -> bool:
        """Error diffusion: exactly ``error_rate`` of the requests fail, evenly spread."""
        if self.error_rate <= 0.0:
            return False
        self._debt += self.error_rate
        if self._debt >= 1.0 - 1e-9:
            self._debt -= 1.0
            return True
        return False
