"""The decision: on the deciding process, what the run recorded becomes the verdict, the exit code, the
decision record, the timeline line and the terminal summary; then ``pytest_golive_decision`` (golive.hooks).

Until golive decides, the latest record is the NO-GO "did not finish", never an earlier run's GO; a run that
cannot start (bad configuration, no usable reports directory) still leaves a NO-GO record.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from golive import evidence, record
from golive.config import Settings
from golive.probes.bounded import STOPPED
from golive.run import GateRun, first_line, gate_run
from golive.selection import narrowed_by
from golive.timeline import Timeline, TimelineError
from golive.verdict import (
    CheckResult,
    Decision,
    Outcome,
    Partial,
    Severity,
    Verdict,
    WaiverRule,
    apply_waivers,
    combine_phases,
    count,
    decide,
    partial,
)

_UNFINISHED = Decision(Verdict.NO_GO, 2, ("the run did not finish: it ended before golive decided",))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    run = gate_run(session.config)
    if run is not None and run.is_controller:
        # Until golive decides, the latest decision is "did not finish", never an earlier run's GO; a SIGTERM
        # ends the run the way Ctrl-C does (pytest's interrupted session: a NO-GO record), not silently.
        write_record(session.config, run, provisional=True)
        if threading.current_thread() is threading.main_thread():
            run.previous_sigterm = signal.signal(signal.SIGTERM, _terminate)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"terminated by {signal.Signals(signum).name}")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = gate_run(session.config)
    if run is None or not run.is_controller:
        return
    session.exitstatus = conclude(session.config, run, int(exitstatus))
    run.session = session


def conclude(config: pytest.Config, run: GateRun, status: int) -> int:
    """Decide on what the run recorded (pytest's ``status`` says how it ended) and write the record; the exit code."""
    run.conditions.pytest_failed = status == pytest.ExitCode.TESTS_FAILED
    if status == pytest.ExitCode.INTERNAL_ERROR:
        run.conditions.internal_error = run.conditions.internal_error or "pytest reported an internal error"
    if status == pytest.ExitCode.USAGE_ERROR:
        run.conditions.usage_error = True
    if status == pytest.ExitCode.INTERRUPTED and not (
        run.conditions.interrupted or run.conditions.collection_errors or run.conditions.worker_crashes
        or run.stopped_at_maxfail or run.conditions.overrun
    ):
        run.conditions.interrupted = "the run was interrupted"

    results = [check_result(run, nodeid) for nodeid in run.phases]
    if run.conditions.overrun:  # stopped at the gate's bound: the checks that ran to their end
        run.conditions.finished_checks = sum(1 for result in results if result.message != STOPPED)
    run.conditions.narrowed_by = narrowed_by(config, run)
    run.results, notes = apply_waivers(results, waiver_rules(run.settings), date.today())
    run.decision = decide(run.results, run.conditions, notes)
    write_record(config, run)
    return run.decision.exit_code


def check_result(run: GateRun, nodeid: str) -> CheckResult:
    """One check's result from the phases recorded so far (before waivers)."""
    phases = run.phases.get(nodeid, [])
    outcome, message, duration = combine_phases(phases)
    if run.conditions.overrun and (message.endswith(STOPPED) or not any(p.when == "teardown" for p in phases)):
        outcome, message = Outcome.ERROR, STOPPED  # golive.watchdog stopped it
    meta = run.meta.get(nodeid, {})
    return CheckResult(
        id=nodeid, outcome=outcome, message=message, duration_s=duration,
        could_not_look=outcome is Outcome.ERROR and any(p.could_not_look for p in phases),
        severity=Severity(meta.get("severity", Severity.CRITICAL.value)),
        component=meta.get("component", "config"), title=meta.get("title", nodeid.rsplit("::", 1)[-1]),
        category=meta.get("category", ""), facts=run.facts.get(nodeid, {}),
    )


def junit_properties(run: GateRun, nodeid: str) -> list[tuple[str, str]]:
    """What JUnit XML shows of a finished check as ``<property>`` elements: severity, component, gate, golive's
    outcome (``waived`` where JUnit says failure) and the waiver that applied, masked."""
    [result], _ = apply_waivers([check_result(run, nodeid)], waiver_rules(run.settings), date.today())
    properties = [("severity", result.severity.value), ("component", result.component), ("gate", run.gate),
                  ("outcome", result.outcome.value)]
    rule = result.waiver_rule
    if rule is not None:
        properties += [("waiver_reason", rule.reason), ("waiver_approved_by", rule.approved_by),
                       ("waiver_expires", rule.expires.isoformat())]
    return [(name, run.masker(value)) for name, value in properties]


def waiver_rules(settings: Settings | None) -> list[WaiverRule]:
    """The configuration's waivers as the verdict rules read them."""
    return [
        WaiverRule(check=w.check, reason=w.reason, approved_by=w.approved_by, expires=w.expires,
                   covers_unreachable=w.covers_unreachable)
        for w in (settings.document.waivers if settings else [])
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    # Hooks that run after ours (pytest's --max-warnings, for one) may rewrite the status; the decision stands.
    run = gate_run(config)
    if run is not None and run.session is not None and run.decision is not None:
        run.session.exitstatus = run.decision.exit_code
    if run is not None and run.previous_sigterm is not None:
        signal.signal(signal.SIGTERM, run.previous_sigterm)


def finish_without_session(config: pytest.Config, run: GateRun, reports_usable: bool = True) -> None:
    """The run cannot start (bad configuration): still leave a NO-GO decision record (only to --golive-json
    when the reports directory cannot take one)."""
    run.decision = decide([], run.conditions)
    if reports_usable:
        run.stem = record.unique_stem(run.reports_dir, run.gate, run.env_name or "unknown", run.started_at)
        run.json_path = run.stem.with_suffix(".json")
    write_record(config, run)


def _as_record(subset: Partial | None) -> dict[str, object] | None:
    return subset.as_record() if subset else None


def _document(run: GateRun, decision: Decision, results: list[CheckResult]) -> dict[str, Any]:
    """The decision record of the run, masked."""
    settings = run.settings
    facts = record.RunFacts(
        gate=run.gate, expression=run.expression, environment=run.env_name,
        release=settings.release.version if settings else None,
        started_at=run.started_at, finished_at=datetime.now(UTC).replace(microsecond=0),
        config=f"{settings.path} (from {settings.source})" if settings else None,
        html_report=str(run.html_path) if run.html_path else None,
        partial=_as_record(partial(run.conditions)),
        run_id=os.environ.get(record.RUN_ID_VARIABLE) or None,
    )
    return run.masker.deep(record.build_record(facts, decision, results))


def write_record(config: pytest.Config, run: GateRun, provisional: bool = False) -> None:
    """Write the decision record; ``provisional``: the NO-GO that stands if the run never gets to decide.

    After the final record: the timeline line, then ``pytest_golive_decision`` with the record as written."""
    decision = _UNFINISHED if provisional else run.decision
    assert decision is not None
    document = _document(run, decision, [] if provisional else run.results)
    # Not the provisional one to --golive-json: a PATH that exists on xdist workers' command lines moves their rootdir.
    extra = Path(config.option.golive_json) if config.option.golive_json and not provisional else None
    if run.json_path is None:  # no usable reports directory (the run ends NO-GO saying so): --golive-json only
        if extra is not None:
            with contextlib.suppress(OSError):
                record.write_copy(document, extra)
        if not provisional:
            _announce(config, run, decision, document)
        return
    try:
        _write_sealed(run, document, extra)
    except evidence.EvidenceError as error:
        # A record that cannot be signed is not the evidence asked for: NO-GO, written unsigned, saying why.
        sys.stderr.write(f"golive: cannot sign the decision record: {error}\n")
        decision = Decision(Verdict.NO_GO, 2, (*decision.reasons, f"decision record not signed: {error}"))
        if not provisional:  # the final write tries the key again; its failure is the run's NO-GO
            run.decision, run.signer = decision, None
            run.evidence_state = f"unsigned: {error}"
        document = _document(run, decision, [] if provisional else run.results)
        with contextlib.suppress(OSError):
            record.write_record(document, run.json_path, run.reports_dir, extra)
    except OSError as error:
        if provisional:
            return  # the final write says why it cannot write
        # Without its record the decision cannot be signed: the run is not trustworthy.
        sys.stderr.write(f"golive: cannot write the decision record: {error}\n")
        decision = Decision(Verdict.NO_GO, 2, (*decision.reasons, f"decision record not written: {error}"))
        run.decision = decision
        document = _document(run, decision, run.results)
    if provisional:
        return
    try:
        Timeline.in_reports(run.reports_dir, run.masker).add(
            "gate",
            f"gate {run.gate} on {run.env_name or '?'}: {decision.verdict.label} (exit {decision.exit_code}); "
            f"record {run.json_path.name}",
            source="golive gate",
        )
    except TimelineError as error:
        sys.stderr.write(f"golive: {error}\n")
    _announce(config, run, decision, document)


def _write_sealed(run: GateRun, document: dict[str, Any], extra: Path | None) -> None:
    """Write the record, signed and chained when ``evidence.key`` is configured (golive.evidence)."""
    assert run.json_path is not None
    config_path = run.settings.path if run.settings else None
    run.evidence_state = record.write_signed(document, run.json_path, run.reports_dir, run.signer, config_path, extra)


def _announce(config: pytest.Config, run: GateRun, decision: Decision, document: dict[str, Any]) -> None:
    """Hand the decision to ``pytest_golive_decision`` implementations; one that fails leaves the decision as is."""
    try:
        config.hook.pytest_golive_decision(decision=decision, record=copy.deepcopy(document), config=config)
    except Exception as error:  # an output of the user's own: say it failed, in one line, and carry on
        line = run.masker(first_line(f"{type(error).__name__}: {error}"))
        sys.stderr.write(f"golive: pytest_golive_decision failed: {line}\n")


# --- terminal summary --------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = gate_run(config)
    if run is None or run.decision is None or not run.is_controller:
        return
    decision = run.decision
    colour = {Verdict.GO: {"green": True}, Verdict.REVIEW: {"yellow": True}, Verdict.NO_GO: {"red": True}}[
        decision.verdict
    ]
    tw = terminalreporter  # writes through the masking stream (golive.recording): no credential reaches the terminal
    tw.write_sep("=", f"golive: gate {run.gate}: {decision.verdict.label}", bold=True, **colour)
    release = run.settings.release.version if run.settings else "?"
    tw.write_line(f"gate: {run.gate} (-m {run.expression or '<all>'})   environment: {run.env_name}   "
                  f"release: {release}")
    counts = count(run.results)
    tw.write_line("checks: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    for reason in decision.reasons:
        tw.write_line(f"  - {reason}", **colour)
    for result in run.results:
        if result.outcome is Outcome.WAIVED:
            tw.write_line(f"  waived: {result.id} [{result.severity.value}]: {result.waiver or ''}",
                          yellow=True)
    for note in decision.notes:
        tw.write_line(f"  note: {note}")
    if run.html_path:
        tw.write_line(f"report: {run.html_path}")
    if run.json_path:
        tw.write_line(f"record: {run.json_path}")
        tw.write_line(f"evidence: {run.evidence_state}")
    tw.write_line(f"verdict: {decision.verdict.label} (exit {decision.exit_code})", bold=True, **colour)
