"""The verdict matrix end to end: real pytest runs of small validation suites, with and without ``-n 2``."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

MINIMAL_CONFIG = """\
release: {version: "2.1.0", previous: "2.0.5"}
environments:
  blue: {url: "http://127.0.0.1:9", role: candidate}
  green: {url: "http://127.0.0.1:9", role: live}
"""

XDIST = [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")]


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """A golive project in a temporary directory: ini, configuration and validations."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("GOLIVE_CONFIG", raising=False)
    pytester.makeini("[pytest]\ntestpaths = validations\n")
    pytester.path.joinpath("golive.yaml").write_text(MINIMAL_CONFIG)
    (pytester.path / "validations").mkdir()

    def write(name: str, source: str) -> None:
        (pytester.path / "validations" / name).write_text(textwrap.dedent(source))

    return write


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, timeout=120)


def latest_record(pytester: pytest.Pytester, gate: str = "pre") -> dict:
    return json.loads((pytester.path / "reports" / f"latest-{gate}.json").read_text())


CHECKS = """\
import pytest

pytestmark = pytest.mark.pre

@pytest.mark.critical
def test_critical_passes():
    \"\"\"A critical check that passes.\"\"\"

def test_warning_passes():
    pass

def test_not_configured():
    pytest.skip("not configured: aws")
"""


@pytest.mark.parametrize("xdist", XDIST)
def test_all_passing_is_go(pytester, suite, xdist):
    suite("test_checks.py", CHECKS)
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*verdict: GO (exit 0)*"])
    record = latest_record(pytester)
    assert record["verdict"] == "GO"
    assert record["counts"] == {"passed": 2, "failed": 0, "error": 0, "skipped": 1, "waived": 0}
    first = next(c for c in record["checks"] if c["id"].endswith("test_critical_passes"))
    assert (first["severity"], first["outcome"]) == ("critical", "passed")
    assert first["title"] == "A critical check that passes."
    assert first["component"] == "config" and first["category"] == "checks"


@pytest.mark.parametrize("xdist", XDIST)
def test_warning_failure_is_review(pytester, suite, xdist):
    suite("test_checks.py", CHECKS + "\ndef test_warn():\n    assert 1 == 2, 'queue depth is 1500; allowed 1000'\n")
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*test_warn [[]warning, config[]] failed: queue depth is 1500; allowed 1000*"])
    assert latest_record(pytester)["verdict"] == "REVIEW"


@pytest.mark.parametrize("xdist", XDIST)
def test_critical_failure_is_no_go(pytester, suite, xdist):
    suite(
        "test_checks.py",
        CHECKS + "\ndef test_warn():\n    assert False\n\n"
        "@pytest.mark.critical\ndef test_crit():\n    assert False, 'replica lag 592 bytes'\n",
    )
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*test_crit [[]critical, config[]] failed: replica lag 592 bytes*"])


@pytest.mark.parametrize("xdist", XDIST)
def test_critical_fixture_error_is_no_go(pytester, suite, xdist):
    suite(
        "test_checks.py",
        """
        import pytest
        pytestmark = pytest.mark.pre

        @pytest.fixture
        def database():
            raise ConnectionError("postgres at 127.0.0.1:5999: connection refused")

        @pytest.mark.critical
        def test_uses_database(database):
            pass
        """,
    )
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    check = latest_record(pytester)["checks"][0]
    assert check["outcome"] == "error"
    assert "127.0.0.1:5999" in check["message"]


@pytest.mark.parametrize("xdist", XDIST)
def test_unexplained_skip_is_not_a_pass(pytester, suite, xdist):
    suite(
        "test_checks.py",
        """
        import pytest
        pytestmark = pytest.mark.pre

        @pytest.mark.critical
        def test_skips_for_no_reason():
            pytest.skip("could not be bothered")
        """,
    )
    assert run(pytester, "-m", "pre", *xdist).ret == 2


@pytest.mark.parametrize("xdist", XDIST)
def test_waived_critical_failure_is_go_and_expired_waiver_is_not(pytester, suite, xdist):
    suite("test_checks.py", CHECKS + "\n@pytest.mark.critical\ndef test_crit():\n    assert False\n")
    waiver = (
        'waivers: [{check: "validations/test_checks.py::test_crit", reason: "known, fixed in 2.1.1",'
        ' approved_by: "Release Manager", expires: "%s"}]\n'
    )
    config = pytester.path / "golive.yaml"
    config.write_text(MINIMAL_CONFIG + waiver % "2999-12-31")
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*waived: validations/test_checks.py::test_crit [[]critical[]]: known, fixed in 2.1.1*"]
    )
    assert latest_record(pytester)["counts"]["waived"] == 1
    config.write_text(MINIMAL_CONFIG + waiver % "2001-01-01")
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*waiver for validations/test_checks.py::test_crit expired on 2001-01-01*"])


@pytest.mark.parametrize("xdist", XDIST)
@pytest.mark.parametrize(("severity", "expected"), [("", 1), ("@pytest.mark.critical", 2)])
def test_exit_first_keeps_the_verdict(pytester, suite, xdist, severity, expected):
    suite("test_checks.py", CHECKS + f"\n{severity}\ndef test_fails():\n    assert False\n")
    assert run(pytester, "-m", "pre", "-x", *xdist).ret == expected


@pytest.mark.parametrize("xdist", XDIST)
def test_exit_first_with_everything_passing_is_go(pytester, suite, xdist):
    suite("test_checks.py", CHECKS)
    assert run(pytester, "-m", "pre", "-x", *xdist).ret == 0


@pytest.mark.parametrize("xdist", XDIST)
def test_no_check_selected_is_no_go(pytester, suite, xdist):
    suite("test_checks.py", CHECKS)
    result = run(pytester, "-m", "final", *xdist)
    assert result.ret == 2
    assert latest_record(pytester, "final")["reasons"] == ["no check selected: nothing was verified"]


@pytest.mark.parametrize("xdist", XDIST)
@pytest.mark.parametrize("strict", [False, True])
def test_unknown_marker_expression_is_no_go(pytester, suite, xdist, strict):
    suite("test_checks.py", CHECKS)
    if strict:  # pytest itself would raise a usage error (exit 4) in the middle of the session
        pytester.makeini("[pytest]\ntestpaths = validations\nstrict_markers = true\n")
    result = run(pytester, "-m", "pre and no_such_marker", *xdist)
    assert result.ret == 2
    assert result.stderr.lines[0].startswith("Exit: golive: -m 'pre and no_such_marker': unknown marker no_such_marker")
    reasons = latest_record(pytester, "pre-and-no-such-marker")["reasons"]
    assert reasons[0].startswith("selection: -m 'pre and no_such_marker': unknown marker no_such_marker")


@pytest.mark.parametrize("xdist", XDIST)
def test_collection_error_is_no_go(pytester, suite, xdist):
    suite("test_checks.py", CHECKS)
    suite("test_broken.py", "import pytest\npytestmark = pytest.mark.pre\ndef test_x(:\n    pass\n")
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    assert latest_record(pytester)["verdict"] == "NO-GO"


@pytest.mark.parametrize("xdist", XDIST)
def test_validation_without_gate_marker_is_a_collection_error_naming_the_file(pytester, suite, xdist):
    suite("test_checks.py", CHECKS)
    suite("test_unmarked.py", "def test_forgot_its_gate():\n    pass\n")
    result = run(pytester, *xdist)
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*test_unmarked.py*test_forgot_its_gate has no gate marker*"])


@pytest.mark.parametrize("xdist", XDIST)
def test_undeclared_marker_is_a_collection_error(pytester, suite, xdist):
    suite("test_checks.py", "import pytest\n\n@pytest.mark.pre\n@pytest.mark.critcal\ndef test_typo():\n    pass\n")
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*critcal*"])


def test_crashing_xdist_worker_is_no_go(pytester, suite):
    suite(
        "test_checks.py",
        CHECKS + "\ndef test_crashes_its_worker():\n    import os\n    os._exit(1)\n",
    )
    result = run(pytester, "-m", "pre", "-n", "2")
    assert result.ret == 2
    assert any("crashed" in reason for reason in latest_record(pytester)["reasons"])


def test_crash_without_xdist_is_no_go_through_golive_gate(pytester, suite):
    # Without xdist a check that kills the interpreter takes pytest with it (exit 1 from os._exit):
    # `golive gate` notices the missing decision record and says NO-GO.
    suite("test_checks.py", CHECKS + "\ndef test_kills_pytest():\n    import os\n    os._exit(1)\n")
    result = pytester.run(sys.executable, "-m", "golive", "gate", "1", timeout=120)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["*without a matching decision record: NO-GO*"])


@pytest.mark.parametrize("xdist", XDIST)
def test_keyboard_interrupt_is_no_go(pytester, suite, xdist):
    suite("test_checks.py", CHECKS + "\ndef test_interrupted():\n    raise KeyboardInterrupt\n")
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    assert latest_record(pytester)["verdict"] == "NO-GO"


@pytest.mark.parametrize("xdist", XDIST)
def test_invalid_configuration_is_no_go_in_one_line(pytester, suite, xdist):
    suite("test_checks.py", CHECKS)
    (pytester.path / "golive.yaml").write_text(MINIMAL_CONFIG + "postgress: {dsn: x}\n")
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    assert result.stderr.lines == ["Exit: golive: golive.yaml: postgress: unknown key"]
    assert "Traceback" not in result.stdout.str()
    assert latest_record(pytester)["reasons"] == ["configuration: golive.yaml: postgress: unknown key"]


@pytest.mark.parametrize("xdist", XDIST)
def test_missing_configuration_is_no_go(pytester, suite, xdist):
    suite("test_checks.py", CHECKS)
    (pytester.path / "golive.yaml").unlink()
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["*golive.yaml: configuration file not found*"])


def test_the_project_tests_are_ordinary_pytest_runs(pytester, suite):
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_unit.py").write_text("def test_unmarked_is_fine():\n    assert True\n")
    (pytester.path / "golive.yaml").unlink()  # no configuration needed outside a gate run
    result = run(pytester, "tests")
    assert result.ret == 0
    assert not (pytester.path / "reports").exists()


def test_decision_record_and_html_report_are_written(pytester, suite):
    suite("test_checks.py", CHECKS + "\ndef test_warn():\n    assert False, 'p95 is 250 ms; allowed 200'\n")
    extra = pytester.path / "out" / "decision.json"
    result = run(pytester, "-m", "pre", "--golive-json", str(extra))
    assert result.ret == 1
    reports = sorted(p.name for p in (pytester.path / "reports").iterdir())
    json_files = [name for name in reports if name.startswith("pre-blue-") and name.endswith(".json")]
    assert len(json_files) == 1
    stem = json_files[0].removesuffix(".json")
    assert f"{stem}.html" in reports and "latest-pre.json" in reports
    record = json.loads((pytester.path / "reports" / json_files[0]).read_text())
    assert json.loads(extra.read_text()) == record
    assert set(record) >= {"gate", "marker_expression", "verdict", "exit_code", "environment", "release",
                           "started_at", "finished_at", "duration_s", "counts", "checks"}
    assert (record["gate"], record["environment"], record["release"]) == ("pre", "blue", "2.1.0")
    assert record["exit_code"] == 1
    html = (pytester.path / "reports" / f"{stem}.html").read_text()
    assert 'id="golive-verdict"' in html and "REVIEW" in html
    assert "p95 is 250 ms; allowed 200" in html


def test_gate_3_is_named_post(pytester, suite):
    suite("test_checks.py", "import pytest\n\n@pytest.mark.extended\ndef test_x():\n    pass\n")
    result = run(pytester, "-m", "extended or data_integrity")
    assert result.ret == 0
    assert latest_record(pytester, "post")["marker_expression"] == "extended or data_integrity"


def test_golive_gate_passes_arguments_through(pytester, suite):
    suite("test_checks.py", CHECKS)
    result = pytester.run(sys.executable, "-m", "golive", "gate", "1", "-n", "2", "--env", "green", timeout=120)
    assert result.ret == 0
    record = latest_record(pytester)
    assert (record["environment"], record["marker_expression"]) == ("green", "pre")


def test_golive_gate_rejects_its_own_marker_flag(pytester, suite):
    suite("test_checks.py", CHECKS)
    result = pytester.run(sys.executable, "-m", "golive", "gate", "1", "-m", "immediate", timeout=60)
    assert result.ret == 2


def test_reports_directory_is_relative_to_rootdir(pytester: pytest.Pytester, suite) -> None:
    suite("test_checks.py", CHECKS)
    sub = pytester.path / "validations"
    result = pytester.run(sys.executable, "-m", "pytest", "-m", "pre", str(sub), "-p", "no:cacheprovider",
                          timeout=60)
    assert result.ret == 0
    assert Path(pytester.path / "reports" / "latest-pre.json").exists()


@pytest.mark.parametrize("xdist", XDIST)
def test_internal_error_is_no_go(pytester, suite, xdist):
    suite("test_checks.py", CHECKS)
    pytester.makeconftest(
        """
        def pytest_runtest_logreport(report):
            if report.when == "call":
                raise RuntimeError("a plugin broke")
        """
    )
    result = run(pytester, "-m", "pre", *xdist)
    assert result.ret == 2
    assert latest_record(pytester)["verdict"] == "NO-GO"


@pytest.mark.parametrize("xdist", XDIST)
def test_max_warnings_cannot_replace_the_verdict(pytester, suite, xdist):
    suite("test_checks.py", CHECKS + "\ndef test_warns():\n    import warnings\n    warnings.warn('noisy')\n")
    result = run(pytester, "-m", "pre", "--max-warnings", "0", *xdist)
    assert result.ret == 0
    assert latest_record(pytester)["exit_code"] == 0


@pytest.mark.parametrize("xdist", XDIST)
def test_phase_checks_run_only_when_their_phase_is_named(pytester, suite, xdist):
    suite(
        "test_checks.py",
        CHECKS + '\n@pytest.mark.phase("50")\n@pytest.mark.critical\ndef test_half():\n    assert False, "50/50"\n',
    )
    assert run(pytester, "-m", "pre", *xdist).ret == 0
    assert not any(c["id"].endswith("test_half") for c in latest_record(pytester)["checks"])
    result = run(pytester, "-m", "pre", "--golive-phase", "50", *xdist)
    assert result.ret == 2
    assert any(c["id"].endswith("test_half") for c in latest_record(pytester)["checks"])


FACTS = """\
import pytest

from golive import facts

pytestmark = pytest.mark.pre

@pytest.fixture
def reading():
    facts.note("health", {"dialect": "ietf", "endpoint": "http://127.0.0.1:9/health"})

def test_reads(reading):
    facts.note("prometheus", {"job": "api", "preset": "micrometer"})

def test_reads_nothing():
    pass
"""


@pytest.mark.parametrize("xdist", XDIST)
def test_what_a_check_read_is_in_the_record(pytester, suite, xdist):
    suite("test_facts.py", FACTS)
    assert run(pytester, "-m", "pre", *xdist).ret == 0
    checks = {c["id"].rsplit("::", 1)[-1]: c for c in latest_record(pytester)["checks"]}
    assert checks["test_reads"]["facts"] == {
        "health": {"dialect": "ietf", "endpoint": "http://127.0.0.1:9/health"},
        "prometheus": {"job": "api", "preset": "micrometer"},
    }
    assert "facts" not in checks["test_reads_nothing"]


SECRET_FACT = """\
import pytest

from golive import facts

pytestmark = pytest.mark.pre

def test_reads():
    facts.note("health", {"endpoint": "http://probe:${HEALTH_PASSWORD}@127.0.0.1:9/health"})
"""


def test_a_secret_in_what_a_check_read_is_masked_in_the_record_and_junit(pytester, suite, monkeypatch):
    monkeypatch.setenv("HEALTH_PASSWORD", "s3cr3t-w0rd")
    pytester.path.joinpath("golive.yaml").write_text(MINIMAL_CONFIG.replace(
        '"http://127.0.0.1:9", role: candidate', '"http://probe:${HEALTH_PASSWORD}@127.0.0.1:9", role: candidate'))
    suite("test_facts.py", SECRET_FACT.replace("${HEALTH_PASSWORD}", "s3cr3t-w0rd"))
    assert run(pytester, "-m", "pre", "--junitxml=junit.xml", "-o", "junit_family=xunit1").ret == 0
    record = (pytester.path / "reports" / "latest-pre.json").read_text()
    junit = (pytester.path / "junit.xml").read_text()
    assert "***" in record and "***" in junit
    assert "s3cr3t-w0rd" not in record and "s3cr3t-w0rd" not in junit
