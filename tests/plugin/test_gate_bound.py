"""The gate's bound (golive.watchdog): a gate whose checks run past the longest timeout_s + 5 s ends as a NO-GO
naming what was still running, with its record written (partial, stopped), serial and under ``-n 2``.

Real runs: a check reads from a loopback service that accepts and never answers, through a client that set no
timeout of its own (the case the watchdog is for: each golive probe has a deadline). The test asserts the outcome
and the messages, never a time; benchmarks/hung_endpoints.py measures the times.
"""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from golive.probes import bounded

XDIST = [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")]

HUNG_CHECKS = """\
import socket

import pytest

pytestmark = pytest.mark.pre


@pytest.mark.critical
def test_passes_first():
    pass


@pytest.mark.critical
def test_reads_a_hung_service():
    \"\"\"A client library that ignores golive's timeouts.\"\"\"
    with socket.create_connection(("127.0.0.1", {port})) as conn:
        conn.recv(1)


@pytest.mark.critical
def test_would_run_after():
    pass
"""


@pytest.fixture
def hung_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, hanging_port: int) -> pytest.Pytester:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("GOLIVE_CONFIG", raising=False)
    pytester.makeini("[pytest]\ntestpaths = validations\n")
    pytester.path.joinpath("golive.yaml").write_text(textwrap.dedent("""\
        release: {version: "2.1.0", previous: "2.0.5"}
        environments:
          blue: {url: "http://127.0.0.1:9", role: candidate}
          green: {url: "http://127.0.0.1:9", role: live}
        http: {timeout_s: 0.5}
        """))
    (pytester.path / "validations").mkdir()
    (pytester.path / "validations" / "test_hung.py").write_text(HUNG_CHECKS.format(port=hanging_port))
    return pytester


@pytest.mark.parametrize("xdist", XDIST)
def test_a_gate_past_its_bound_is_a_no_go_naming_what_was_still_running(hung_project, xdist):
    junit = hung_project.path / "junit.xml"
    result = hung_project.runpytest_subprocess("-m", "pre", f"--junitxml={junit}", "-p", "no:randomly", *xdist,
                                               timeout=120)  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 2, output
    reason = ("bound exceeded: the checks ran past the gate's bound of 5.5 s (the longest timeout_s, 0.5 s, + 5 s); "
              "still running: validations/test_hung.py::test_reads_a_hung_service")  # fmt: skip
    assert f"  - {reason}" in output.splitlines(), output
    assert "verdict: NO-GO (exit 2)" in output
    record = json.loads((hung_project.path / "reports" / "latest-pre.json").read_text())
    assert record["verdict"] == "NO-GO" and record["exit_code"] == 2
    assert reason in record["reasons"]
    assert not any(r.startswith(("interrupted:", "xdist worker crashed")) for r in record["reasons"]), record
    outcomes = {c["id"].rsplit("::", 1)[-1]: (c["outcome"], c["message"]) for c in record["checks"]}
    assert outcomes.pop("test_reads_a_hung_service") == ("error", bounded.STOPPED)
    assert outcomes.pop("test_passes_first") == ("passed", "")
    assert outcomes in ({}, {"test_would_run_after": ("passed", "")}), outcomes  # under -n 2, another worker's
    stopped = reason.removeprefix("bound exceeded: ")
    assert record["partial"] == {"ran": 1 + len(outcomes), "of": 3, "by": [], "stopped": stopped}
    assert record["html_report"] and (hung_project.path / record["html_report"]).exists()
    assert junit.exists()


def test_time_spent_observing_is_not_counted_by_the_bound():
    """``bounded.observe`` is the planned wait a gate's bound leaves out (a queue watched for growth)."""
    before = bounded.observed_s(time.monotonic())
    bounded.observe(0.05)
    assert bounded.observed_s(time.monotonic()) - before >= 0.05
