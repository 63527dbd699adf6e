"""CodeDeploy lifecycle hooks (``BeforeAllowTraffic``, ``AfterAllowTraffic``, ...): run the gate, report the
decision with ``PutLifecycleEventHookExecutionStatus``.

CodeDeploy invokes the hook's Lambda function with ``{"DeploymentId": ..., "LifecycleEventHookExecutionId":
...}`` and waits (up to an hour) for the function to call ``PutLifecycleEventHookExecutionStatus`` with
``Succeeded`` or ``Failed``. GO is Succeeded, NO-GO is Failed. A REVIEW is Failed, unless
``hooks.codedeploy_review: wait``: then the hook polls for an attestation of ``hooks.review_attestation``
(every ``hooks.callback_delay_s``, up to ``hooks.review_wait_s``) and is Succeeded once someone signs it,
Failed at the deadline. The event does not say which lifecycle hook it is for: give each hook's function the
configuration of its gate (``hooks.gate``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from golive.engines.hooks import (
    GateOutcome,
    HookContext,
    HookError,
    load_context,
    review_deadline,
    review_signoff,
    run_gate,
)
from golive.masking import clip
from golive.probes import aws
from golive.probes.errors import ProbeError

SOURCE = "golive hook codedeploy"
SUCCEEDED, FAILED = "Succeeded", "Failed"
CALL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Report:
    """What the hook reported, and why."""

    deployment_id: str
    execution_id: str
    status: str  # Succeeded or Failed
    outcome: GateOutcome
    why: str

    def line(self, context: HookContext) -> str:
        return (f"{SOURCE}: {self.outcome.line(context)}: reported {self.status} for deployment "
                f"{self.deployment_id} ({self.why})")

    def answer(self) -> dict[str, Any]:
        return {"deploymentId": self.deployment_id, "lifecycleEventHookExecutionId": self.execution_id,
                "status": self.status, "verdict": self.outcome.verdict, "exit_code": self.outcome.exit_code,
                "reasons": self.outcome.reasons}


def parse_event(event: object) -> tuple[str, str]:
    """(DeploymentId, LifecycleEventHookExecutionId) of a CodeDeploy hook event. HookError: one line."""
    if not isinstance(event, dict):
        raise HookError("the CodeDeploy event is not a JSON object")
    values = []
    for key in ("DeploymentId", "LifecycleEventHookExecutionId"):
        value = event.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 256:
            raise HookError(f"the CodeDeploy event has no {key} (expected {{\"DeploymentId\": ..., "
                            "\"LifecycleEventHookExecutionId\": ...}})")
        values.append(value)
    return values[0], values[1]


def client(context: HookContext) -> Any:
    """A bounded CodeDeploy client: the region of ``aws.region``, else $AWS_REGION / $AWS_DEFAULT_REGION (a Lambda
    function has AWS_REGION); $AWS_ENDPOINT_URL_CODEDEPLOY points it at a stand-in."""
    section = context.settings.document.aws
    region = (section.region if section else None) or os.environ.get("AWS_REGION") \
        or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise HookError("no AWS region: set aws.region in the configuration, or AWS_REGION")
    return aws.client("codedeploy", region, os.environ.get("AWS_ENDPOINT_URL_CODEDEPLOY"), CALL_TIMEOUT_S)


def decide(context: HookContext, outcome: GateOutcome, sleep: Callable[[float], None] = time.sleep,
           now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> tuple[str, str]:
    """(status, why) for a gate's outcome; a REVIEW waits for its attestation only with codedeploy_review: wait."""
    if outcome.verdict == "GO":
        return SUCCEEDED, "GO"
    if outcome.verdict != "REVIEW":
        return FAILED, outcome.verdict
    section = context.section
    if section.codedeploy_review != "wait" or context.review_item is None:
        return FAILED, "a REVIEW fails a CodeDeploy hook (hooks.codedeploy_review: fail)" \
            if section.codedeploy_review != "wait" else "a REVIEW, and no hooks.review_attestation to accept it"
    while True:
        signoff = review_signoff(context, outcome.finished_at, now())
        if signoff.accepted:
            return SUCCEEDED, f"REVIEW accepted: {context.review_item.id} {signoff.reason}"
        remaining = (review_deadline(context, outcome.finished_at) - now()).total_seconds()
        if signoff.expired or remaining <= 0:
            return FAILED, (f"REVIEW not signed off within hooks.review_wait_s ({section.review_wait_s:g} s): "
                            f"{signoff.reason}")
        sleep(min(section.callback_delay_s, remaining))


def report(event: object, context: HookContext, codedeploy: Any | None = None,
           sleep: Callable[[float], None] = time.sleep) -> Report:
    """Run the gate for a CodeDeploy hook event and report its status. HookError when the event is bad or the
    status could not be reported (CodeDeploy then fails the hook at its own timeout)."""
    deployment_id, execution_id = parse_event(event)
    codedeploy = codedeploy if codedeploy is not None else client(context)
    context.announce("event", f"hook codedeploy: deployment {deployment_id}: gate {context.gate.name} on "
                              f"{context.environment} started", SOURCE)
    outcome = run_gate(context)
    status, why = decide(context, outcome, sleep)
    try:
        aws.call(codedeploy, "put_lifecycle_event_hook_execution_status", deploymentId=deployment_id,
                 lifecycleEventHookExecutionId=execution_id, status=status)
    except ProbeError as error:
        context.announce("error", f"hook codedeploy: deployment {deployment_id}: {outcome.verdict}, but "
                                  f"{status} not reported: {error}", SOURCE)
        raise HookError(f"{outcome.line(context)}; could not report {status}: {clip(str(error), 300)}") from None
    done = Report(deployment_id, execution_id, status, outcome, why)
    context.announce("event" if status == SUCCEEDED else "error",
                     f"hook codedeploy: deployment {deployment_id}: {outcome.verdict}: reported {status} ({why})",
                     SOURCE)
    return done


def handler(event: object, lambda_context: object = None) -> dict[str, Any]:
    """The Lambda function's handler: the configuration from $GOLIVE_CONFIG, reports under $GOLIVE_REPORTS (a
    Lambda function can write only under /tmp). Raises on a bad event or an unreported status, so the
    invocation shows as failed."""
    context = load_context(None, None)
    done = report(event, context)
    print(done.line(context), file=sys.stderr, flush=True)
    return done.answer()
