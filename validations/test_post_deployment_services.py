"""Post-deployment verification: the database, broker and cache behind the candidate are healthy under its load.

Gate 3 (``extended``), on the environment under test's services. Connections, long transactions and
replication lag are the Gate 1 checks in validations/test_database.py, and queue consumers Gate 2's check in
validations/test_pre_cutover.py, run again with the same thresholds.
"""


import pytest

from golive import judgements
from golive.fixtures import not_configured
from golive.probes import bounded
from golive.probes import postgres as pg
from golive.probes import rabbitmq as rabbitmq_probe
from golive.probes import redis as redis_probe

pytestmark = pytest.mark.extended

# How long the eviction counter is watched: long enough to see a cache under memory pressure evict.
EVICTION_WINDOW_S = 1.0


# --- PostgreSQL ----------------------------------------------------------------------------------------------


def test_no_lock_waits_beyond_threshold(postgres, golive_settings):
    """No session waits for a lock longer than thresholds.lock_wait_s in the application's database."""
    allowed = golive_settings.document.thresholds.lock_wait_s
    waits = pg.lock_waits(postgres, allowed)
    described = ", ".join(
        f"pid {w.pid} ({w.user}) waits {w.waited_s:.0f}s for {w.lock}, blocked by {list(w.blocked_by)}"
        for w in waits[:5]
    )
    assert not waits, (
        f"{postgres.endpoint}: {len(waits)} lock wait(s): {described}; allowed {allowed:g}s (thresholds.lock_wait_s)"
    )


def test_no_slow_queries(postgres, golive_settings):
    """No slow queries: no statement's mean time in pg_stat_statements exceeds thresholds.slow_query_ms."""
    # Without it no statement's timings are kept: the check cannot look, so it fails (never a pass or a skip).
    assert pg.has_extension(postgres, "pg_stat_statements"), (
        f"{postgres.endpoint}: the pg_stat_statements extension is not installed, so slow queries cannot be looked "
        "at; install it (shared_preload_libraries = 'pg_stat_statements', then CREATE EXTENSION pg_stat_statements)"
    )
    allowed = golive_settings.document.thresholds.slow_query_ms
    slow = pg.slow_statements(postgres, allowed)
    described = "; ".join(f"{s.mean_ms:.0f} ms mean over {s.calls} calls: {s.query}" for s in slow)
    assert not slow, (
        f"{postgres.endpoint}: slow statements: {described}; allowed {allowed:g} ms (thresholds.slow_query_ms)"
    )


# --- RabbitMQ ------------------------------------------------------------------------------------------------


def test_rabbitmq_management_answers(rabbitmq_management):
    """The RabbitMQ management API answers its overview (node, version, object totals)."""
    overview = rabbitmq_management.overview()
    assert overview.get("node") and overview.get("object_totals"), (
        f"RabbitMQ management at {rabbitmq_management.url}/api/overview answered without node or object_totals "
        f"(keys: {', '.join(sorted(overview)[:10])})"
    )


@pytest.mark.critical
def test_rabbitmq_has_no_resource_alarm(rabbitmq_management):
    """No RabbitMQ resource alarm (memory, disk): publishers are not blocked."""
    assert rabbitmq_management.alarms_ok(), (
        f"RabbitMQ at {rabbitmq_management.url} reports a resource alarm (/api/health/checks/alarms answered 503): "
        "publishers are blocked; expected no alarm"
    )


@pytest.mark.critical
@pytest.mark.requires("rabbitmq.queues[].max_messages")
def test_queue_depths_within_limits(rabbitmq, target):
    """Every configured queue (dead-letter queues included) holds at most its max_messages messages."""
    queues = target.view.rabbitmq.queues
    policies = {name: policy for name, policy in queues.items() if policy.max_messages is not None}
    deep = []
    for name, policy in policies.items():
        state = rabbitmq_probe.queue_state(rabbitmq, name)
        judged = judgements.queue_depth(name, state.messages, policy.max_messages)
        if not judged.ok:
            deep.append(f"{name} holds {judged.seen}, allowed {judged.limit}")
    assert not deep, f"RabbitMQ {rabbitmq_probe.endpoint(target.view.rabbitmq.url)}: {'; '.join(deep)}"


# --- Redis ---------------------------------------------------------------------------------------------------


@pytest.mark.requires("redis.min_hit_rate")
def test_redis_hit_rate_at_least_minimum(redis, target):
    """Cache hit rate at least redis.min_hit_rate (a cache with no lookups yet has no rate to judge)."""
    minimum = target.view.redis.min_hit_rate
    rate = redis_probe.hit_rate(redis)
    assert judgements.hit_rate(rate, minimum).ok, (
        f"Redis {redis_probe.endpoint(target.view.redis.url)} hit rate is {rate:.1%}; "
        f"expected at least {minimum:.0%} (redis.min_hit_rate)"
    )


def test_redis_memory_below_limit(redis, target, golive_settings):
    """Redis memory below thresholds.redis_memory_ratio of its maxmemory."""
    where = redis_probe.endpoint(target.view.redis.url)
    memory = redis_probe.memory(redis)
    judged = judgements.redis_memory(memory.used_bytes, memory.max_bytes, golive_settings.document.thresholds)
    # No limit is a risk, not a component left out: the cache grows until the host runs out of memory.
    assert memory.max_bytes, (
        f"Redis {where} has no memory limit (maxmemory 0): its {memory.used_bytes} bytes cannot be judged against "
        "thresholds.redis_memory_ratio and it can grow until the host runs out of memory; set maxmemory (and "
        "maxmemory-policy) on the server"
    )
    assert judged.ok, (
        f"Redis {where} uses {memory.used_bytes} bytes, {memory.ratio:.1%} of maxmemory {memory.max_bytes} "
        f"(policy {memory.policy}); allowed {judged.limit} ({judged.key})"
    )


def test_redis_not_evicting(redis, target):
    """Redis is not evicting keys: its evicted_keys counter does not grow over a short observation."""
    before = redis_probe.evicted_keys(redis)
    bounded.observe(EVICTION_WINDOW_S)
    after = redis_probe.evicted_keys(redis)
    assert after == before, (
        f"Redis {redis_probe.endpoint(target.view.redis.url)} evicted {after - before} key(s) in "
        f"{EVICTION_WINDOW_S:g}s ({after} since its statistics were reset); expected none"
    )


def test_redis_replicas_linked(redis, target):
    """Redis replication linked: a replica's link to its primary is up; a primary's replicas are online."""
    where = redis_probe.endpoint(target.view.redis.url)
    replication = redis_probe.replication(redis)
    if replication.role == "slave":
        assert replication.primary_link == "up", (
            f"Redis {where} is a replica whose link to its primary is {replication.primary_link!r}; expected 'up'"
        )
        return
    expected = target.view.redis.min_replicas
    if not replication.replicas and expected is None:
        # A replica that went away is gone from the primary's list: only redis.min_replicas can say one is missing.
        not_configured(f"redis.min_replicas (Redis {where} reports no replica)")
    offline = [f"{address} {state}" for address, state in replication.replicas if state != "online"]
    assert not offline, f"Redis {where} replicas not online: {', '.join(offline)}; expected every one online"
    online = len(replication.replicas) - len(offline)
    assert online >= (expected or 0), (
        f"Redis {where} has {online} replica(s) online; expected at least {expected} (redis.min_replicas)"
    )
