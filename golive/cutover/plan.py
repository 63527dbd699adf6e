"""The cutover plan: the steps (the candidate's share, the bake, the gate before) from ``cutover:`` and the
command line (``--plan 50,100``, ``--bake 120s``).

Pure logic. A plan must raise the candidate's share at every step and end at 100 %; anything else is a
PlanError (one line, exit 2) before golive touches a load balancer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from golive import gates
from golive.config import Cutover
from golive.human_items import HumanItem

STEP_ITEM = re.compile(r"^cutover\.step_([0-9]{1,3})$")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class PlanError(Exception):
    """The plan cannot be run. One line."""


@dataclass(frozen=True)
class Step:
    share: int  # the candidate's share of traffic at this step, in percent
    bake_s: float
    gate: str | None  # the gate that must be GO before the weights move ("2"), None for none
    gate_args: tuple[str, ...] = ()  # what that gate run adds (--golive-phase 50: the 50 % step's checks)

    @property
    def attestation_item(self) -> str:
        """What a person signs to let a REVIEW of this step's gate go on (``golive attest cutover.step_50``)."""
        return f"cutover.step_{self.share}"  # STEP_ITEM

    def describe(self) -> str:
        gate = f"{gates.BY_ARGUMENT[self.gate].short_title} {' '.join(self.gate_args)}".strip() if self.gate else None
        before = f" after {gate} is GO" if gate else ""
        return f"candidate {self.share}%{before}, bake {self.bake_s:g} s"


def duration(text: str) -> float:
    """Seconds in ``120``, ``120s``, ``2m``, ``1.5h``, ``500ms``; PlanError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise PlanError(f"--bake {text!r}: expected a duration such as 120s, 2m or 90")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if seconds > 86_400:
        raise PlanError(f"--bake {text!r}: at most 24 h")
    return seconds


def shares(text: str) -> list[int]:
    """``50,100`` -> [50, 100]; PlanError for anything that is not a list of percentages."""
    found: list[int] = []
    for part in text.split(","):
        part = part.strip().rstrip("%")
        if not part.isdigit():
            raise PlanError(f"--plan {text!r}: expected percentages of traffic for the candidate, such as 50,100")
        found.append(int(part))
    return found


def _phase_args(previous_share: int | None) -> tuple[str, ...]:
    return ("--golive-phase", str(previous_share)) if previous_share is not None else ()


def build(section: Cutover, plan: str | None = None, bake: str | None = None) -> list[Step]:
    """The steps to run. ``--plan`` replaces the configured steps: the first then waits for Gate 2, each later
    one for Gate 2 with the previous step's phase checks (``--golive-phase 50``: at 50 %, the 50 % step's checks),
    as the configured default does. ``--bake`` sets every step's bake."""
    if plan is not None:
        wanted = shares(plan)
        bakes = {step.blue: step.bake_s for step in section.steps}
        steps = [Step(share, bakes.get(share, section.steps[-1].bake_s), "2", _phase_args(before))
                 for share, before in zip(wanted, [None, *wanted[:-1]], strict=True)]  # fmt: skip
    else:
        steps = []
        before: int | None = None
        for configured in section.steps:
            steps.append(Step(configured.blue, configured.bake_s, configured.gate,
                              tuple(configured.gate_args) if configured.gate_args is not None
                              else (_phase_args(before) if configured.gate else ())))  # fmt: skip
            before = configured.blue
    if bake is not None:
        seconds = duration(bake)
        steps = [Step(step.share, seconds, step.gate, step.gate_args) for step in steps]
    check(steps)
    return steps


def check(steps: list[Step]) -> None:
    if not steps:
        raise PlanError("the cutover plan has no step")
    previous = 0
    for step in steps:
        if not 1 <= step.share <= 100:
            raise PlanError(f"step {step.share}%: a share of traffic is 1 to 100 percent")
        if step.share <= previous:
            raise PlanError(f"step {step.share}% after {previous}%: each step must give the candidate more traffic")
        if step.gate is not None and step.gate not in gates.BY_ARGUMENT:
            known = ", ".join(sorted(gates.BY_ARGUMENT))
            raise PlanError(f"step {step.share}%: gate {step.gate!r} is not a gate (one of: {known})")
        previous = step.share
    if previous != 100:
        raise PlanError(f"the plan ends at {previous}%: its last step must put 100% of traffic on the candidate")


def attestation_item(item_id: str, section: Cutover | None) -> HumanItem | None:
    """The checklist item a person signs to let a paused cutover step go on (``cutover.step_50``), signable by
    ``cutover.review_roles``; None for any other id."""
    match = STEP_ITEM.match(item_id)
    if not match or not 1 <= int(match.group(1)) <= 100:
        return None
    roles = tuple((section or Cutover()).review_roles)
    return HumanItem(id=item_id, title=f"the cutover may go on to {match.group(1)}% after a REVIEW", roles=roles,
                     area="cutover", critical=True)
