"""Run probes side by side and stop waiting at a bound: what a dashboard frame and a watch reading use.

Each probe has its own timeouts, but a probe can make several requests in turn, and a client library can wait
longer than it was told. ``side_by_side`` returns when every probe has finished or the bound has passed,
whichever comes first; a probe still running then is reported as :class:`Overdue` (its thread is left to end on
its own timeouts: it is never waited for again, and never holds the caller).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from golive.probes.errors import ProbeError


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
    import time

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
