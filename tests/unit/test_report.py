"""The gate report people sign, opened the way a person opens it: in headless Chromium, printed to PDF."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from golive import templating
from golive.masking import Masker
from golive.report import ReportFacts, banner, details
from golive.timeline import Entry, Event
from golive.verdict import CheckResult, Decision, Outcome, Severity, Verdict
from tests.support import REPO

CHECKS = '''\
"""Database and schema: the primary and its replicas."""
import pytest

from golive import facts

pytestmark = pytest.mark.pre


def test_warning_fails():
    """Connections are below 80 % of max_connections."""
    assert False, "connections at 92 % of max_connections on 127.0.0.1:5432 as S3cretPlanted9; allowed 80 %"


@pytest.mark.critical
def test_critical_fails():
    """Every replica streams with replay lag within the threshold."""
    facts.note("login", "replicator S3cretPlanted9")
    assert False, ("replication lag on 127.0.0.1:15433 is 592 bytes; allowed 0 <b>not bold</b>"
                   " <script>document.title = 'ran'</script>")


@pytest.mark.critical
def test_passes():
    """The primary answers."""


def test_not_configured():
    pytest.skip("not configured: aws")


def test_measures_latency(latency_picture):
    """Latency sampled on the candidate."""
    latency_picture("blue (candidate)", {"p50_ms": 12.0, "p95_ms": 250.0, "p99_ms": 300.5, "source": "sampled",
                                         "completed": 100, "error_ratio": 0.0})
'''

CONFIG = """\
release: {version: "2.1.0", previous: "2.0.5"}
environments:
  blue: {url: "http://deployer:S3cretPlanted9@127.0.0.1:9", role: candidate}
waivers:
  - {check: "validations/test_database.py::test_warning_fails", reason: "pool resized tonight",
     approved_by: "Rita Release", expires: "%s"}
"""


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium not installed: run scripts/ensure-system-packages"
    return path


def print_to_text(html_file: Path, out_dir: Path) -> str:
    """What a person sees: the page rendered by Chromium, printed to PDF, and the PDF's text in reading order."""
    pdf = out_dir / "report.pdf"
    subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={out_dir / 'chromium'}", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
         html_file.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert shutil.which("pdftotext"), "pdftotext not installed: run scripts/ensure-system-packages"
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "validations").mkdir()
    (tmp_path / "validations" / "test_database.py").write_text(CHECKS)
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = validations\n")
    return tmp_path


def gate(project: Path, expires: str) -> tuple[int, dict]:
    (project / "golive.yaml").write_text(CONFIG % expires)
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    completed = subprocess.run([sys.executable, "-m", "pytest", "-m", "pre", "-p", "no:cacheprovider"], cwd=project,
                               capture_output=True, text=True, timeout=120, env=environ)
    return completed.returncode, json.loads((project / "reports" / "latest-pre.json").read_text())


def test_no_go_report_in_a_browser_shows_verdict_blocking_checks_first_and_sign_off(project, tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    for message in ("deploy started", "blue deployed"):
        subprocess.run([sys.executable, "-m", "golive", "timeline", "event", message], cwd=project, check=True,
                       env=environ, timeout=60)
    code, record = gate(project, "2999-12-31")
    assert code == 2
    page = " ".join(print_to_text(Path(record["html_report"]), tmp_path).split())

    assert "NO-GO (exit 2) · Gate 1: pre-deployment go/no-go · decided by Release Manager" in page
    blocking = page.index("Blocking: critical checks that failed")
    first_critical = page.index("validations/test_database.py::test_critical_fails")
    checklist = page.index("Checklist by area")
    assert blocking < first_critical < checklist, "the failed critical check must come before the rest"
    assert page.index("The primary answers.") > checklist
    assert "<b>not bold</b>" in page  # escaped: shown as text, not interpreted
    assert "<script>document.title = 'ran'</script>" in page
    raw = Path(record["html_report"]).read_text()
    assert "&lt;b&gt;not bold&lt;/b&gt; &lt;script&gt;" in raw
    # The password of the candidate's URL, planted in a message and in a fact the check noted, is masked.
    assert "S3cretPlanted9" not in raw and "S3cretPlanted9" not in page
    assert "127.0.0.1:5432 as ***; allowed 80 %" in page and "login: replicator ***" in page
    assert "pool resized tonight" in page and "in force" in page
    assert "not configured: aws" in page
    latency = page.index("Latency")
    assert first_critical < latency < checklist
    assert "blue (candidate)" in page and "250.0 ms" in page and "300.5 ms" in page
    assert page.index("deploy started") < page.index("blue deployed") < page.index("gate pre on blue: NO-GO")
    sign_off = page.index("Sign-off")
    assert "Release Manager (decides this gate)" in page[sign_off:]
    assert all(role in page[sign_off:] for role in ("Deployment Lead", "Technical Lead", "DBA"))


def test_a_valid_waiver_turns_review_into_go_and_an_expired_one_does_not(project, tmp_path):
    checks = project / "validations" / "test_database.py"
    checks.write_text(CHECKS.replace("@pytest.mark.critical\ndef test_critical_fails", "def _unused"))
    code, record = gate(project, "2999-12-31")
    assert (code, record["verdict"], record["counts"]["waived"]) == (0, "GO", 1)
    page = print_to_text(Path(record["html_report"]), tmp_path)
    assert "pool resized tonight" in page and "in force" in page

    code, record = gate(project, "2020-01-01")
    assert (code, record["verdict"]) == (1, "REVIEW")
    assert record["notes"] == ["waiver for validations/test_database.py::test_warning_fails expired on 2020-01-01:"
                               " not applied"]
    page = " ".join(print_to_text(Path(record["html_report"]), tmp_path).split())
    assert "expired: no effect" in page


def test_report_screenshot_for_the_readme(project, tmp_path):
    """docs/report-no-go.png is how the README shows the report; regenerate with GOLIVE_UPDATE_DOCS=1."""
    code, record = gate(project, "2999-12-31")
    assert code == 2
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,1100", "--hide-scrollbars",
         f"--screenshot={shot}", Path(record["html_report"]).as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    docs = REPO / "docs" / "report-no-go.png"
    if os.environ.get("GOLIVE_UPDATE_DOCS"):
        docs.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, docs)
    assert docs.exists(), "docs/report-no-go.png missing: run this test with GOLIVE_UPDATE_DOCS=1"



def test_every_printed_value_is_escaped_and_masked():
    """The sections as plain functions: markup in a message, a fact, a waiver and the timeline is text, and a
    secret the run's masker knows is *** wherever it was planted."""
    secret = "S3cretPlanted9"
    failed = CheckResult("validations/test_db.py::test_lag", Outcome.FAILED, Severity.CRITICAL, "postgres",
                         "Replicas stream <i>in time</i>", "database",
                         f"lag <b>bold</b> <script>alert(1)</script> as {secret}",
                         facts={"login": {"user": "replicator", "password": secret}})
    waived = CheckResult("validations/test_db.py::test_pool", Outcome.WAIVED, Severity.WARNING, "postgres",
                         "Pool", "database", "pool at 92 %", waiver=f"<b>{secret}</b>")
    facts = ReportFacts(
        gate="pre", expression="pre", decision=Decision(Verdict.NO_GO, 2, (f"{failed.id} failed",)),
        results=[failed, waived], environment="blue", release="2.1.0", started_at="2026-12-02T06:00:00+00:00",
        duration_s=1.0, config="golive.yaml (from --golive-config)", today=date(2026, 12, 2),
        timeline=[Entry(Event("2026-12-02T05:59:00+00:00", "event", f"<script>x()</script> {secret}", "me", 1),
                        None)],
        mask=Masker([secret]),
    )
    page = banner(facts) + details(facts)
    assert "<b>bold" not in page and "<i>in time" not in page and "<script>" not in page and "<b>***" not in page
    assert "lag &lt;b&gt;bold&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt; as ***" in page
    assert "Replicas stream &lt;i&gt;in time&lt;/i&gt;" in page and "waived: &lt;b&gt;***&lt;/b&gt;" in page
    assert "login: user replicator; password ***" in page and "&lt;script&gt;x()&lt;/script&gt; ***" in page
    assert secret not in page


def test_a_template_given_too_little_fails_loudly():
    with pytest.raises(UndefinedError):
        templating.render("report_details.html", Masker(), decision=Decision(Verdict.GO, 0, ()))
