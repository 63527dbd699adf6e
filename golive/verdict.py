"""The go/no-go rules: per-check results and run conditions in, a decision and exit code out.

Pure logic, no pytest: the plugin gathers facts, this module decides. The rules fail closed: anything that
means golive could not look (a configuration it cannot read, a collection error, an interruption, a crashed
worker, no check at all, a skip nobody explained) is a NO-GO, never a GO.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum, StrEnum

NOT_CONFIGURED = "not configured"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    WAIVED = "waived"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


class Verdict(Enum):
    GO = 0
    REVIEW = 1
    NO_GO = 2

    @property
    def label(self) -> str:
        return self.name.replace("_", "-")

    @classmethod
    def of_label(cls, label: str) -> Verdict | None:
        """The verdict a label names (``GO``, ``REVIEW``, ``NO-GO``), else None."""
        return next((verdict for verdict in cls if verdict.label == label), None)

    @classmethod
    def of_exit_code(cls, code: object) -> Verdict | None:
        """The verdict an exit code states (0, 1, 2), else None."""
        return next((verdict for verdict in cls if type(code) is int and verdict.value == code), None)


@dataclass(frozen=True)
class CheckResult:
    id: str
    outcome: Outcome
    severity: Severity = Severity.CRITICAL
    component: str = "config"
    title: str = ""
    category: str = ""
    message: str = ""
    duration_s: float = 0.0
    waiver: str | None = None
    could_not_look: bool = False
    waiver_rule: WaiverRule | None = field(default=None, compare=False)  # the waiver that made it waived
    facts: dict[str, object] = field(default_factory=dict, compare=False, hash=False)  # what it read (golive.facts)

    @property
    def unexplained_skip(self) -> bool:
        """Skipped for a reason other than the configuration leaving its component out: it could not look."""
        return self.outcome is Outcome.SKIPPED and not is_not_configured(self.message)

    @property
    def counts_against(self) -> bool:
        return self.outcome in (Outcome.FAILED, Outcome.ERROR) or self.unexplained_skip


@dataclass(frozen=True)
class Phase:
    """One pytest phase report of a check: setup, call or teardown."""

    when: str
    outcome: str  # pytest's: passed, failed, skipped
    message: str = ""
    duration_s: float = 0.0
    could_not_look: bool = False  # a probe could not reach or read its component


@dataclass(frozen=True)
class WaiverRule:
    check: str
    reason: str
    approved_by: str
    expires: date
    covers_unreachable: bool = False


@dataclass
class RunConditions:
    """What happened to the run as a whole, apart from the checks' own results."""

    config_error: str | None = None
    selection_error: str | None = None  # the -m expression names markers nobody declared
    collection_errors: list[str] = field(default_factory=list)
    interrupted: str | None = None
    worker_crashes: list[str] = field(default_factory=list)
    internal_error: str | None = None
    usage_error: bool = False
    pytest_failed: bool = False  # pytest itself counted failures
    selected_checks: int | None = None  # checks the run selected to run (None: not known)
    gate_checks: int | None = None  # checks the gate has, before -k, --lf, --deselect, --sw or paths narrowed it
    narrowed_by: tuple[str, ...] = ()  # how the selection was narrowed (`-k 'health'`, `--lf`, ...)
    overrun: str | None = None  # the checks ran past the gate's bound (golive.watchdog): what was still running
    finished_checks: int | None = None  # checks that had finished when the bound passed


@dataclass(frozen=True)
class Partial:
    """A gate run that selected only some of the gate's checks: at most a REVIEW, and it says so."""

    ran: int
    of: int
    by: tuple[str, ...]
    stopped: str | None = None  # the run was stopped at the gate's bound: what was still running

    def describe(self) -> str:
        if self.stopped is not None:
            return f"partial: {self.ran} of {self.of} checks finished before the gate's bound stopped the run"
        how = ", ".join(self.by) or "a plugin or conftest"
        return f"partial: {self.ran} of {self.of} checks (deselected by {how})"

    def as_record(self) -> dict[str, object]:
        record: dict[str, object] = {"ran": self.ran, "of": self.of, "by": list(self.by)}
        if self.stopped is not None:
            record["stopped"] = self.stopped
        return record


def partial(conditions: RunConditions) -> Partial | None:
    """The run's subset of the gate, or None when it selected the whole gate (or the counts are not known)."""
    selected, total = conditions.selected_checks, conditions.gate_checks
    if conditions.overrun is not None:  # stopped at the gate's bound: only some checks ever finished
        finished = conditions.finished_checks or 0
        return Partial(ran=finished, of=selected or total or finished, by=conditions.narrowed_by,
                       stopped=conditions.overrun)  # fmt: skip
    if selected is None or total is None or selected >= total:
        return None
    return Partial(ran=selected, of=total, by=conditions.narrowed_by)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    exit_code: int
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()


def is_not_configured(reason: str) -> bool:
    return reason.removeprefix("Skipped: ").strip().lower().startswith(NOT_CONFIGURED)


def combine_phases(phases: Sequence[Phase]) -> tuple[Outcome, str, float]:
    """One outcome for a check from its phase reports.

    ``failed``: the check looked and saw something wrong. ``error``: it could not look (setup or teardown
    failed, or a probe could not reach or read its component).
    """
    duration = sum(phase.duration_s for phase in phases)
    for phase in phases:
        if phase.outcome == "failed":
            outcome = Outcome.FAILED if phase.when == "call" and not phase.could_not_look else Outcome.ERROR
            return outcome, phase.message, duration
    for phase in phases:
        if phase.outcome == "skipped":
            return Outcome.SKIPPED, phase.message, duration
    if not any(phase.when == "call" for phase in phases):
        # No call phase and nothing failed: the check never ran (for example the run stopped first).
        return Outcome.ERROR, "the check did not run", duration
    return Outcome.PASSED, "", duration


def base_id(check_id: str) -> str:
    """A node id without its parametrization: `a.py::test_x[blue]` -> `a.py::test_x`."""
    return check_id.split("[", 1)[0]


def apply_waivers(
    results: Iterable[CheckResult], waivers: Sequence[WaiverRule], today: date
) -> tuple[list[CheckResult], list[str]]:
    """Mark failed or errored checks covered by an unexpired waiver as waived; note expired ones."""
    notes: list[str] = []
    waived: list[CheckResult] = []
    for result in results:
        matching = [w for w in waivers if w.check in (result.id, base_id(result.id))]
        valid = [w for w in matching if w.expires >= today]
        if result.could_not_look:
            # A waiver accepts a known defect; it does not accept not having looked, unless it says so.
            valid = [w for w in valid if w.covers_unreachable]
            if matching and not valid and any(w.expires >= today for w in matching):
                notes.append(
                    f"waiver for {result.id} not applied: the check could not reach its component"
                    " (a waiver covers that only with covers_unreachable: true)"
                )
                waived.append(result)
                continue
        if result.outcome in (Outcome.FAILED, Outcome.ERROR) and matching:
            if valid:
                waiver = valid[0]
                result = replace(
                    result,
                    outcome=Outcome.WAIVED,
                    waiver=f"{waiver.reason} (approved by {waiver.approved_by}, expires {waiver.expires})",
                    waiver_rule=waiver,
                )
            else:
                notes.append(f"waiver for {result.id} expired on {matching[0].expires}: not applied")
        waived.append(result)
    return waived, notes


def count(results: Iterable[CheckResult]) -> dict[str, int]:
    counts = {outcome.value: 0 for outcome in Outcome}
    for result in results:
        counts[result.outcome.value] += 1
    return counts


def decide(results: Sequence[CheckResult], conditions: RunConditions, notes: Sequence[str] = ()) -> Decision:
    """The verdict of a gate run (CONTRACT section 3)."""
    if conditions.usage_error:
        return Decision(Verdict.NO_GO, 4, ("pytest usage error: the run did not start",), tuple(notes))

    untrusted: list[str] = []
    if conditions.config_error:
        untrusted.append(f"configuration: {conditions.config_error}")
    if conditions.selection_error:
        untrusted.append(f"selection: {conditions.selection_error}")
    untrusted += [f"collection error: {error}" for error in conditions.collection_errors]
    if conditions.overrun:
        untrusted.append(f"bound exceeded: {conditions.overrun}")
    if conditions.interrupted:
        untrusted.append(f"interrupted: {conditions.interrupted}")
    untrusted += [f"xdist worker crashed: {crash}" for crash in conditions.worker_crashes]
    if conditions.internal_error:
        untrusted.append(f"internal error: {conditions.internal_error}")
    selected = conditions.selected_checks
    if selected is not None and len(results) < selected:
        # -x, --maxfail or anything else that ends the run early: the checks it never ran were never looked at.
        untrusted.append(f"stopped after {len(results)} of {selected} selected checks: the others never ran")
        untrusted += [_reason(r) for r in results if r.counts_against or r.outcome is Outcome.WAIVED]
    if not results and not untrusted:
        untrusted.append("no check selected: nothing was verified")
    subset = partial(conditions)
    if untrusted:
        return Decision(Verdict.NO_GO, 2, (*untrusted, *_described(subset)), tuple(notes))
    decision = decide_checks(results, conditions, notes)
    if subset is None:
        return decision
    if decision.verdict is Verdict.GO:  # a subset of the gate is never the gate's GO
        return Decision(Verdict.REVIEW, 1, (subset.describe(),), decision.notes)
    return replace(decision, reasons=(*decision.reasons, subset.describe()))


def _described(subset: Partial | None) -> tuple[str, ...]:
    return (subset.describe(),) if subset else ()


def decide_checks(results: Sequence[CheckResult], conditions: RunConditions, notes: Sequence[str] = ()) -> Decision:
    """The verdict from the checks' own results, once the run as a whole can be trusted (also how a decision
    record's verdict is recomputed from its checks: golive.decision_record)."""
    critical = [r for r in results if r.counts_against and r.severity is Severity.CRITICAL]
    warnings = [r for r in results if r.counts_against and r.severity is Severity.WARNING]
    if critical:
        return Decision(Verdict.NO_GO, 2, tuple(_reason(r) for r in critical + warnings), tuple(notes))
    if warnings:
        return Decision(Verdict.REVIEW, 1, tuple(_reason(r) for r in warnings), tuple(notes))
    if conditions.pytest_failed and not any(r.outcome is Outcome.WAIVED for r in results):
        return Decision(
            Verdict.NO_GO, 2, ("pytest reported a failure that golive could not attribute to a check",), tuple(notes)
        )
    return Decision(Verdict.GO, 0, (), tuple(notes))


def _reason(result: CheckResult) -> str:
    what = "skipped without its component being out of the configuration" if result.unexplained_skip else (
        result.outcome.value
    )
    message = f": {result.message}" if result.message else ""
    return f"{result.id} [{result.severity.value}, {result.component}] {what}{message}"
