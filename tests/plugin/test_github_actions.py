"""With GITHUB_ACTIONS=true a gate run writes $GITHUB_STEP_SUMMARY and annotations that match its record."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from golive.decision_record import DecisionRecord
from golive.github_actions import ANNOTATIONS_PER_TYPE, SUMMARY_LIMIT_BYTES, annotation_lines, summary
from tests.support import REPO
from tests.support.gates import minimal_config


def test_a_gate_run_writes_summary_and_annotations_matching_its_record(tmp_path):
    config = minimal_config(tmp_path / "golive.yaml")  # blue on a closed port: Gate 2 is NO-GO
    step_summary = tmp_path / "step-summary.md"
    record_path = tmp_path / "record.json"
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    environ.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(step_summary))
    completed = subprocess.run(
        [sys.executable, "-m", "golive", "gate", "2", f"--golive-config={config}",
         f"--golive-reports={tmp_path / 'reports'}", f"--golive-json={record_path}", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=environ,
    )
    assert completed.returncode == 2
    record = json.loads(record_path.read_text())
    text = step_summary.read_text()
    assert text.startswith("## golive gate immediate on blue: ⛔ NO-GO") and str(record["html_report"]) in text
    blocking = [c for c in record["checks"] if c["outcome"] in ("failed", "error")]
    assert blocking and all(c["id"] in text for c in blocking)
    shown = [line for line in completed.stdout.splitlines() if line.startswith(("::error ", "::warning "))]
    assert shown == annotation_lines(DecisionRecord.load(record_path))
    critical = [c for c in blocking if c["severity"] == "critical"]
    assert sum(line.startswith("::error ") for line in shown) == min(len(critical), ANNOTATIONS_PER_TYPE)


def _record(checks: list[dict], verdict: str = "REVIEW", exit_code: int = 1) -> DecisionRecord:
    counts = {outcome: sum(c["outcome"] == outcome for c in checks)
              for outcome in ("passed", "failed", "error", "skipped", "waived")}
    return DecisionRecord.parse({
        "gate": "pre", "verdict": verdict, "exit_code": exit_code, "environment": "blue", "release": "2.1.0",
        "started_at": "2026-12-07T10:00:00+00:00", "finished_at": "2026-12-07T10:00:01+00:00", "duration_s": 1.0,
        "reasons": [], "counts": counts,
        "checks": [{"component": "http", **check} for check in checks]})


def test_limits():
    checks = [{"id": f"v.py::t{i}", "outcome": "failed", "severity": "warning", "message": "x" * 20_000}
              for i in range(100)]
    record = _record(checks)
    assert len(annotation_lines(record)) == ANNOTATIONS_PER_TYPE
    assert len(summary(record).encode()) <= SUMMARY_LIMIT_BYTES
    assert annotation_lines(_record([{"id": "a::b", "outcome": "error", "severity": "critical",
                                      "message": "50%\nline"}], "NO-GO", 2)) == [
        "::error title=golive pre%3A a%3A%3Ab::50%25%0Aline"]


def test_a_record_that_contradicts_itself_is_not_shown_under_its_own_banner():
    forged = _record([{"id": "a::b", "outcome": "failed", "severity": "critical", "message": "down"}], "GO", 0)
    assert summary(forged).startswith("## golive gate pre on blue: REJECTED: it says GO, its own checks say NO-GO")
