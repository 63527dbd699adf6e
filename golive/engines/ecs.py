"""ECS blue/green lifecycle hooks (ECS's own blue/green deployments): run the gate, answer ``hookStatus``.

ECS invokes the hook's Lambda function with ``{"executionId", "lifecycleStage", "resourceArn",
"executionDetails": {...}, "hookDetails": {...}}`` and reads ``{"hookStatus": "SUCCEEDED" | "FAILED" |
"IN_PROGRESS", "callBackDelay": N, "hookDetails": {...}}``: SUCCEEDED continues, FAILED rolls back,
IN_PROGRESS asks again after ``callBackDelay`` seconds, handing back the ``hookDetails`` returned with it.

GO is SUCCEEDED, NO-GO is FAILED. A REVIEW is IN_PROGRESS while it waits for an attestation of
``hooks.review_attestation`` made after the run (the run's time travels in ``hookDetails.golive``, so later
invocations do not run the gate again); SUCCEEDED once it is signed, FAILED at ``hooks.review_wait_s``.
Without ``hooks.review_attestation`` a REVIEW is FAILED. Anything golive cannot read is FAILED.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import acceptance
from golive.config import ConfigError
from golive.engines.hooks import HookContext, HookError, load_context, review_deadline, review_signoff, run_gate

SOURCE = "golive hook ecs"
STATE_KEY = "golive"  # golive's part of hookDetails while a REVIEW waits
SUCCEEDED, FAILED, IN_PROGRESS = "SUCCEEDED", "FAILED", "IN_PROGRESS"


def parse_event(event: object) -> tuple[str, str, dict[str, Any] | None]:
    """(executionId, lifecycleStage, golive's waiting state or None) of an ECS hook event. HookError: one line."""
    if not isinstance(event, dict):
        raise HookError("the ECS event is not a JSON object")
    for key in ("executionId", "lifecycleStage"):
        value = event.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 256:
            raise HookError(f"the ECS event has no {key} (expected executionId, lifecycleStage, executionDetails)")
    if not isinstance(event.get("executionDetails"), dict):
        raise HookError("the ECS event has no executionDetails object")
    details = event.get("hookDetails")
    if details is not None and not isinstance(details, dict):
        raise HookError("the ECS event's hookDetails is not an object")
    state = (details or {}).get(STATE_KEY)
    if state is not None and not isinstance(state, dict):
        raise HookError(f"the ECS event's hookDetails.{STATE_KEY} is not an object")
    return event["executionId"], event["lifecycleStage"], state


_RECORD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.json")


def _since(state: dict[str, Any], context: HookContext, now: datetime) -> datetime:
    """When the waiting REVIEW was decided: the ``finished_at`` of the run's own decision record, which the
    waiting state names (its file under the reports directory and its run id), never a time hookDetails states
    (hookDetails can be edited in the service definition). The record must pass the acceptance rule and say
    REVIEW; the deadline comes from the configuration."""
    stated = state.get("review_since")
    try:
        since = datetime.fromisoformat(str(stated))
    except ValueError:
        raise HookError(f"hookDetails.{STATE_KEY}.review_since: not an ISO-8601 time") from None
    if since.tzinfo is None or since > now:
        raise HookError(f"hookDetails.{STATE_KEY}.review_since: not a past UTC time")
    name, run_id = state.get("record"), state.get("run_id")
    if not isinstance(name, str) or not _RECORD_NAME.fullmatch(name) or not isinstance(run_id, str) or not run_id:
        raise HookError(f"hookDetails.{STATE_KEY}: names no decision record and run id of the REVIEW it waits on")
    expect = context.expect or acceptance.expectation(context.settings, context.environment, context.gate.name)
    examined = acceptance.examine(context.reports / name, dataclasses.replace(expect, run_id=run_id, max_age=None),
                                  now)
    if not examined.valid or examined.record is None:
        raise HookError(f"hookDetails.{STATE_KEY}.record {name}: not acted on: {examined.problem}")
    if examined.record.verdict != "REVIEW":
        raise HookError(f"hookDetails.{STATE_KEY}.record {name}: says {examined.record.verdict}, not REVIEW")
    return examined.record.finished


def respond(event: object, context: HookContext, now: datetime | None = None) -> tuple[dict[str, Any], str]:
    """(the answer for ECS, a line saying why). HookError for an event golive cannot read."""
    execution_id, stage, state = parse_event(event)
    now = now or datetime.now(UTC)
    where = f"hook ecs: {stage} ({execution_id})"
    if state is None:
        context.announce("event", f"{where}: gate {context.gate.name} on {context.environment} started", SOURCE)
        outcome = run_gate(context)
        line = outcome.line(context)
        if outcome.verdict == "GO":
            return _answer(context, where, SUCCEEDED, line)
        if outcome.verdict != "REVIEW":
            return _answer(context, where, FAILED, line)
        if context.review_item is None or context.section.review_wait_s <= 0:
            return _answer(context, where, FAILED, f"{line}; no hooks.review_attestation to accept a REVIEW")
        since = outcome.finished_at
        record = outcome.record
        if record is None or not record.html_report:
            return _answer(context, where, FAILED, f"{line}; the REVIEW left no decision record to wait on")
        waiting = {STATE_KEY: {"review_since": since.isoformat(), "gate": context.gate.name,
                               "environment": context.environment, "run_id": record.run_id,
                               "record": Path(record.html_report).with_suffix(".json").name}}
        return _answer(context, where, IN_PROGRESS, f"{line}; waiting for an attestation of "
                       f"{context.review_item.id}", waiting, (review_deadline(context, since) - now).total_seconds())
    since = _since(state, context, now)
    signoff = review_signoff(context, since, now)
    if signoff.accepted and context.review_item is not None:
        return _answer(context, where, SUCCEEDED, f"REVIEW accepted: {context.review_item.id} {signoff.reason}")
    remaining = (review_deadline(context, since) - now).total_seconds()
    if context.review_item is None or signoff.expired or remaining <= 0:
        return _answer(context, where, FAILED, f"REVIEW not signed off within hooks.review_wait_s "
                                               f"({context.section.review_wait_s:g} s): {signoff.reason}")
    return _answer(context, where, IN_PROGRESS, f"REVIEW waiting for an attestation of {context.review_item.id}",
                   {STATE_KEY: state}, remaining)


def _answer(context: HookContext, where: str, status: str, why: str, details: dict[str, Any] | None = None,
            remaining_s: float = 0.0) -> tuple[dict[str, Any], str]:
    answer: dict[str, Any] = {"hookStatus": status}
    if status == IN_PROGRESS:
        answer["callBackDelay"] = max(1, min(context.section.callback_delay_s, int(remaining_s) + 1))
        answer["hookDetails"] = details or {}
    kind = {SUCCEEDED: "event", IN_PROGRESS: "warning"}.get(status, "error")
    line = context.settings.masker(f"{where}: {status}: {why}")
    context.announce(kind, line, SOURCE)
    return answer, line


def handler(event: object, lambda_context: object = None) -> dict[str, Any]:
    """The Lambda function's handler: the configuration from $GOLIVE_CONFIG, reports under $GOLIVE_REPORTS (a
    Lambda function can write only under /tmp). Whatever golive cannot read or run answers FAILED."""
    try:
        context = load_context(None, None)
        answer, line = respond(event, context)
    except (ConfigError, HookError) as error:
        print(f"{SOURCE}: {error}: FAILED", file=sys.stderr, flush=True)
        return {"hookStatus": FAILED}
    print(f"{SOURCE}: {line}", file=sys.stderr, flush=True)
    return answer
