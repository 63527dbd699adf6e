"""Runs that do not run the whole gate: listing and planning decide nothing; a partial run is never GO."""

from __future__ import annotations

import re

import pytest
from test_gate_exit_codes import CHECKS, run, suite

__all__ = ["suite"]  # the fixture, shared with the verdict matrix

NO_DECISION = [
    ["--collect-only"], ["--co", "-q"], ["--markers"], ["--fixtures"], ["--fixtures-per-test"], ["--help"],
    ["--version"], ["--setup-plan"], ["--setup-only"],
]
VERDICT = re.compile(r"verdict: |golive: gate \S+: (GO|REVIEW|NO-GO)")  # the lines a decision prints


@pytest.mark.parametrize("option", NO_DECISION, ids=lambda option: " ".join(option))
def test_runs_that_run_no_check_record_nothing(pytester, suite, option):
    suite("test_checks.py", CHECKS + "\n@pytest.mark.critical\ndef test_fails():\n    assert False\n")
    result = pytester.runpytest_inprocess("-m", "pre", *option)  # in-process: fast, and golive keeps no globals
    assert result.ret == 0  # pytest's own status: it listed or planned, and nothing failed doing so
    assert not (pytester.path / "reports").exists()
    assert not VERDICT.search(result.stdout.str())


def test_collect_only_keeps_pytests_status_and_the_marker_rules(pytester, suite):
    suite("test_checks.py", CHECKS)
    suite("test_unmarked.py", "def test_forgot_its_gate():\n    pass\n")
    result = run(pytester, "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest's status for a collection error
    result.stdout.fnmatch_lines(["*test_forgot_its_gate has no gate marker*"])
    assert not (pytester.path / "reports").exists()


def test_markers_need_no_configuration(pytester, suite):
    suite("test_checks.py", CHECKS)
    (pytester.path / "golive.yaml").unlink()
    result = run(pytester, "--markers")
    assert result.ret == 0
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["@pytest.mark.pre:*", "@pytest.mark.critical:*"])
    assert not (pytester.path / "reports").exists()
