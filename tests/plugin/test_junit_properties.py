"""JUnit XML carries each check's severity, component, gate, golive outcome and waiver as ``<property>`` elements,
masked, with and without ``-n 2`` (issue 15, item 5)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

from tests.plugin.test_exit_codes import MINIMAL_CONFIG, XDIST, run
from tests.support import REPO
from tests.support.gates import minimal_config

CHECKS = """\
import pytest

pytestmark = pytest.mark.pre

@pytest.mark.critical
@pytest.mark.component("postgres")
def test_critical_passes():
    pass

def test_warning_fails():
    assert False, "queue depth is 1500; allowed 1000"

@pytest.mark.critical
@pytest.mark.component("redis")
def test_waived():
    assert False, "hit rate 0.4; allowed 0.7"

def test_not_configured():
    pytest.skip("not configured: aws")
"""

WAIVER = """\
waivers:
  - {check: "validations/test_checks.py::test_waived", reason: "cache warms after deploy, see s3cr3t-w0rd",
     approved_by: "Release Manager", expires: "2999-12-31"}
"""


def properties(junit: ET.Element) -> dict[str, dict[str, str]]:
    """Each testcase's properties, by test name."""
    return {case.attrib["name"]: {prop.attrib["name"]: prop.attrib["value"] for prop in case.iter("property")}
            for case in junit.iter("testcase")}


@pytest.mark.parametrize("xdist", XDIST)
def test_junit_xml_carries_severity_component_gate_and_waiver(pytester, monkeypatch, xdist):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("GOLIVE_CONFIG", raising=False)
    monkeypatch.setenv("HEALTH_PASSWORD", "s3cr3t-w0rd")  # a credential of the configuration: masked everywhere
    pytester.makeini("[pytest]\ntestpaths = validations\n")
    config = MINIMAL_CONFIG.replace('"http://127.0.0.1:9", role: candidate',
                                    '"http://probe:${HEALTH_PASSWORD}@127.0.0.1:9", role: candidate')
    pytester.path.joinpath("golive.yaml").write_text(config + WAIVER)
    (pytester.path / "validations").mkdir()
    (pytester.path / "validations" / "test_checks.py").write_text(textwrap.dedent(CHECKS))

    result = run(pytester, "-m", "pre", "--junitxml=junit.xml", *xdist)
    assert result.ret == 1  # the warning failed; the critical failure is waived
    text = (pytester.path / "junit.xml").read_text()
    assert "s3cr3t-w0rd" not in text
    cases = properties(ET.fromstring(text))
    assert cases["test_critical_passes"] == {"severity": "critical", "component": "postgres", "gate": "pre",
                                             "outcome": "passed"}
    assert cases["test_warning_fails"] == {"severity": "warning", "component": "config", "gate": "pre",
                                           "outcome": "failed"}
    assert cases["test_not_configured"]["outcome"] == "skipped"
    assert cases["test_waived"] == {
        "severity": "critical", "component": "redis", "gate": "pre", "outcome": "waived",
        "waiver_reason": "cache warms after deploy, see ***", "waiver_approved_by": "Release Manager",
        "waiver_expires": "2999-12-31",
    }


def test_a_plain_pytest_run_gets_no_golive_properties(pytester, monkeypatch):
    """The project's own tests, and any run that is not a gate run, keep JUnit XML as pytest writes it."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(test_plain="def test_x(record_property):\n    record_property('mine', 1)\n")
    assert pytester.runpytest_subprocess("--junitxml=junit.xml", timeout=60).ret == 0
    assert properties(ET.parse(pytester.path / "junit.xml").getroot()) == {"test_x": {"mine": "1"}}


def test_the_real_validations_carry_them_too(tmp_path):
    """`golive gate final` on the catalog, blue on a closed port, one check waived (covers_unreachable)."""
    waived = "validations/test_infrastructure.py::test_candidate_answers"
    config = minimal_config(tmp_path / "golive.yaml", {"waivers": [
        {"check": waived, "reason": "blue is rebuilt tonight", "approved_by": "Release Manager",
         "expires": "2999-12-31", "covers_unreachable": True}]})
    junit = tmp_path / "junit.xml"
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", "GITHUB_ACTIONS"}}
    done = subprocess.run([sys.executable, "-m", "golive", "gate", "final", f"--golive-config={config}",
                           f"--golive-reports={tmp_path / 'reports'}", f"--junitxml={junit}", "-p", "no:cacheprovider"],
                          cwd=REPO, capture_output=True, text=True, timeout=180, env=environ)
    assert done.returncode == 2, done.stdout[-2000:]  # green is unreachable too: its critical check fails
    cases = {case.attrib["classname"] + "::" + case.attrib["name"]: {p.attrib["name"]: p.attrib["value"]
                                                                     for p in case.iter("property")}
             for case in ET.parse(junit).getroot().iter("testcase")}
    candidate = cases["validations.test_infrastructure::test_candidate_answers"]
    assert candidate == {"severity": "critical", "component": "http", "gate": "final", "outcome": "waived",
                         "waiver_reason": "blue is rebuilt tonight", "waiver_approved_by": "Release Manager",
                         "waiver_expires": "2999-12-31"}
    live = cases["validations.test_infrastructure::test_live_is_healthy_on_the_previous_release"]
    assert (live["outcome"], live["gate"], "waiver_reason" in live) == ("error", "final", False)
    assert all({"severity", "component", "gate", "outcome"} <= set(props) for props in cases.values())
