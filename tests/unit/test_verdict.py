"""The go/no-go rules as plain functions (golive.verdict has no pytest in it)."""

from datetime import date

import pytest

from golive.verdict import (
    CheckResult,
    Outcome,
    Partial,
    Phase,
    RunConditions,
    Severity,
    Verdict,
    WaiverRule,
    apply_waivers,
    combine_phases,
    count,
    decide,
    partial,
)

CRIT, WARN = Severity.CRITICAL, Severity.WARNING


def result(outcome: Outcome, severity: Severity = CRIT, message: str = "", id: str = "v.py::test_x") -> CheckResult:
    return CheckResult(id=id, outcome=outcome, severity=severity, message=message, component="postgres")


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([result(Outcome.PASSED)], Verdict.GO),
        ([result(Outcome.PASSED), result(Outcome.SKIPPED, message="not configured: aws")], Verdict.GO),
        ([result(Outcome.FAILED, WARN)], Verdict.REVIEW),
        ([result(Outcome.ERROR, WARN)], Verdict.REVIEW),
        ([result(Outcome.FAILED, CRIT)], Verdict.NO_GO),
        ([result(Outcome.ERROR, CRIT)], Verdict.NO_GO),
        ([result(Outcome.FAILED, WARN), result(Outcome.FAILED, CRIT)], Verdict.NO_GO),
        ([result(Outcome.WAIVED, CRIT)], Verdict.GO),
        # A skip nobody explained means the check could not look: never a pass.
        ([result(Outcome.SKIPPED, WARN, message="no idea")], Verdict.REVIEW),
        ([result(Outcome.SKIPPED, CRIT, message="Skipped: flaky")], Verdict.NO_GO),
    ],
)
def test_results_decide_the_verdict(results, expected):
    decision = decide(results, RunConditions())
    assert decision.verdict is expected
    assert decision.exit_code == expected.value


@pytest.mark.parametrize(
    "conditions",
    [
        RunConditions(config_error="golive.yaml: x: unknown key"),
        RunConditions(collection_errors=["validations/test_a.py: SyntaxError"]),
        RunConditions(interrupted="KeyboardInterrupt"),
        RunConditions(worker_crashes=["gw0 crashed while running test_a"]),
        RunConditions(internal_error="boom"),
    ],
)
def test_an_untrustworthy_run_is_no_go_even_if_every_check_passed(conditions):
    decision = decide([result(Outcome.PASSED)], conditions)
    assert (decision.verdict, decision.exit_code) == (Verdict.NO_GO, 2)
    assert decision.reasons


def test_no_check_at_all_is_no_go():
    decision = decide([], RunConditions())
    assert decision.exit_code == 2
    assert "no check selected" in decision.reasons[0]


def test_usage_error_keeps_pytest_code_4():
    assert decide([], RunConditions(usage_error=True)).exit_code == 4


def test_pytest_failure_golive_cannot_attribute_is_no_go():
    decision = decide([result(Outcome.PASSED)], RunConditions(pytest_failed=True))
    assert decision.exit_code == 2


def test_reasons_name_check_severity_component_and_message():
    decision = decide([result(Outcome.FAILED, CRIT, message="lag is 592 bytes; allowed 0")], RunConditions())
    assert decision.reasons == ("v.py::test_x [critical, postgres] failed: lag is 592 bytes; allowed 0",)


@pytest.mark.parametrize(
    ("phases", "outcome"),
    [
        ([Phase("setup", "passed"), Phase("call", "passed"), Phase("teardown", "passed")], Outcome.PASSED),
        ([Phase("setup", "passed"), Phase("call", "failed", "boom"), Phase("teardown", "passed")], Outcome.FAILED),
        ([Phase("setup", "failed", "no db"), Phase("teardown", "passed")], Outcome.ERROR),
        ([Phase("setup", "passed"), Phase("call", "passed"), Phase("teardown", "failed")], Outcome.ERROR),
        ([Phase("setup", "skipped", "not configured: aws"), Phase("teardown", "passed")], Outcome.SKIPPED),
        ([Phase("setup", "passed")], Outcome.ERROR),  # started but never called: it did not run
    ],
)
def test_phases_combine_into_one_outcome(phases, outcome):
    assert combine_phases(phases)[0] is outcome


def test_valid_waiver_waives_and_expired_one_does_not():
    today = date(2026, 11, 27)
    waivers = [
        WaiverRule("v.py::test_a", "known issue", "Release Manager", date(2026, 12, 31)),
        WaiverRule("v.py::test_b", "old", "Release Manager", date(2026, 11, 26)),
    ]
    results = [
        result(Outcome.FAILED, id="v.py::test_a[blue]"),
        result(Outcome.FAILED, id="v.py::test_b"),
        result(Outcome.PASSED, id="v.py::test_c"),
    ]
    waived, notes = apply_waivers(results, waivers, today)
    assert [r.outcome for r in waived] == [Outcome.WAIVED, Outcome.FAILED, Outcome.PASSED]
    assert "known issue" in (waived[0].waiver or "")
    assert notes == ["waiver for v.py::test_b expired on 2026-11-26: not applied"]
    assert decide(waived, RunConditions()).verdict is Verdict.NO_GO
    assert count(waived) == {"passed": 1, "failed": 1, "error": 0, "skipped": 0, "waived": 1}


def test_waiver_on_the_last_day_still_applies():
    waived, _ = apply_waivers(
        [result(Outcome.ERROR)], [WaiverRule("v.py::test_x", "r", "RM", date(2026, 11, 27))], date(2026, 11, 27)
    )
    assert waived[0].outcome is Outcome.WAIVED


def test_a_check_that_could_not_look_is_an_error_not_a_failure():
    phases = [Phase("setup", "passed"), Phase("call", "failed", "postgres at h:5432: refused", could_not_look=True)]
    assert combine_phases(phases)[0] is Outcome.ERROR


def test_waivers_do_not_cover_checks_that_could_not_look_unless_they_say_so():
    today = date(2026, 11, 27)
    unreachable = CheckResult(id="v.py::test_x", outcome=Outcome.ERROR, could_not_look=True)
    plain = WaiverRule("v.py::test_x", "known", "RM", date(2026, 12, 31))
    waived, notes = apply_waivers([unreachable], [plain], today)
    assert waived[0].outcome is Outcome.ERROR
    assert "could not reach its component" in notes[0]
    explicit = WaiverRule("v.py::test_x", "known", "RM", date(2026, 12, 31), covers_unreachable=True)
    assert apply_waivers([unreachable], [explicit], today)[0][0].outcome is Outcome.WAIVED


def test_a_run_that_stopped_before_every_selected_check_ran_is_no_go():
    waived = CheckResult(id="v.py::test_crit", outcome=Outcome.WAIVED, waiver="known")
    decision = decide([waived, result(Outcome.PASSED)], RunConditions(selected_checks=5))
    assert decision.verdict is Verdict.NO_GO and decision.exit_code == 2
    assert decision.reasons[0] == "stopped after 2 of 5 selected checks: the others never ran"
    assert decide([waived, result(Outcome.PASSED)], RunConditions(selected_checks=2)).verdict is Verdict.GO


def test_a_subset_of_the_gate_is_at_most_review():
    conditions = RunConditions(selected_checks=1, gate_checks=4, narrowed_by=("-k 'health'",))
    decision = decide([result(Outcome.PASSED)], conditions)
    assert (decision.verdict, decision.exit_code) == (Verdict.REVIEW, 1)
    assert decision.reasons == ("partial: 1 of 4 checks (deselected by -k 'health')",)
    assert partial(conditions) == Partial(ran=1, of=4, by=("-k 'health'",))
    assert partial(conditions).as_record() == {"ran": 1, "of": 4, "by": ["-k 'health'"]}  # type: ignore[union-attr]
    failing = decide([result(Outcome.FAILED)], conditions)
    assert failing.verdict is Verdict.NO_GO and failing.reasons[-1].startswith("partial: 1 of 4 checks")
    whole = RunConditions(selected_checks=4, gate_checks=4)
    assert partial(whole) is None
    assert decide([result(Outcome.PASSED)] * 4, whole).verdict is Verdict.GO
    unnamed = RunConditions(selected_checks=1, gate_checks=2)
    assert decide([result(Outcome.PASSED)], unnamed).reasons == (
        "partial: 1 of 2 checks (deselected by a plugin or conftest)",)
