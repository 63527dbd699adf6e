"""Runs that do not run the whole gate: listing and planning decide nothing; a partial run is never GO."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from markupsafe import escape as html_escape

from tests.plugin.test_exit_codes import CHECKS, MINIMAL_CONFIG, XDIST, latest_record, run, suite
from tests.support.polling import wait_for

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


WAIVED_FIRST = """\
import pytest

pytestmark = pytest.mark.pre

@pytest.mark.critical
def test_crit():
    assert False, "known defect"

def test_second():
    pass

def test_third():
    pass
"""
WAIVER = ('waivers: [{check: "validations/test_a.py::test_crit", reason: "known", approved_by: "Release Manager",'
          ' expires: "2999-12-31"}]\n')


@pytest.mark.parametrize(
    ("stop", "xdist"),
    [(["-x"], []), (["-x"], ["-n", "2"]), (["--maxfail=1"], ["-n", "2"]), ([], [])],
    ids=["-x", "-x -n 2", "--maxfail=1 -n 2", "PYTEST_ADDOPTS=-x"],
)
def test_a_run_stopped_at_a_waived_failure_is_never_go(pytester, suite, monkeypatch, xdist, stop):
    (pytester.path / "golive.yaml").write_text(MINIMAL_CONFIG + WAIVER)
    suite("test_a.py", WAIVED_FIRST)
    suite("test_b.py", CHECKS)
    if not stop:
        monkeypatch.setenv("PYTEST_ADDOPTS", "-x")
    result = run(pytester, "-m", "pre", *stop, *xdist)
    assert result.ret == 2
    record = latest_record(pytester)
    assert record["verdict"] == "NO-GO" and record["counts"]["waived"] == 1
    ran = len(record["checks"])
    assert ran < 6
    assert record["reasons"][0] == f"stopped after {ran} of 6 selected checks: the others never ran"


@pytest.mark.parametrize("xdist", XDIST)
@pytest.mark.parametrize(
    ("narrowing", "ran", "by"),
    [
        (["-k", "critical or warning"], 2, ["-k 'critical or warning'"]),
        (["--deselect", "validations/test_checks.py::test_not_configured"], 3, [
            "--deselect validations/test_checks.py::test_not_configured"]),
        (["validations/test_checks.py"], 3, ["paths: validations/test_checks.py"]),
        (["validations/test_checks.py::test_critical_passes"], 1, [
            "paths: validations/test_checks.py::test_critical_passes"]),
    ],
    ids=["-k", "--deselect", "file", "node id"],
)
def test_a_subset_of_the_gate_is_at_most_review_and_says_so(pytester, suite, xdist, narrowing, ran, by):
    suite("test_checks.py", CHECKS)
    suite("test_more.py", "import pytest\n\n@pytest.mark.pre\ndef test_more():\n    pass\n\n"
                          "@pytest.mark.immediate\ndef test_other_gate():\n    pass\n")
    result = run(pytester, "-m", "pre", *narrowing, *xdist)
    assert result.ret == 1
    record = latest_record(pytester)
    assert record["verdict"] == "REVIEW"
    assert record["partial"] == {"ran": ran, "of": 4, "by": by}
    assert len(record["checks"]) == ran
    assert all(check["outcome"] in ("passed", "skipped") for check in record["checks"])
    reason = f"partial: {ran} of 4 checks (deselected by {', '.join(by)})"
    assert record["reasons"] == [reason]
    result.stdout.fnmatch_lines([f"*{reason}*", "*verdict: REVIEW (exit 1)*"])
    html = (pytester.path / "reports" / Path(record["html_report"]).name).read_text()
    # escaped the way the templates escape (markupsafe: ' is &#39;, where html.escape wrote &#x27;)
    assert 'id="golive-partial"' in html and html_escape(reason) in html


def test_the_whole_gate_is_not_partial(pytester, suite):
    suite("test_checks.py", CHECKS)
    assert run(pytester, "-m", "pre", "validations").ret == 0
    assert latest_record(pytester)["partial"] is None


def test_last_failed_and_stepwise_runs_are_partial(pytester, suite):
    suite("test_checks.py", CHECKS + "\ndef test_warn():\n    assert False\n")
    assert run(pytester, "-m", "pre", "--sw").ret == 2  # stepwise stops at the failure: an interrupted run
    assert run(pytester, "-m", "pre", "--lf").ret == 1
    assert latest_record(pytester)["partial"] == {"ran": 1, "of": 4, "by": ["--lf"]}
    suite("test_checks.py", CHECKS + "\ndef test_warn():\n    pass\n")
    assert run(pytester, "-m", "pre", "--sw").ret == 1  # stepwise starts at the check that failed last time
    assert latest_record(pytester)["partial"] == {"ran": 1, "of": 4, "by": ["--sw"]}


def test_golive_gate_never_takes_an_earlier_runs_record_for_this_one(pytester, suite):
    suite("test_checks.py", CHECKS)
    record_path = pytester.path / "out" / "decision.json"
    gate = (sys.executable, "-m", "golive", "gate", "1", "--golive-json", str(record_path))
    assert pytester.run(*gate, timeout=120).ret == 0
    earlier = json.loads(record_path.read_text())
    assert earlier["verdict"] == "GO" and earlier["run_id"]
    # A check that ends the interpreter with status 0 before golive decides: no record is written this time.
    suite("test_exits.py", "import os\nimport pytest\n\n@pytest.mark.pre\ndef test_exits_zero():\n    os._exit(0)\n")
    result = pytester.run(*gate, timeout=120)
    assert result.ret == 2
    assert result.stderr.lines == ["golive: the gate run ended with exit 0 without a matching decision record: NO-GO"]
    assert json.loads(record_path.read_text()) == earlier  # the stale GO is left as it was, and not believed


@pytest.mark.parametrize(("signum", "xdist"), [(signal.SIGTERM, ["-n", "2"]), (signal.SIGINT, [])],
                         ids=["SIGTERM -n 2", "SIGINT"])
def test_an_interrupted_golive_gate_leaves_no_go_and_no_process(pytester, suite, signum, xdist):
    suite("test_checks.py", CHECKS)
    # The gate's bound (the longest timeout_s + 5 s) well past the signal: on a busy machine the default 10 s could
    # pass before the signal arrives, and the run would end at the bound instead, which is not what this tests.
    with (pytester.path / "golive.yaml").open("a") as config:
        config.write("http: {timeout_s: 60}\n")
    gate = [sys.executable, "-m", "golive", "gate", "1", *xdist]
    assert pytester.run(*gate, timeout=120).ret == 0
    assert latest_record(pytester)["verdict"] == "GO"
    started = pytester.path / "started"
    suite("test_slow.py", f"""
        import os, time
        import pytest

        @pytest.mark.pre
        def test_slow():
            open({str(started)!r}, "w").write(str(os.getpid()))
            time.sleep(120)
        """)
    environ = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    wrapper = subprocess.Popen(gate, cwd=pytester.path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)

    def slow_check_started() -> bool:
        assert wrapper.poll() is None, "the gate ended before its slow check started"
        return started.exists() and bool(started.read_text())

    wait_for("the slow check started", slow_check_started, 60, every_s=0.1)
    check_pid = int(started.read_text())
    wrapper.send_signal(signum)
    _, stderr = wrapper.communicate(timeout=60)
    assert wrapper.returncode == 2
    assert stderr.strip().splitlines()[-1] == (
        f"golive: the gate run was interrupted by {signum.name} (pytest exit 2): NO-GO")
    assert "Traceback" not in stderr
    record = latest_record(pytester)
    assert record["verdict"] == "NO-GO", record
    assert any(reason.startswith("interrupted") for reason in record["reasons"]), record["reasons"]
    with pytest.raises(ProcessLookupError):  # the process running the check (an xdist worker) is gone too
        os.kill(check_pid, 0)


def test_golive_gate_passes_listing_through_without_a_verdict(pytester, suite):
    suite("test_checks.py", CHECKS)
    result = pytester.run(sys.executable, "-m", "golive", "gate", "1", "--collect-only", "-q", timeout=120)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["*test_checks.py::test_*"])
    assert not VERDICT.search(result.stdout.str() + result.stderr.str())
    assert "NO-GO" not in result.stderr.str()
    assert not (pytester.path / "reports").exists()


def test_golive_gate_at_a_terminal_gives_pdb_the_keyboard(pytester, suite):
    """`golive gate 1 --pdb` at a terminal: the debugger gets the keyboard (a run in a background process
    group reading it would be stopped, and the gate would never end), and the failure still decides NO-GO."""
    import pty
    import select

    suite("test_checks.py", CHECKS + "\n@pytest.mark.critical\ndef test_fails():\n    assert False\n")
    environ = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session of its own whose controlling terminal is the pty
        os.chdir(pytester.path)
        os.execve(sys.executable, [sys.executable, "-m", "golive", "gate", "1", "--pdb", "-p", "no:xdist"], environ)
    seen = b""

    def read_until(marker: bytes, within_s: float) -> bool:
        nonlocal seen
        deadline = time.monotonic() + within_s
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    return marker in seen
                if not chunk:
                    break
                seen += chunk
        return marker in seen

    try:
        assert read_until(b"(Pdb)", 90), f"no debugger prompt: {seen.decode(errors='replace')[-2000:]}"
        os.write(fd, b"c\n")
        read_until(b"\x00never", 90)
        _, status = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 2, seen.decode(errors="replace")[-2000:]
