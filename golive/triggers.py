"""Automatic rollback triggers: conditions held for a window, over readings taken every interval.

Pure logic, no I/O: ``golive watch`` takes readings through the probes and feeds them here. A reading that
could not be taken (``None``) counts against health: no data is not good data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from golive import judgements
from golive.config import RollbackTriggers


@dataclass(frozen=True)
class Reading:
    """One interval's measurements of the environment under watch; None where the probe could not measure."""

    at: float  # seconds on a monotonic clock
    error_ratio: float | None = None
    p95_ms: float | None = None
    database_ok: bool | None = None
    app_ok: bool | None = None  # the app's process is there and its health endpoint answers
    memory_ratio: float | None = None
    notes: dict[str, str] = field(default_factory=dict)  # what each probe saw, for the message


@dataclass(frozen=True)
class Rule:
    name: str
    window_s: float
    describe: str  # the condition, for people: "error ratio above 0.10"
    breached: Callable[[Reading], bool]
    shown: Callable[[Reading], str]  # the measurement behind it, as text


@dataclass(frozen=True)
class Firing:
    rule: Rule
    since: float  # when the condition started to hold
    at: float  # when the window was complete
    readings: tuple[Reading, ...]  # the readings during the window

    def message(self) -> str:
        seen = ", ".join(self.rule.shown(reading) for reading in self.readings[-5:])
        return (
            f"rollback trigger {self.rule.name}: {self.rule.describe} for {self.at - self.since:.1f} s "
            f"(window {self.rule.window_s:g} s); last readings: {seen}"
        )


def _number(value: float | None, unit: str = "") -> str:
    return "no data" if value is None else f"{value:g}{unit}"


def _above(measurement: str, limit: float, key: str) -> Callable[[Reading], bool]:
    """Breached when the measurement is over the limit, or missing: the checks' "at most" rule."""

    def breached(reading: Reading) -> bool:
        return not judgements.at_most(getattr(reading, measurement), limit, key).ok

    return breached


def rules_from(config: RollbackTriggers) -> list[Rule]:
    """The configured triggers; a trigger the configuration leaves out is not watched."""
    rules: list[Rule] = []
    if config.error_rate is not None and config.error_rate.above is not None:
        limit = config.error_rate.above
        rules.append(Rule(
            "error_rate", config.error_rate.for_s, f"error ratio above {limit:g}",
            _above("error_ratio", limit, "rollback_triggers.error_rate.above"),
            lambda r: f"error ratio {_number(r.error_ratio)}",
        ))
    if config.p95_ms is not None and config.p95_ms.above is not None:
        limit = config.p95_ms.above
        rules.append(Rule(
            "p95_ms", config.p95_ms.for_s, f"p95 above {limit:g} ms",
            _above("p95_ms", limit, "rollback_triggers.p95_ms.above"),
            lambda r: f"p95 {_number(r.p95_ms, ' ms')}",
        ))
    if config.database_down is not None:
        rules.append(Rule(
            "database_down", config.database_down.for_s, "database connectivity lost",
            lambda r: r.database_ok is not True,
            lambda r: f"database {'ok' if r.database_ok else r.notes.get('database', 'no data')}",
        ))
    if config.crash is not None:
        rules.append(Rule(
            "crash", config.crash.for_s, "application down (process gone or health failing)",
            lambda r: r.app_ok is not True,
            lambda r: f"app {'ok' if r.app_ok else r.notes.get('app', 'no data')}",
        ))
    if config.memory is not None and config.memory.above is not None:
        limit = config.memory.above
        rules.append(Rule(
            "memory", config.memory.for_s, f"memory above {limit:.0%} of the host",
            _above("memory_ratio", limit, "rollback_triggers.memory.above"),
            lambda r: "memory no data" if r.memory_ratio is None else f"memory {r.memory_ratio:.0%}",
        ))
    return rules


_JITTER_S = 0.05


class Evaluator:
    """Feeds readings to every rule; a rule fires once its condition has held for its whole window."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self._since: dict[str, float | None] = {rule.name: None for rule in self.rules}
        self._window: dict[str, list[Reading]] = {rule.name: [] for rule in self.rules}

    def observe(self, reading: Reading) -> list[Firing]:
        firings = []
        for rule in self.rules:
            if not rule.breached(reading):
                self._since[rule.name] = None
                self._window[rule.name] = []
                continue
            since = self._since[rule.name]
            if since is None:
                since = self._since[rule.name] = reading.at
            self._window[rule.name].append(reading)
            # A few milliseconds of scheduling jitter must not cost a whole interval.
            if reading.at - since >= rule.window_s - _JITTER_S:
                firings.append(Firing(rule, since, reading.at, tuple(self._window[rule.name])))
        return firings
