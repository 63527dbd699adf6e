"""golive.judgements: one rule per threshold, at, just under and just over every limit; and the dashboard's rows
agree with the checks' outcomes for the same readings (pure: no service is asked)."""

from __future__ import annotations

import importlib.util
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from golive import dashboard, judgements
from golive.config import QueuePolicy, RollbackTriggers, Thresholds
from golive.health import DEGRADED, HEALTHY, UNHEALTHY, UNKNOWN, HealthReading
from golive.probes.host import Usage
from golive.probes.sampling import Sample
from golive.triggers import Reading, rules_from
from tests.support import REPO

LIMITS = Thresholds()  # the defaults: the rules are judged at the limits golive ships with
VALIDATIONS = REPO / "validations"


def below(limit: float) -> float:
    return math.nextafter(limit, -math.inf)


def above(limit: float) -> float:
    return math.nextafter(limit, math.inf)


# --- each rule at, just under and just over its limit ----------------------------------------------------------


@pytest.mark.parametrize(("judge", "limit", "key"), [
    (judgements.cpu, LIMITS.cpu_ratio, "thresholds.cpu_ratio"),
    (judgements.memory, LIMITS.memory_ratio, "thresholds.memory_ratio"),
])  # fmt: skip
def test_ratios_of_the_host_pass_only_strictly_below_their_limit(judge, limit, key):
    assert judge(below(limit), LIMITS).verdict == "ok"
    at = judge(limit, LIMITS)
    assert at.verdict == "fail" and at.key == key and at.limit == f"below {limit:.0%}"
    assert judge(above(limit), LIMITS).verdict == "fail"


def test_connections_pass_only_below_their_share_of_max_connections():
    assert LIMITS.db_connections_ratio == 0.8
    assert judgements.connections(79, 100, LIMITS).verdict == "ok"
    at = judgements.connections(80, 100, LIMITS)
    assert at.verdict == "fail" and at.seen == "80/100 (80%)" and at.key == "thresholds.db_connections_ratio"
    assert judgements.connections(81, 100, LIMITS).verdict == "fail"
    assert judgements.connections(0, 0, LIMITS).verdict == "fail"  # max_connections 0 admits nobody


def test_replication_lag_passes_up_to_and_at_its_limit():
    allowed = LIMITS.replication_lag_bytes
    assert judgements.replication_lag(allowed - 1, LIMITS).ok
    assert judgements.replication_lag(allowed, LIMITS).ok
    over = judgements.replication_lag(allowed + 1, LIMITS)
    assert over.verdict == "fail" and over.describe() == (
        f"{allowed + 1} bytes; allowed {allowed} bytes (thresholds.replication_lag_bytes)"
    )
    assert judgements.replication_lag(None, LIMITS).seen == "no standby streaming"
    assert judgements.replication_lag(None, LIMITS).verdict == "fail"


def test_redis_memory_passes_only_below_its_share_and_never_without_maxmemory():
    assert LIMITS.redis_memory_ratio == 0.9
    assert judgements.redis_memory(899, 1000, LIMITS).ok
    assert judgements.redis_memory(900, 1000, LIMITS).verdict == "fail"
    assert judgements.redis_memory(901, 1000, LIMITS).verdict == "fail"
    unlimited = judgements.redis_memory(2 * 1_048_576, 0, LIMITS)
    assert unlimited.verdict == "fail" and unlimited.seen == "2.0 MiB (no maxmemory)"


def test_hit_rate_passes_at_its_minimum_and_without_traffic():
    assert judgements.hit_rate(below(0.5), 0.5).verdict == "fail"
    assert judgements.hit_rate(0.5, 0.5).ok and judgements.hit_rate(above(0.5), 0.5).ok
    assert judgements.hit_rate(None, 0.5).ok  # no lookups yet: no rate to judge


def test_queue_depth_at_most_and_consumers_at_least_their_policy():
    assert [j.verdict for j in (judgements.queue_depth("q", n, 5) for n in (4, 5, 6))] == ["ok", "ok", "fail"]
    assert [j.verdict for j in (judgements.queue_consumers("q", n, 2) for n in (1, 2, 3))] == ["fail", "ok", "ok"]
    both = judgements.queue("orders", 6, 1, QueuePolicy(max_messages=5, min_consumers=2))
    assert [j.key for j in both] == ["rabbitmq.queues.orders.max_messages", "rabbitmq.queues.orders.min_consumers"]
    assert judgements.queue("q", 10**6, 0, QueuePolicy(min_consumers=0)) == []  # a policy of nothing asks nothing


def test_endpoint_expects_one_of_its_statuses():
    assert judgements.endpoint(200, [200, 401]).ok and judgements.endpoint(401, [200, 401]).ok
    wrong = judgements.endpoint(500, [200, 401])
    assert wrong.verdict == "fail" and wrong.limit == "200 or 401"
    assert not judgements.endpoint(199, [200]).ok and not judgements.endpoint(201, [200]).ok


@pytest.mark.parametrize(("judge", "limit"), [
    (judgements.error_ratio, LIMITS.error_rate), (judgements.p95, LIMITS.p95_ms),
])  # fmt: skip
def test_error_ratio_and_p95_pass_up_to_and_at_their_limit_and_never_without_a_figure(judge, limit):
    assert judge(below(limit), LIMITS).ok and judge(limit, LIMITS).ok
    assert judge(above(limit), LIMITS).verdict == "fail"
    assert judge(None, LIMITS).verdict == "fail" and judge(float("nan"), LIMITS).verdict == "fail"


@pytest.mark.parametrize(("state", "verdict"), [
    (HEALTHY, "ok"), (DEGRADED, "warn"), (UNHEALTHY, "fail"), (UNKNOWN, "fail"),
])  # fmt: skip
def test_health_healthy_passes_degraded_is_a_review_anything_else_fails(state, verdict):
    assert judgements.health(_health(state)).verdict == verdict


@pytest.mark.parametrize("trigger", ["error_rate", "p95_ms", "memory"])
def test_rollback_triggers_use_the_at_most_rule(trigger):
    limit = 0.5
    rule = rules_from(RollbackTriggers.model_validate({trigger: {"above": limit, "for_s": 1}}))[0]
    field = {"error_rate": "error_ratio", "p95_ms": "p95_ms", "memory": "memory_ratio"}[trigger]
    fired = [rule.breached(Reading(at=0.0, **{field: value})) for value in (below(limit), limit, above(limit))]
    assert fired == [False, False, True]
    assert rule.breached(Reading(at=0.0)) and rule.breached(Reading(at=0.0, **{field: float("nan")}))


# --- the dashboard and the checks agree --------------------------------------------------------------------------


def _health(state: str) -> HealthReading:
    return HealthReading(state=state, status=state, status_code=200 if state == HEALTHY else 503, dialect="golive",
                         endpoints={"health": "http://app/health"}, version="1.0")  # fmt: skip


def _sample(errors: int = 0, p95_ms: float | None = 10.0, completed: int = 1000) -> Sample:
    return Sample(url="http://app", paths=("/",), requested=completed, concurrency=1, completed=completed,
                  errors=errors, duration_s=1.0, p50_ms=p95_ms, p95_ms=p95_ms, p99_ms=p95_ms)  # fmt: skip


def _usage(cpu_seconds: float = 0.0, rss_bytes: int = 0) -> Usage:
    return Usage(pids=(1,), rss_bytes=rss_bytes, mem_total_bytes=1000, cpu_seconds=cpu_seconds, sample_s=1.0, cpus=1)


def _validation(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"golive_validations_{name}", VALIDATIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _critical(check: Callable[..., Any], module: ModuleType) -> bool:
    at_module = getattr(module, "pytestmark", [])
    marks = [*getattr(check, "pytestmark", []), *(at_module if isinstance(at_module, list) else [at_module])]
    return any(mark.name == "critical" for mark in marks)


def _gate_code(verdict: str, critical: bool) -> int:
    """A check's part of a gate's exit code: a failing critical check blocks, any other failure is a REVIEW."""
    return {"ok": 0, "warn": 1, "fail": 2 if critical else 1}[verdict]


@dataclass(frozen=True)
class Case:
    module: str  # the validations file
    check: str  # the check that asserts on the judgement
    judgement: str  # the judgements function
    readings: tuple[Any, ...]  # at, just under, just over the limit (and the edge cases of the rule)
    judge: Callable[[Any], judgements.Judgement]  # the check's judgement of one reading
    row: Callable[[Any], dashboard.Row]  # the dashboard's row for the same reading


def _pick(rows: list[dashboard.Row], label: str) -> dashboard.Row:
    return next(row for row in rows if row.label == label)


CASES = {
    "cpu": Case("test_blue_environment", "test_cpu_below_threshold", "cpu",
                (LIMITS.cpu_ratio, below(LIMITS.cpu_ratio), above(LIMITS.cpu_ratio)),
                lambda r: judgements.cpu(_usage(cpu_seconds=r).cpu_ratio, LIMITS),
                lambda r: _pick(dashboard.usage_rows(_usage(cpu_seconds=r), LIMITS), "cpu")),
    "memory": Case("test_blue_environment", "test_memory_below_threshold", "memory",
                   (700, 699, 701),
                   lambda r: judgements.memory(_usage(rss_bytes=r).memory_ratio, LIMITS),
                   lambda r: _pick(dashboard.usage_rows(_usage(rss_bytes=r), LIMITS), "memory")),
    "connections": Case("test_database", "test_connections_below_limit", "connections",
                        ((80, 100), (79, 100), (81, 100), (0, 0)),
                        lambda r: judgements.connections(*r, LIMITS),
                        lambda r: dashboard.connection_row(*r, LIMITS)),
    "replication lag": Case("test_database", "test_replicas_streaming_within_lag", "replication_lag",
                            (LIMITS.replication_lag_bytes, LIMITS.replication_lag_bytes - 1,
                             LIMITS.replication_lag_bytes + 1, None),
                            lambda r: judgements.replication_lag(r, LIMITS),
                            lambda r: dashboard.replication_row({} if r is None else {"standby": r}, LIMITS)),
    "standby replay": Case("test_database", "test_replicas_streaming_within_lag", "standby_replay",
                           ("not paused", "pause requested", "paused"),
                           lambda r: judgements.standby_replay(r, 4096),
                           lambda r: dashboard.replay_row("127.0.0.1:5433/app", r, 4096)),
    "queue depth": Case("test_post_deployment_services", "test_queue_depths_within_limits", "queue_depth",
                        (5, 4, 6),
                        lambda r: judgements.queue_depth("q", r, 5),
                        lambda r: dashboard.queue_row("q", r, 9, QueuePolicy(max_messages=5))),
    "queue consumers": Case("test_pre_cutover", "test_queues_have_consumers", "queue_consumers",
                            (2, 1, 3),
                            lambda r: judgements.queue_consumers("q", r, 2),
                            lambda r: dashboard.queue_row("q", 0, r, QueuePolicy(min_consumers=2))),
    "redis memory": Case("test_post_deployment_services", "test_redis_memory_below_limit", "redis_memory",
                         ((900, 1000), (899, 1000), (901, 1000), (900, 0)),
                         lambda r: judgements.redis_memory(*r, LIMITS),
                         lambda r: _pick(dashboard.redis_rows(*r, None, None, LIMITS), "memory")),
    "hit rate": Case("test_post_deployment_services", "test_redis_hit_rate_at_least_minimum", "hit_rate",
                     (0.5, below(0.5), above(0.5), None),
                     lambda r: judgements.hit_rate(r, 0.5),
                     lambda r: _pick(dashboard.redis_rows(0, 1000, r, 0.5, LIMITS), "hit rate")),
    "endpoint": Case("test_blue_environment", "test_every_endpoint_answers_an_accepted_status", "endpoint",
                     (200, 199, 201, 401),
                     lambda r: judgements.endpoint(r, [200, 401]),
                     lambda r: dashboard.endpoint_row("GET", "/", r, [200, 401])),
    "error ratio": Case("test_pre_cutover", "test_error_ratio_sampled", "error_ratio",
                        (1, 0, 2),  # errors in 1000 requests: 0.001 is thresholds.error_rate
                        lambda r: judgements.error_ratio(_sample(errors=r).error_ratio, LIMITS),
                        lambda r: _pick(dashboard.sampled_rows(_sample(errors=r), ("/",), LIMITS), "error ratio")),
    "p95": Case("test_pre_cutover", "test_p95_sampled", "p95",
                (LIMITS.p95_ms, below(LIMITS.p95_ms), above(LIMITS.p95_ms), None),
                lambda r: judgements.p95(r, LIMITS),
                lambda r: _pick(dashboard.sampled_rows(_sample(p95_ms=r), ("/",), LIMITS), "p95")),
    "health": Case("test_application_health", "test_health_endpoint_reports_ok", "health",
                   (HEALTHY, DEGRADED, UNHEALTHY, UNKNOWN),
                   lambda r: judgements.health(_health(r)),
                   lambda r: _pick(dashboard.application_rows(_health(r), "1.0"), "health")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_dashboard_row_and_the_check_agree_at_under_and_over_the_limit(name):
    case = CASES[name]
    module = _validation(case.module)
    check = getattr(module, case.check)
    critical = _critical(check, module)
    # The check asserts on this judgement (itself or through the helper it calls), not on a comparison of its own.
    source = inspect.getsource(check)
    if "expect.healthy(" in source:
        from golive import expect

        source = inspect.getsource(expect.healthy)
    assert f"judgements.{case.judgement}" in source, f"{case.check} does not judge with judgements.{case.judgement}"
    seen = []
    for reading in case.readings:
        verdict = case.judge(reading).verdict
        row = case.row(reading)
        seen.append((reading, verdict, row.status, row.code))
        assert row.code == _gate_code(verdict, critical), (
            f"{name} at {reading!r}: the check says {verdict} ({'critical' if critical else 'not critical'}), "
            f"the dashboard {row.status} (exit code {row.code})"
        )
        # And the word on the screen says what the gate would make of it: ok GO, warn REVIEW, FAIL NO-GO.
        assert row.status == [dashboard.OK, dashboard.WARN, dashboard.FAIL][row.code], (name, reading, row)
    assert {verdict for _r, verdict, _s, _c in seen} >= {"ok"} and len({v for _r, v, _s, _c in seen}) > 1, seen


def test_cpu_and_memory_at_exactly_their_limit_are_not_ok_on_the_dashboard():
    """The drift this layer removed: at the limit the dashboard said ok while the check failed."""
    at_limit = _usage(cpu_seconds=LIMITS.cpu_ratio, rss_bytes=round(LIMITS.memory_ratio * 1000))
    assert [row.code for row in dashboard.usage_rows(at_limit, LIMITS)] == [1, 1]
    assert dashboard.redis_rows(1, 0, None, None, LIMITS)[1].code == 1  # no maxmemory: a REVIEW, as the check
