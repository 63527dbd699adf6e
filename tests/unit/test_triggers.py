"""Rollback triggers as plain logic: a condition must hold for its whole window; no data counts against."""

from __future__ import annotations

import pytest

from golive.config import RollbackTriggers, Trigger
from golive.triggers import Evaluator, Reading, rules_from

CONFIG = RollbackTriggers(
    error_rate=Trigger(above=0.10, for_s=5), p95_ms=Trigger(above=2000, for_s=5),
    database_down=Trigger(for_s=3), crash=Trigger(for_s=2), memory=Trigger(above=0.9, for_s=4),
)
HEALTHY = {"error_ratio": 0.0, "p95_ms": 40.0, "database_ok": True, "app_ok": True, "memory_ratio": 0.2}


def feed(evaluator: Evaluator, seconds: range, **changes) -> list[tuple[float, list[str]]]:
    fired = []
    for second in seconds:
        firings = evaluator.observe(Reading(at=float(second), **{**HEALTHY, **changes}))
        if firings:
            fired.append((float(second), [f.rule.name for f in firings]))
    return fired


def test_only_configured_triggers_are_watched():
    assert [rule.name for rule in rules_from(CONFIG)] == ["error_rate", "p95_ms", "database_down", "crash", "memory"]
    assert [rule.name for rule in rules_from(RollbackTriggers(p95_ms=Trigger(above=500, for_s=1)))] == ["p95_ms"]


def test_healthy_readings_never_fire():
    assert feed(Evaluator(rules_from(CONFIG)), range(0, 120)) == []


@pytest.mark.parametrize(
    ("changes", "rule", "window"),
    [
        ({"error_ratio": 0.5}, "error_rate", 5),
        ({"p95_ms": 2500.0}, "p95_ms", 5),
        ({"database_ok": False}, "database_down", 3),
        ({"app_ok": False}, "crash", 2),
        ({"memory_ratio": 0.95}, "memory", 4),
    ],
)
def test_a_condition_held_for_its_window_fires(changes, rule, window):
    evaluator = Evaluator(rules_from(CONFIG))
    assert feed(evaluator, range(0, 10)) == []
    fired = feed(evaluator, range(10, 30), **changes)
    assert fired[0] == (10.0 + window, [rule])


def test_a_blip_shorter_than_the_window_does_not_fire():
    evaluator = Evaluator(rules_from(CONFIG))
    assert feed(evaluator, range(0, 4), error_ratio=0.9) == []  # 0..3: 3 s < 5 s
    assert feed(evaluator, range(4, 20)) == []  # recovered: the window starts again
    assert feed(evaluator, range(20, 26), error_ratio=0.9)[0][0] == 25.0


@pytest.mark.parametrize("missing", ["error_ratio", "p95_ms", "database_ok", "app_ok", "memory_ratio"])
def test_no_data_is_not_good_data(missing):
    evaluator = Evaluator(rules_from(CONFIG))
    fired = feed(evaluator, range(0, 10), **{missing: None})
    assert fired, f"a reading without {missing} must count against health"


def test_firing_message_names_the_trigger_and_the_readings():
    evaluator = Evaluator(rules_from(CONFIG))
    firings = []
    for second in range(0, 7):
        firings += evaluator.observe(Reading(at=float(second), **{**HEALTHY, "error_ratio": 0.42}))
    message = firings[0].message()
    assert message.startswith("rollback trigger error_rate: error ratio above 0.1 for 5.0 s (window 5 s)")
    assert "error ratio 0.42" in message


def test_scheduling_jitter_does_not_cost_an_interval():
    evaluator = Evaluator(rules_from(CONFIG))
    fired = []
    for at in (10.003, 11.001, 12.002, 13.0, 14.004, 15.001):  # 15.001 - 10.003 = 4.998 s
        fired += evaluator.observe(Reading(at=at, **{**HEALTHY, "error_ratio": 0.5}))
    assert [f.rule.name for f in fired] == ["error_rate"]
