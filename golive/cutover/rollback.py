"""The rollback: all traffic back on the live side in one call per traffic manager, then proof at the front door
that the candidate answers no more."""

from __future__ import annotations

from typing import Any, cast

from golive.cutover.context import Context
from golive.cutover.traffic import TrafficError, apply
from golive.probes import http as http_probe
from golive.probes import load_balancer as lb_probe

VERIFY_REQUESTS = 10  # per front-door sample after a rollback


def restore(context: Context, reason: str) -> bool:
    """All traffic back on the live side, one call per manager (each retried within its bound), then proof at
    the front door that the candidate answers no more. False when golive could not restore or prove it."""
    weights = context.weights(0)
    started = context.clock()
    story = context.story
    story.rollback = {"reason": reason, "calls": [], "needed": True}
    ok = True
    for manager in context.traffic:
        try:
            applied = apply(manager, weights, context.section.call_attempts, context.sleep)
            story.rollback["calls"].append({"manager": manager.name, "attempts": applied.attempts,
                                            "seconds": round(applied.seconds, 3), "errors": applied.errors})
        except TrafficError as error:
            ok = False
            context.say(f"ROLLBACK FAILED on {manager.name}: {error}; traffic may still reach "
                        f"{context.candidate.name}: move it by hand NOW")
            context.event("error", f"rollback failed on {manager.name}: {error}")
            story.rollback["calls"].append({"manager": manager.name, "error": str(error)})
    returned = context.clock()
    story.rollback["call_s"] = round(returned - started, 3)
    if story.fired_at_monotonic is not None and story.condition_since_monotonic is not None:
        story.rollback["fault_to_weights_s"] = round(returned - story.condition_since_monotonic, 3)
        story.rollback["trigger_to_weights_s"] = round(returned - story.fired_at_monotonic, 3)
    story.weight(returned, 0)
    context.journal.write("restored" if ok else "restore-failed", weights=weights)
    verified = verify_front_door(context, returned)
    story.rollback["restored"] = ok
    story.rollback.update(verified)
    context.event("event" if ok and verified["verified"] else "error",
                  f"weights back on {context.live.name} 100% in {returned - started:.2f} s; front door: "
                  f"{verified['detail']}")
    context.say(f"weights back on {context.live.name} 100% in {returned - started:.2f} s; front door: "
                f"{verified['detail']}")
    return ok and bool(verified["verified"])


def verify_front_door(context: Context, returned: float) -> dict[str, Any]:
    """Sample the front door until a sample has no answer from the candidate, within ``cutover.verify_s``."""
    http = context.candidate.http
    version = cast(str, context.candidate.expected_version)
    last_seen: float | None = None
    samples = 0
    while True:
        sample = lb_probe.front_door_versions(
            context.front_url, http_probe.version_path(http), VERIFY_REQUESTS, http.timeout_s,
            max_duration_s=max(0.5, http.timeout_s), verify_tls=http.verify_tls, spec=http_probe.health_spec(http),
        )
        samples += 1
        now = context.clock()
        if sample.answers.get(version, 0):
            last_seen = now
        elif sample.completed >= VERIFY_REQUESTS // 2 and sample.share(version) == 0.0:
            clean = 0.0 if last_seen is None else last_seen - returned
            return {"verified": True, "blue_answers_until_s": round(clean, 3), "samples": samples,
                    "detail": f"no answer from {context.candidate.name} ({version}) in {sample.completed} requests "
                              f"({sample.describe()}); the last from it {clean:.2f} s after the call returned"
                              if last_seen is not None else
                              f"no answer from {context.candidate.name} ({version}) in {sample.completed} requests "
                              f"({sample.describe()}) from the first sample on"}  # fmt: skip
        if now - returned >= context.section.verify_s:
            return {"verified": False, "samples": samples,
                    "detail": f"NOT VERIFIED: after {context.section.verify_s:g} s the front door still answered "
                              f"{sample.describe() or 'nothing'}"}  # fmt: skip
