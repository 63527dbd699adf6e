"""The gate's bound: the checks of a gate run end within the longest ``timeout_s`` + 5 s, whatever a target does.

Each probe has a total deadline and a service that hung once is not asked again (golive.probes.errors), so a
gate's checks should end well within the bound; the watchdog holds the promise when something else waits (a
client library past its timeout, a check's own loop). It runs in each process that runs checks (the only
process; under xdist each worker) and counts from the moment that process starts its first check: the
interpreter, pytest's start-up, plugin loading, collection and xdist's workers starting are not counted. Time
golive waits on purpose to see a change (``golive.probes.bounded.observe``: a queue's depth over 3 s, a fresh
scrape, a synthetic transaction being consumed) is not counted either; network calls are.

When the bound passes, the run ends as a NO-GO whose reason names the checks still running (``bound exceeded:
...``) and whose record says ``partial`` (``stopped``): the watchdog raises ``BoundExceeded`` in the running check
(a signal to the main thread, so a blocked read is woken; it fails the check with its message) and stops the
session there, as ``-x`` would: pytest ends it and writes the record, the HTML report and JUnit XML; under xdist
the worker tells the controller, which stops the other workers. A process that has not ended ``GRACE_S`` later (a
check stuck where the signal cannot reach it) is ended: the only process writes the NO-GO record first; a
worker's end is a crashed worker to the controller (NO-GO as well).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from golive import decision
from golive.probes import bounded
from golive.run import OVERRUN_OUTPUT, GateRun, decides_nothing, gate_run

MARGIN_S = 5.0
GRACE_S = 5.0

_WATCHDOG = pytest.StashKey["Watchdog"]()
_SIGNAL = signal.SIGUSR1


def _raise_bound_exceeded(signum: int, frame: Any) -> None:
    raise bounded.BoundExceeded


def bound_of(run: GateRun) -> tuple[float, str]:
    """The gate's bound in seconds, and how it is made (for messages)."""
    assert run.environment is not None
    longest = run.environment.max_timeout_s()
    return longest + MARGIN_S, f"the longest timeout_s, {longest:g} s, + {MARGIN_S:g} s"


class Watchdog:
    """Watches one process's checks; ``on_overrun(message)`` once the bound has passed, then the interruption."""

    def __init__(
        self,
        bound_s: float,
        made_of: str,
        on_overrun: Callable[[str], None],
        hard_stop: Callable[[str], None],
        session: pytest.Session,
        grace_s: float = GRACE_S,
    ) -> None:
        self.bound_s, self.made_of, self.grace_s, self.session = bound_s, made_of, grace_s, session
        self._on_overrun, self._hard_stop = on_overrun, hard_stop
        self._lock = threading.Lock()
        self._running: dict[str, None] = {}  # in the order they started
        self._started: tuple[float, float] | None = None  # (clock, observed seconds) at the first check
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="golive-watchdog", daemon=True)
        self.previous_handler: Any = signal.SIG_DFL

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        with self._lock:
            self._running[nodeid] = None
            if self._started is None:
                now = time.monotonic()
                self._started = (now, bounded.observed_s(now))
                self._thread.start()

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        with self._lock:
            self._running.pop(nodeid, None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._done.set()  # the checks are over: what follows (the record, the reports) is not theirs
        if threading.current_thread() is threading.main_thread():
            signal.signal(_SIGNAL, self.previous_handler)

    def counted_s(self) -> float:
        """Seconds of the checks so far, time spent observing on purpose left out."""
        if self._started is None:
            return 0.0
        began, observed_then = self._started
        now = time.monotonic()
        return (now - began) - (bounded.observed_s(now) - observed_then)

    def _watch(self) -> None:
        while not self._done.is_set():
            left = self.bound_s - self.counted_s()
            if left <= 0:
                self._fire()
                return
            self._done.wait(left)

    def _fire(self) -> None:
        with self._lock:
            running = list(self._running)
        still = ", ".join(running) if running else "no check (between checks)"
        message = (f"the checks ran past the gate's bound of {self.bound_s:g} s ({self.made_of}); "
                   f"still running: {still}")  # fmt: skip
        self._on_overrun(message)
        self.session.shouldstop = message  # no check starts after this one
        if running:
            signal.pthread_kill(threading.main_thread().ident or 0, _SIGNAL)  # BoundExceeded in the running check
        if not self._done.wait(self.grace_s):
            self._hard_stop(message)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    run = gate_run(config)
    if run is None or run.environment is None or decides_nothing(config):
        return
    worker = hasattr(config, "workerinput")
    if not (worker or run.is_controller) or config.pluginmanager.has_plugin("dsession"):
        return  # not a run of checks here; under xdist the controller runs none: each worker watches its own
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may handle signals (an in-process run on another thread: not watched)
    bound_s, made_of = bound_of(run)
    if worker:
        watchdog = Watchdog(bound_s, made_of, lambda message: _tell_controller(config, run, message), _end_worker,
                            session)  # fmt: skip
    else:
        watchdog = Watchdog(bound_s, made_of, lambda message: _note(run, message),
                            lambda message: _decide_and_end(config, run, message), session)  # fmt: skip
    watchdog.previous_handler = signal.signal(_SIGNAL, _raise_bound_exceeded)
    config.stash[_WATCHDOG] = watchdog
    config.pluginmanager.register(watchdog, "golive-watchdog")


def _note(run: GateRun, message: str) -> None:
    run.conditions.overrun = run.conditions.overrun or run.masker(message)


def _tell_controller(config: pytest.Config, run: GateRun, message: str) -> None:
    config.workeroutput[OVERRUN_OUTPUT] = run.masker(message)  # type: ignore[attr-defined]


def _end_worker(message: str) -> None:
    os._exit(int(pytest.ExitCode.INTERRUPTED))


def _decide_and_end(config: pytest.Config, run: GateRun, message: str) -> None:
    """The run did not end when interrupted: decide on what it has (NO-GO), write the record, end the process."""
    code = decision.conclude(config, run, int(pytest.ExitCode.INTERRUPTED))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(run.masker(f"golive: {message}; the run did not end within {GRACE_S:g} s of being "
                                       f"interrupted: NO-GO (exit {code}), record {run.json_path}"))  # fmt: skip
        reporter.flush()
    os._exit(code)
