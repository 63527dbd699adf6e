"""The sections of golive's commands beyond the gates: ``serve:``, ``cutover:`` and ``hooks:``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr

from golive.config_types import NonEmpty, Seconds, Section


class Serve(Section):
    """``golive serve``: what its HTTP API accepts (golive/serve/); a token is required, from a file or a variable."""

    bind: NonEmpty = "127.0.0.1:8765"
    token_file: NonEmpty | None = None  # relative to the configuration file
    token_env: NonEmpty | None = None  # the name of the environment variable holding the token
    gates: list[NonEmpty] | None = None  # numbers or names accepted (default: every gate)
    environments: list[NonEmpty] | None = None  # default: every configured environment
    timeout_s: Annotated[float, Field(gt=0, le=86_400)] = 900.0  # a gate run still going then is a NO-GO
    max_body_bytes: Annotated[int, Field(ge=0, le=1_048_576)] = 65_536
    pytest_args: list[StrictStr] = Field(default_factory=list)  # added to every gate run (-n 2, ...)
    keep_runs: Annotated[int, Field(ge=1, le=10_000)] = 200  # finished runs kept for GET /v1/runs/{id}
    flagger_token_in_metadata: bool = False  # Flagger sends no headers: accept metadata.token on /v1/flagger/
    request_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0  # a request that stops arriving: 408, dropped


class CutoverStep(Section):
    """One step of ``golive cutover``: the candidate's share of traffic, held for a bake."""

    blue: Annotated[int, Field(ge=1, le=100)]  # the candidate's share in percent (named for the runbook's blue)
    bake_s: Annotated[float, Field(ge=0, le=86_400)]
    gate: NonEmpty | None = None  # a gate (number or name) that must be GO before the weights move
    # Added to that gate's run; default: the previous step's phase checks (--golive-phase 50 before 100 %).
    gate_args: list[StrictStr] | None = None


def _default_steps() -> list[CutoverStep]:
    """The runbook's: Gate 2, then 50 % for 2 minutes; Gate 2 with the 50 % step's checks, then 100 % for 5."""
    return [CutoverStep(blue=50, bake_s=120, gate="2"), CutoverStep(blue=100, bake_s=300, gate="2")]


class CutoverDns(Section):
    """Weighted DNS records moved with the load balancer: ``aws.dns``'s record, one set identifier per side."""

    set_identifiers: dict[Literal["blue", "green"], NonEmpty]


class Cutover(Section):
    """``golive cutover``: the traffic shift golive drives on ``load_balancer`` (golive/cutover/)."""

    steps: Annotated[list[CutoverStep], Field(min_length=1, max_length=20)] = Field(default_factory=_default_steps)
    interval_s: Annotated[float, Field(gt=0, le=60)] = 1.0  # between readings during a bake
    # Requests per reading of the candidate and of the front door. golive watch takes 20; a ratio of 100 is steady
    # enough that a 20 % fault reads above a 10 % trigger in all but about 1 reading in 175 (binomial; 20: 1 in 5).
    sample_requests: Annotated[int, Field(ge=10, le=10_000)] = 100
    review_deadline_s: Annotated[float, Field(ge=0, le=86_400)] = 900  # a REVIEW waits this long, then rolls back
    review_roles: Annotated[list[NonEmpty], Field(min_length=1)] = Field(default_factory=lambda: ["Deployment Lead"])
    gate_args: list[StrictStr] = Field(default_factory=lambda: ["-n", "auto"])  # added to each step's gate run
    call_attempts: Annotated[int, Field(ge=1, le=10)] = 3  # tries of one load balancer call before rolling back
    call_timeout_s: Seconds = 10  # each try of a load balancer call
    verify_s: Annotated[float, Field(gt=0, le=600)] = 10  # after a rollback: sample the front door this long
    dns: CutoverDns | None = None


class Hooks(Section):
    """``golive hook codedeploy|ecs`` and their Lambda handlers (golive/engines/, docs/ENGINES.md)."""

    gate: NonEmpty = "2"  # the gate a hook runs (a number or name golive gate accepts)
    environment: NonEmpty | None = None  # default: the candidate
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 600.0  # a gate run still going then is a NO-GO
    pytest_args: list[StrictStr] = Field(default_factory=list)  # added to the gate run (-n 2, ...)
    review_attestation: NonEmpty | None = None  # the checklist item whose attestation, after the run, accepts a REVIEW
    review_wait_s: Annotated[float, Field(ge=0, le=86_400)] = 1800.0  # how long a REVIEW may wait for it
    callback_delay_s: Annotated[int, Field(ge=1, le=900)] = 30  # ECS: when to ask again while a REVIEW waits
    codedeploy_review: Literal["fail", "wait"] = "fail"  # CodeDeploy: a REVIEW is Failed, or waits in the hook
