"""``golive cutover``: the runbook's traffic shift, driven by golive, gated step by step, rolled back on a trigger.

The one golive command that writes to a target, and it says so. For each step of the plan: the gate the step
names must be GO (a REVIEW waits for ``golive attest cutover.step_N`` up to ``cutover.review_deadline_s``,
then rolls back; a NO-GO rolls back); the weights move in one call per traffic manager, read back; then the
bake: every ``cutover.interval_s`` the readings ``golive watch`` takes, of the candidate and of the front door,
go through the ``rollback_triggers``. A trigger that fires, a gate that is not GO, a load balancer call that
still fails after its retries, or SIGINT/SIGTERM: the weights go back to the live side in one call, golive
samples the front door until no answer comes from the candidate, runs ``--on-rollback`` once, and exits 2.

Every step is journalled (golive.cutover.journal) before and after it happens, so after a crash ``--resume``
continues and ``--abort`` restores the live side; a lock keeps a second cutover off the same load balancer.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO, cast

from golive import acceptance, attestations, evidence, gate_process, gates
from golive.acceptance import SignOffRule
from golive.config import ConfigError, Cutover, Settings
from golive.cutover import record as cutover_record
from golive.cutover.bake import bake
from golive.cutover.context import SOURCE, Context, CutoverError, GateRunner, Options, utc
from golive.cutover.journal import Journal, JournalError, State, locked
from golive.cutover.plan import PlanError, Step, build, duration
from golive.cutover.rollback import restore
from golive.cutover.traffic import TrafficError, apply, managers, same_shares, show
from golive.masking import MaskingStream
from golive.probes import load_balancer as lb_probe
from golive.timeline import Timeline
from golive.triggers import Rule, rules_from
from golive.watch import run_on_rollback


def prepare(settings: Settings, options: Options, out: TextIO, run_gate: GateRunner) -> tuple[Context, list[Step]]:
    """Everything checked before golive looks at a load balancer: raises ConfigError or CutoverError."""
    document = settings.document
    name = settings.path.name
    section = document.cutover or Cutover()
    balancer = document.load_balancer
    if balancer is None:
        raise ConfigError(f"{name}: load_balancer: not configured; golive cutover has nothing to move")
    if balancer.front_url is None:
        raise ConfigError(f"{name}: load_balancer.front_url: not configured; golive cutover samples the front door "
                          "to judge each step and to prove a rollback, and will not move traffic it cannot see")
    candidate, live = settings.environment_by_role("candidate"), settings.environment_by_role("live")
    if candidate is None or live is None:
        raise ConfigError(f"{name}: environments: golive cutover needs one with role candidate and one with role live")
    for view in (candidate, live):
        if view.name not in lb_probe.ENVIRONMENTS:
            raise ConfigError(f"{name}: environments.{view.name}: the load balancer knows only blue and green; "
                              "name the environments for the load balancer's pools")
    if not candidate.expected_version or candidate.expected_version == live.expected_version:
        raise ConfigError(f"{name}: environments: the candidate and the live environment need different versions, "
                          "so golive can tell at the front door which one answered")
    triggers = document.rollback_triggers
    rules = rules_from(triggers) if triggers is not None else []
    if not rules:
        raise ConfigError(f"{name}: rollback_triggers: none configured; golive cutover will not bake without them")
    want_memory = any(rule.name == "memory" for rule in rules)
    if want_memory and not candidate.process:
        raise ConfigError(f"{name}: rollback_triggers.memory needs environments.{candidate.name}.process to measure")
    try:
        steps = build(section, options.plan, options.bake)
    except PlanError as error:
        raise CutoverError(str(error)) from None
    try:
        traffic = managers(balancer, document.aws, section.dns, section.call_timeout_s)
    except TrafficError as error:
        raise CutoverError(str(error)) from None
    try:  # a key golive must not sign with stops the cutover before it moves anything (fail closed)
        signer = evidence.configured_signer(settings, options.reports_dir)
    except evidence.EvidenceError as error:
        raise CutoverError(str(error)) from None
    out = cast(TextIO, MaskingStream(out, settings.masker))
    context = Context(
        settings=settings, section=section, candidate=candidate, live=live, front_url=str(balancer.front_url),
        traffic=traffic, rules=rules, want_memory=want_memory, out=out,
        timeline=Timeline.in_reports(options.reports_dir, settings.masker),
        journal=Journal.for_managers(options.reports_dir, [m.name for m in traffic], settings.masker),
        story=cutover_record.Story(release=settings.release.version, candidate=candidate.name, live=live.name,
                                   managers=[m.name for m in traffic], rules=[_rule_text(r) for r in rules]),
        run_gate=run_gate, reports_dir=options.reports_dir, on_rollback=options.on_rollback, signer=signer,
    )  # fmt: skip
    return context, steps


def _rule_text(rule: Rule) -> str:
    return f"{rule.name}: {rule.describe} for {rule.window_s:g} s"


def run(settings: Settings, options: Options, out: TextIO = sys.stdout, run_gate: GateRunner | None = None) -> int:
    """The whole command; returns its exit code (0 GO, 2 rolled back or refused)."""
    run_gate = run_gate or gate_process.run_gate
    try:
        context, steps = prepare(settings, options, out, run_gate)
        if options.dry_run:
            return _dry_run(context, steps)
        with locked([m.name for m in context.traffic]), _signals_to(context):
            if options.abort:
                return _abort(context)
            return _cutover(context, steps, options.resume, options.bake)
    except (CutoverError, JournalError) as error:
        print(f"golive cutover: {error}", file=sys.stderr)
        return 2


@contextmanager
def _signals_to(context: Context) -> Iterator[None]:
    """SIGINT and SIGTERM ask for a rollback (at the next reading or wait) instead of leaving traffic mid-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        context.interrupted.set()

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _read(context: Context) -> dict[str, dict[str, int]]:
    try:
        return {manager.name: manager.read() for manager in context.traffic}
    except TrafficError as error:
        raise CutoverError(f"cannot read the starting weights: {error}") from None


def _dry_run(context: Context, steps: list[Step]) -> int:
    context.say("golive cutover --dry-run: nothing is written; these are the calls a cutover would make")
    current = _read(context)
    for name, weights in current.items():
        context.say(f"  now: {name}: {show(weights)}")
    start = context.weights(0)
    if not all(same_shares(weights, start) for weights in current.values()):
        context.say(f"  a cutover would refuse to start: traffic is not all on {context.live.name}")
    for number, step in enumerate(steps, start=1):
        context.say(f"step {number}: {step.describe()}")
        for manager in context.traffic:
            for call in manager.calls(context.weights(step.share)):
                context.say(f"    {call}")
    context.say("during each bake, every " f"{context.section.interval_s:g} s, on {context.candidate.name} and the "
                f"front door {context.front_url}: " + "; ".join(_rule_text(r) for r in context.rules))
    context.say("on a trigger, a gate not GO or a failed call: back to " f"{context.live.name} 100 in one call each:")
    for manager in context.traffic:
        for call in manager.calls(context.weights(0)):
            context.say(f"    {call}")
    return 0


def _banner(context: Context) -> None:
    context.say("golive cutover WRITES to your load balancer: it moves traffic between "
                f"{context.live.name} and {context.candidate.name} on " + "; ".join(m.name for m in context.traffic))
    context.say(f"journal: {context.journal.path}  (after a crash: golive cutover --resume, or --abort to put all "
                f"traffic back on {context.live.name})")


def _abort(context: Context) -> int:
    _banner(context)
    state = context.journal.state()
    context.say(f"--abort: putting all traffic back on {context.live.name}")
    context.event("warning", f"cutover abort requested; last journal state: {_state_text(state)}")
    ok = restore(context, reason="--abort")
    if state.started is not None and not state.finished:
        context.journal.write("aborted", weights=context.weights(0), restored=ok)
    return 0 if ok else 2


def _state_text(state: State) -> str:
    if state.started is None:
        return "no cutover journalled"
    weights = state.last_weights or {}
    return f"{state.outcome or 'unfinished'}, weights {show(weights)} (step {state.step + 1})"


def _cutover(context: Context, steps: list[Step], resume: bool, bake: str | None = None) -> int:
    state = context.journal.state()
    current = _read(context)
    first, applied_step = 0, -1
    if resume:
        if state.started is None or state.finished:
            raise CutoverError(f"--resume: nothing to resume in {context.journal.path} "
                               f"({_state_text(state)}); start a cutover without --resume")
        expected = [w for w in (state.last_weights, state.intended_weights) if w is not None]
        if not all(any(same_shares(weights, want) for want in expected) for weights in current.values()):
            raise CutoverError(f"--resume: the weights now ({_now(current)}) are not the journal's "
                               f"({' or '.join(show(w) for w in expected)}); golive cutover --abort restores "
                               f"{context.live.name}")
        steps = [Step(s["share"], s["bake_s"], s["gate"], tuple(s["gate_args"])) for s in state.started["steps"]]
        if bake is not None:  # --resume --bake: the journalled plan with the bake asked for now
            steps = [dataclasses.replace(step, bake_s=duration(bake)) for step in steps]
        applied_step = state.step
        intended = state.intended_weights
        if intended is not None and state.intended_step is not None and all(
                same_shares(weights, intended) for weights in current.values()):
            applied_step = state.intended_step  # the crash came after the call took effect, before it was journalled
            context.journal.write("moved", step=applied_step, weights=intended, recovered=True)
        first = max(applied_step, 0)
        run_id = str(state.started.get("run_id"))
        context.story.run_id = run_id
        context.story.resumed = True
    else:
        if state.started is not None and not state.finished:
            raise CutoverError(f"an unfinished cutover is journalled in {context.journal.path} ({_state_text(state)}): "
                               "golive cutover --resume continues it, --abort restores "
                               f"{context.live.name}")
        start = context.weights(0)
        if not all(same_shares(weights, start) for weights in current.values()):
            raise CutoverError(f"the starting state is not all traffic on {context.live.name}: {_now(current)}; "
                               f"golive cutover starts from {show(start)}")
        context.story.run_id = uuid.uuid4().hex
        context.journal.write("start", run_id=context.story.run_id, steps=[dataclasses.asdict(s) for s in steps],
                              weights=start, release=context.settings.release.version)  # fmt: skip
    context.story.steps = [cutover_record.StepRecord(share=s.share, bake_s=s.bake_s, gate=s.gate) for s in steps]
    _banner(context)
    context.event("phase", f"cutover {'resumed' if resume else 'started'}: " + "; ".join(s.describe() for s in steps))
    context.story.weight(context.clock(), steps[first].share if resume and applied_step >= 0 else 0)
    outcome = _steps(context, steps, first, resume and applied_step >= 0)
    return _finish(context, outcome)


def _now(current: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"{name}: {show(weights)}" for name, weights in current.items())


@dataclass
class Outcome:
    ok: bool
    reason: str = ""
    trigger: str | None = None
    moved: bool = True  # whether any weight had moved off the live side


def _steps(context: Context, steps: list[Step], first: int, first_applied: bool) -> Outcome:
    moved = first_applied
    for index in range(first, len(steps)):
        step = steps[index]
        story = context.story.steps[index]
        applied_already = first_applied and index == first
        if not applied_already:
            if step.gate is not None:
                verdict = _gate(context, step, story)
                if verdict is not None:
                    return Outcome(False, verdict, moved=moved)
            if context.interrupted.is_set():
                return Outcome(False, "interrupted (SIGINT/SIGTERM)", moved=moved)
            weights = context.weights(step.share)
            context.journal.write("moving", step=index, weights=weights)
            try:
                for manager in context.traffic:
                    applied = apply(manager, weights, context.section.call_attempts, context.sleep)
                    story.calls.append({"manager": manager.name, "weights": weights, "attempts": applied.attempts,
                                        "seconds": round(applied.seconds, 3), "errors": applied.errors})
            except TrafficError as error:
                moved = True  # a call may have half-worked: the rollback writes every manager regardless
                return Outcome(False, f"step {index + 1} ({step.share}%): {error}", moved=moved)
            moved = True
            context.journal.write("moved", step=index, weights=weights)
            story.moved_at = utc()
            context.story.weight(context.clock(), step.share)
            where = "; ".join(m.name for m in context.traffic)
            context.event("event", f"weights moved: {context.candidate.name} {step.share}%, "
                                   f"{context.live.name} {100 - step.share}% ({where})")
            context.say(f"step {index + 1}/{len(steps)}: {context.candidate.name} {step.share}%; "
                        f"baking {step.bake_s:g} s")
        else:
            context.say(f"step {index + 1}/{len(steps)}: resumed at {context.candidate.name} {step.share}%; "
                        f"baking {step.bake_s:g} s again")
        context.journal.write("bake", step=index, bake_s=step.bake_s)
        firing = bake(context, step, story)
        if firing is not None:
            return Outcome(False, firing[1], trigger=firing[0], moved=True)
    return Outcome(True)


def _gate(context: Context, step: Step, story: cutover_record.StepRecord) -> str | None:
    """Run the step's gate; None when it is GO (or its REVIEW was signed off), else why the cutover stops."""
    gate = gates.BY_ARGUMENT[cast(str, step.gate)]
    reports = context.reports_dir
    args = [f"--golive-config={context.settings.path}", f"--golive-reports={reports}",
            *context.section.gate_args, *step.gate_args]  # fmt: skip
    context.say(f"\n$ golive gate {step.gate} {' '.join(args)}")
    result = context.run_gate(cast(str, step.gate), args)
    try:  # a step moves traffic only on a record the acceptance rule takes (consistent, signed where asked)
        expect = acceptance.expectation(context.settings, context.candidate.name, gate.name, max_age=None,
                                        reports_dirs=[reports])
        result = acceptance.accept_run(result, expect)
    except (acceptance.AcceptanceError, evidence.EvidenceError) as error:
        return f"{gate.short_title} before the {step.share}% step cannot be acted on: {error}"
    # The verdict's code, not the process's status: a run that decided nothing (--collect-only) is no GO.
    code, verdict = result.exit_code, result.verdict
    story.gate_verdict, story.gate_exit = verdict, code
    story.gate_record = result.record.html_report if result.record is not None else None
    context.event("gate", f"{gate.short_title} before the {step.share}% step: {verdict} (exit {code})")
    if code == 0:
        return None
    if code == 1:
        return _await_signature(context, step, story, result.record.finished if result.record else None)
    reasons = "; ".join(result.reasons[:3])
    return f"{gate.short_title} before the {step.share}% step was {verdict}" + (f": {reasons}" if reasons else "")


def _await_signature(context: Context, step: Step, story: cutover_record.StepRecord,
                     decided_at: datetime | None = None) -> str | None:
    """A REVIEW: wait for ``golive attest cutover.step_N`` by a ``cutover.review_roles`` role for this release,
    signed after the gate decided and before ``cutover.review_deadline_s`` counted from that decision
    (golive.acceptance.SignOffRule, the engine hooks' rule too); none by the deadline is a rollback."""
    item, deadline_s = step.attestation_item, context.section.review_deadline_s
    decided = decided_at or datetime.now(UTC).replace(microsecond=0)
    rule = SignOffRule(item, tuple(context.section.review_roles), context.settings.release.version, decided,
                       deadline_s)
    roles = " or ".join(f"'{role}'" for role in context.section.review_roles)
    context.say(f"REVIEW before the {step.share}% step: waiting up to {deadline_s:g} s for `golive attest {item} "
                f"--by NAME --role {roles}`; no signature by then rolls back")
    context.event("warning", f"cutover paused for a signature of {item} (deadline {deadline_s:g} s)")
    started = context.clock()
    path = context.settings.attestations_path
    while True:
        try:
            signoff = rule.judge(attestations.read(path))
        except attestations.AttestationError as error:
            return f"{item}: {error}"
        if signoff.accepted:
            story.signed_by = signoff.reason.removeprefix("signed by ")
            context.event("event", f"{item} signed by {story.signed_by}: the cutover goes on")
            return None
        if context.interrupted.is_set():
            return "interrupted (SIGINT/SIGTERM) while waiting for a signature"
        if signoff.expired or context.clock() - started >= deadline_s:
            return (f"the REVIEW before the {step.share}% step was not signed off ({item}) within {deadline_s:g} s: "
                    f"{signoff.reason}")
        context.sleep(min(1.0, max(0.05, deadline_s - (context.clock() - started))))


def _finish(context: Context, outcome: Outcome) -> int:
    story = context.story
    if outcome.ok:
        context.journal.write("done", weights=context.weights(100))
        context.event("complete", f"cutover complete: {context.candidate.name} 100%")
        context.say(f"cutover GO: all traffic on {context.candidate.name}; run Gate 3 now "
                    "(golive gate 3)")
        story.outcome, story.exit_code = "GO", 0
    else:
        context.say(f"ROLLBACK: {outcome.reason}")
        context.event("error", f"cutover rolling back: {outcome.reason}")
        story.reason, story.trigger = outcome.reason, outcome.trigger
        if outcome.moved:
            restored = restore(context, reason=outcome.reason)
        else:
            context.say(f"no weight had moved: traffic is still all on {context.live.name}")
            story.rollback = {"needed": False, "restored": True}
            restored = True
        context.journal.write("rolled-back", weights=context.weights(0), restored=restored, reason=outcome.reason)
        if context.on_rollback:
            run_on_rollback(context.on_rollback, context.timeline, context.out, SOURCE)
            story.on_rollback_ran = True
        story.outcome, story.exit_code = "ROLLED-BACK", 2
    try:
        paths = cutover_record.write(story, context.reports_dir, context.settings.masker, context.signer,
                                     context.settings.path)
    except evidence.EvidenceError as error:  # the traffic is where the outcome says; only the signature failed
        context.say(f"golive cutover: the record could not be signed: {error}; writing it unsigned")
        paths = cutover_record.write(story, context.reports_dir, context.settings.masker)
    context.say(f"cutover record: {paths[0]} ({paths[2]}); picture: {paths[1]}")
    return story.exit_code
