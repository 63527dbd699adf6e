"""One rule per threshold: what was seen, the limit, and the verdict, for the checks, the dashboard and watch.

Pure logic, no I/O: the probes measure, these functions judge. A check asserts on the verdict (with its own
message saying where), the dashboard shows ``seen`` and the verdict as a row, and watch's rollback triggers
use the same "at most" rule. What a check did before this module existed is the contract: each function keeps
its comparison (below, at most, at least, one of), so the same reading gives the same verdict on every screen.
A reading that could not be taken (``None``) is never ``ok``.

Verdicts: ``ok``; ``warn``, a REVIEW whatever the check's severity (a degraded health answer); ``fail``, which
blocks when the check that asserts it is critical and asks for a REVIEW when it is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from golive.config import Thresholds
from golive.health import DEGRADED, HealthReading

if TYPE_CHECKING:
    from golive.config import QueuePolicy

Verdict = Literal["ok", "warn", "fail"]
OK: Verdict = "ok"
WARN: Verdict = "warn"
FAIL: Verdict = "fail"


@dataclass(frozen=True)
class Judgement:
    seen: str  # the measurement, for people: "62.0%", "3/100 (3%)", "no maxmemory"
    limit: str  # the rule it is held to: "below 60%", "at most 200 ms"
    verdict: Verdict
    key: str  # where the limit is configured: "thresholds.cpu_ratio"
    allowed: float | None = None  # the limit as a number, for messages that format it their own way

    @property
    def ok(self) -> bool:
        return self.verdict == OK

    def describe(self) -> str:
        return f"{self.seen}; allowed {self.limit} ({self.key})"


def _verdict(good: bool) -> Verdict:
    return OK if good else FAIL


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def below(value: float | None, limit: float, key: str, seen: str) -> Judgement:
    """Ok strictly under the limit: at the limit is already too much."""
    good = not _missing(value) and value is not None and value < limit
    return Judgement(seen, f"below {limit:.0%}", _verdict(good), key, limit)


def at_most(value: float | None, limit: float, key: str, unit: str = "") -> Judgement:
    """Ok up to and at the limit; no reading is never ok."""
    seen = "no data" if value is None else f"{value:g}{unit}"
    good = not _missing(value) and value is not None and value <= limit
    return Judgement(seen, f"at most {limit:g}{unit}", _verdict(good), key, limit)


def cpu(ratio: float, limits: Thresholds) -> Judgement:
    """The app's CPU use, as a share of the host's CPUs: below thresholds.cpu_ratio."""
    return below(ratio, limits.cpu_ratio, "thresholds.cpu_ratio", f"{ratio:.1%}")


def memory(ratio: float, limits: Thresholds) -> Judgement:
    """The app's resident memory, as a share of the host's: below thresholds.memory_ratio."""
    return below(ratio, limits.memory_ratio, "thresholds.memory_ratio", f"{ratio:.1%}")


def connections(used: int, limit: int, limits: Thresholds) -> Judgement:
    """Client connections below thresholds.db_connections_ratio of max_connections (a limit of 0 admits none)."""
    allowed = limits.db_connections_ratio
    share = used / limit if limit else math.inf
    seen = f"{used}/{limit}" + (f" ({share:.0%})" if limit else "")
    return Judgement(seen, f"below {allowed:.0%}", _verdict(bool(limit) and used < allowed * limit),
                     "thresholds.db_connections_ratio", allowed)


def replication_lag(lag_bytes: int | None, limits: Thresholds) -> Judgement:
    """A standby's lag at most thresholds.replication_lag_bytes; no standby streaming (None) fails."""
    allowed = limits.replication_lag_bytes
    seen = "no standby streaming" if lag_bytes is None else f"{lag_bytes} bytes"
    return Judgement(seen, f"{allowed} bytes", _verdict(lag_bytes is not None and lag_bytes <= allowed),
                     "thresholds.replication_lag_bytes", allowed)


def standby_replay(pause_state: str, waiting_bytes: int, stalled: bool = False) -> Judgement:
    """A standby replays what it receives: a paused replay (requested or in effect) or one seen stalled is a
    REVIEW (warn) whatever its byte lag, which can only grow from there."""
    replaying = pause_state == "not paused" and not stalled
    state = "stalled" if stalled and pause_state == "not paused" else pause_state
    return Judgement(f"replay {state}, {waiting_bytes} bytes waiting", "replay not paused, not stalled",
                     OK if replaying else WARN, "postgres.replicas")


def redis_memory(used_bytes: int, max_bytes: int, limits: Thresholds) -> Judgement:
    """Redis memory below thresholds.redis_memory_ratio of maxmemory. No maxmemory (0) fails: nothing to judge
    against, and the cache can grow until the host runs out of memory."""
    allowed = limits.redis_memory_ratio
    mib = 1_048_576
    if not max_bytes:
        return Judgement(f"{used_bytes / mib:.1f} MiB (no maxmemory)", f"below {allowed:.0%} of maxmemory", FAIL,
                         "thresholds.redis_memory_ratio", allowed)
    ratio = used_bytes / max_bytes
    return Judgement(f"{used_bytes / mib:.1f} of {max_bytes / mib:.1f} MiB ({ratio:.0%})",
                     f"below {allowed:.0%}", _verdict(ratio < allowed), "thresholds.redis_memory_ratio", allowed)


def hit_rate(rate: float | None, minimum: float) -> Judgement:
    """A cache hit rate at least redis.min_hit_rate; a cache with no lookups yet has no rate to judge."""
    seen = "no traffic yet" if rate is None else f"{rate:.0%}"
    return Judgement(seen, f"at least {minimum:.0%}", _verdict(rate is None or rate >= minimum), "redis.min_hit_rate",
                     minimum)


def queue_depth(name: str, messages: int, max_messages: int) -> Judgement:
    """A queue holds at most its max_messages."""
    return Judgement(f"{messages} message(s)", f"{max_messages}", _verdict(messages <= max_messages),
                     f"rabbitmq.queues.{name}.max_messages", max_messages)


def queue_consumers(name: str, consumers: int, min_consumers: int) -> Judgement:
    """A queue has at least its min_consumers consumers."""
    return Judgement(f"{consumers} consumer(s)", f"at least {min_consumers}", _verdict(consumers >= min_consumers),
                     f"rabbitmq.queues.{name}.min_consumers", min_consumers)


def queue(name: str, messages: int, consumers: int, policy: QueuePolicy) -> list[Judgement]:
    """Each rule the queue's policy sets: its depth, its consumers (a policy without either sets none).
    A min_consumers of 0 asks for nothing, as the consumers check reads it."""
    judged = []
    if policy.max_messages is not None:
        judged.append(queue_depth(name, messages, policy.max_messages))
    if policy.min_consumers:
        judged.append(queue_consumers(name, consumers, policy.min_consumers))
    return judged


def endpoint(status: int, expected: Sequence[int], key: str = "http.endpoints[].expect") -> Judgement:
    """An HTTP answer's status is one of the expected ones."""
    return Judgement(str(status), " or ".join(map(str, expected)), _verdict(status in expected), key)


def error_ratio(value: float | None, limits: Thresholds) -> Judgement:
    """An error ratio at most thresholds.error_rate."""
    return at_most(value, limits.error_rate, "thresholds.error_rate")


def p95(value_ms: float | None, limits: Thresholds) -> Judgement:
    """A p95 latency at most thresholds.p95_ms."""
    return at_most(value_ms, limits.p95_ms, "thresholds.p95_ms", " ms")


def health(reading: HealthReading) -> Judgement:
    """Healthy is ok, degraded a REVIEW, anything else (unhealthy, unknown) fails."""
    verdict: Verdict = OK if reading.ok else WARN if reading.state == DEGRADED else FAIL
    return Judgement(reading.describe(), "healthy", verdict, "http.health")
