"""Run probes side by side and stop waiting at a bound: what a dashboard frame and a watch reading use.

Each probe has its own timeouts, but a probe can make several requests in turn, and a client library can wait
longer than it was told. ``side_by_side`` returns when every probe has finished or the bound has passed,
whichever comes first; a probe still running then is reported as :class:`Overdue` (its thread is left to end on
its own timeouts: it is never waited for again, and never holds the caller).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from golive.probes.errors import ProbeError

STOPPED = "still running when the gate's bound passed: stopped (golive.watchdog)"


class BoundExceeded(BaseException):
    """Raised in a check still running when its gate's bound passes (golive.watchdog).

    A BaseException, so a client library's ``except Exception`` cannot swallow it; pytest reports the check as
    failed with this message, and the run stops there."""

    def __init__(self) -> None:
        super().__init__(STOPPED)


class _Observing:
    """How long this process has spent in ``observe`` (observations that overlap counted once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._since = 0.0
        self._total = 0.0

    def enter(self, now: float) -> None:
        with self._lock:
            if self._active == 0:
                self._since = now
            self._active += 1

    def leave(self, now: float) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self._total += now - self._since

    def total(self, now: float) -> float:
        with self._lock:
            return self._total + (now - self._since if self._active else 0.0)


_OBSERVING = _Observing()


def observe(seconds: float) -> None:
    """Wait ``seconds`` on purpose, to see whether something changes (a queue's depth, a scrape, a transaction
    being consumed). A gate's bound (golive.watchdog) does not count this time: it is planned, and each such wait
    is bounded by its caller; the network calls around it are bounded by their timeouts and do count."""
    _OBSERVING.enter(time.monotonic())
    try:
        time.sleep(seconds)
    finally:
        _OBSERVING.leave(time.monotonic())


def observed_s(now: float) -> float:
    """Seconds this process has spent in ``observe`` up to ``now`` (``time.monotonic()``)."""
    return _OBSERVING.total(now)


@dataclass(frozen=True)
class Overdue:
    """A probe that had not finished when the bound passed."""

    bound_s: float

    def error(self, component: str, endpoint: str) -> ProbeError:
        return ProbeError(component, endpoint, f"no reading within {self.bound_s:g}s (the bound of one frame)")


class _Job:
    def __init__(self, measure: Callable[[], Any]) -> None:
        self.measure = measure
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.measure()
        except BaseException as error:  # reported to the caller, who judges it
            self.error = error


def side_by_side(
    jobs: Mapping[str, Callable[[], Any]], bound_s: float, clock: Callable[[], float] | None = None
) -> dict[str, Any]:
    """Run every job at once; each key maps to its value, the exception it raised, or :class:`Overdue`."""
    now = clock or time.monotonic
    runs = {key: _Job(measure) for key, measure in jobs.items()}
    threads = {key: threading.Thread(target=job.run, name=f"golive-{key}", daemon=True) for key, job in runs.items()}
    for thread in threads.values():
        thread.start()
    deadline = now() + bound_s
    for thread in threads.values():
        thread.join(max(0.0, deadline - now()))
    results: dict[str, Any] = {}
    for key, job in runs.items():
        if threads[key].is_alive():
            results[key] = Overdue(bound_s)
        else:
            results[key] = job.error if job.error is not None else job.value
    return results
