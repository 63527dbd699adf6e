"""A step's bake: readings of the candidate and of the front door every interval, through the rollback triggers.

The readings are the ones ``golive watch`` takes (golive.watch), each series on its own daemon thread, so a slow
one (a front door whose requests wait on a dead server) never delays judging the other; a reading not taken
within its bound is no data, which counts against health.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import cast

from golive.cutover import record as cutover_record
from golive.cutover.context import Context, utc
from golive.cutover.plan import Step
from golive.probes import http as http_probe
from golive.probes.errors import ProbeError
from golive.triggers import Evaluator, Firing, Reading
from golive.watch import Probes, describe, take_reading

FRONT_RULES = ("error_rate", "p95_ms")  # what the front door's readings can tell: the others are the candidate's


class _Source:
    """One series of readings (the candidate, the front door) taken on its own daemon thread, so a slow one (a
    front door whose requests wait on a dead server) never delays judging the other."""

    def __init__(self, name: str, label: str, take: Callable[[], Reading], evaluator: Evaluator,
                 bound_s: float, clock: Callable[[], float]) -> None:
        self.name, self.label, self.take, self.evaluator = name, label, take, evaluator
        self.bound_s, self.clock = bound_s, clock
        self.done = threading.Event()
        self.result: Reading | None = None
        self.started: float | None = None

    def start(self) -> None:
        if self.started is not None:
            return  # the previous reading is still being taken: one at a time
        self.done.clear()
        self.result, self.started = None, self.clock()

        def work() -> None:
            try:
                self.result = self.take()
            except Exception as error:  # a probe's bug is no data, never a silent pass
                what = f"{type(error).__name__}: {error}"
                self.result = Reading(at=cast(float, self.started), notes={self.name: what})
            self.done.set()

        threading.Thread(target=work, name=f"golive-cutover-{self.name}", daemon=True).start()

    def collect(self) -> Reading | None:
        """The finished reading; a no-data reading once it has taken longer than its bound; None meanwhile."""
        if self.started is None:
            return None
        if self.done.is_set() and self.result is not None:
            reading, self.started = self.result, None
            return reading
        if self.clock() - self.started > self.bound_s:
            at, self.started = self.started, None
            return Reading(at=at, notes={self.name: f"no reading within {self.bound_s:g} s (one reading's bound)"})
        return None


def bake(context: Context, step: Step, story: cutover_record.StepRecord) -> tuple[str, str] | None:
    """Readings every interval for ``bake_s``; (trigger name, message) when one fires, else None."""
    interval = context.section.interval_s
    requests = context.section.sample_requests
    probes = Probes(context.candidate, interval, requests)
    front_view = dataclasses.replace(context.candidate, name="front door", url=context.front_url)
    front_probes = Probes(front_view, interval, requests)
    bound = probes.reading_bound_s
    sources = [
        _Source("candidate", context.candidate.name, lambda: take_reading(probes, context.clock, context.want_memory),
                Evaluator(context.rules), bound, context.clock),
        _Source("front", "front door", lambda: _front_reading(front_probes, context.clock),
                Evaluator([rule for rule in context.rules if rule.name in FRONT_RULES]), bound, context.clock),
    ]  # fmt: skip
    origin = context.clock()
    story.bake_started = utc()
    count = 0
    while True:
        if context.interrupted.is_set():
            return "interrupted", "interrupted (SIGINT/SIGTERM) during the bake"
        for source in sources:
            source.start()
        count += 1
        sources[0].done.wait(bound + 0.1)  # the candidate's reading paces the loop; the front door's joins when ready
        for source in sources:
            reading = source.collect()
            if reading is None:
                continue
            context.story.reading(source.name, reading)
            shown = describe(reading, origin) if source.name == "candidate" else _describe_front(reading, origin)
            context.say(f"  {source.label:>10}  {shown}")
            firings = source.evaluator.observe(reading)
            if firings:
                return _fired(context, firings[0], source.label, origin)
        elapsed = context.clock() - origin
        if elapsed >= step.bake_s:
            story.bake_ended = utc()
            context.say(f"  bake of {step.bake_s:g} s at {step.share}%: no trigger fired in {count} readings")
            return None
        next_at = origin + count * interval
        context.sleep(max(0.0, min(next_at - context.clock(), step.bake_s - elapsed)))


def _fired(context: Context, firing: Firing, label: str, origin: float) -> tuple[str, str]:
    message = f"{label}: {firing.message()}; condition since T+{firing.since - origin:.1f}s of the bake"
    context.story.fired_at_monotonic = context.clock()
    context.story.condition_since_monotonic = firing.since
    return firing.rule.name, message


def _describe_front(reading: Reading, origin: float) -> str:
    ratio = "no data" if reading.error_ratio is None else f"{reading.error_ratio:.3f}"
    p95 = "no data" if reading.p95_ms is None else f"{reading.p95_ms:.0f}"
    return f"T+{reading.at - origin:5.1f}s  error ratio {ratio}  p95 {p95} ms"


def _front_reading(probes: Probes, clock: Callable[[], float]) -> Reading:
    """The front door's error ratio and p95, from a sample through ``load_balancer.front_url``."""
    http_probe.forget_unanswered()
    started = clock()
    try:
        error_ratio, p95, notes = probes.http()
    except ProbeError as error:
        return Reading(at=started, notes={"front door": error.detail})
    # What the front door cannot tell (the app's process, the database) is not part of its rules.
    return Reading(at=started, error_ratio=error_ratio, p95_ms=p95, app_ok=True, notes=notes)
