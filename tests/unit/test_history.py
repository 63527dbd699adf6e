"""golive history: the decision records over time, with each check's pass rate and flaps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from golive.decision_record import DecisionRecord
from golive.history import Run, build, render
from golive.masking import Masker


def write_record(directory: Path, stamp: str, verdict: str, outcomes: dict[str, str]) -> None:
    record = {
        "gate": "pre", "marker_expression": "pre", "verdict": verdict,
        "exit_code": {"GO": 0, "REVIEW": 1, "NO-GO": 2}[verdict], "environment": "staging", "release": "2.1.0",
        "started_at": f"2026-11-{stamp}T02:00:00+00:00", "finished_at": f"2026-11-{stamp}T02:00:03+00:00",
        "duration_s": 3.0, "html_report": f"reports/pre-staging-{stamp}.html",
        "counts": {o: list(outcomes.values()).count(o) for o in ("passed", "failed", "error", "skipped", "waived")},
        "checks": [{"id": f"validations/test_a.py::{name}", "title": f"<{name}>", "outcome": outcome,
                    "severity": "warning", "component": "http"} for name, outcome in outcomes.items()],
    }
    (directory / f"pre-staging-202611{stamp}T020000Z.json").write_text(json.dumps(record))


def test_history_lists_runs_with_pass_rates_and_flaps(tmp_path):
    write_record(tmp_path, "24", "GO", {"test_steady": "passed", "test_flaky": "passed"})
    write_record(tmp_path, "25", "REVIEW", {"test_steady": "passed", "test_flaky": "failed"})
    write_record(tmp_path, "26", "GO", {"test_steady": "passed", "test_flaky": "passed", "test_new": "skipped"})
    (tmp_path / "latest-pre.json").write_text("{}")
    (tmp_path / "notes.json").write_text("[1, 2]")
    index, runs, histories = build(tmp_path)
    assert len(runs) == 3
    by_id = {h.id.rsplit("::", 1)[1]: h for h in histories}
    assert (by_id["test_flaky"].pass_rate, by_id["test_flaky"].flaps) == (2 / 3, 2)
    assert (by_id["test_steady"].pass_rate, by_id["test_steady"].flaps) == (1.0, 0)
    assert by_id["test_new"].pass_rate is None
    assert histories[0].id.endswith("test_flaky")  # flapping checks first
    page = index.read_text()
    assert page.count("<tr><td>2026-11-") == 3
    assert "&lt;test_flaky&gt;" in page and "<test_flaky>" not in page  # escaped
    assert "67%" in page and "notes.json: not a golive decision record" in page


def test_history_cli(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k != "GOLIVE_REPORTS"}
    empty = subprocess.run([sys.executable, "-m", "golive", "history", str(tmp_path)], capture_output=True, text=True,
                           timeout=60, env=environ)
    assert empty.returncode == 2 and "no decision records" in empty.stderr
    for stamp in ("24", "25", "26"):
        write_record(tmp_path, stamp, "GO", {"test_x": "passed"})
    result = subprocess.run([sys.executable, "-m", "golive", "history", str(tmp_path)], capture_output=True,
                            text=True, timeout=60, env=environ)
    assert result.returncode == 0
    assert result.stdout.strip() == f"{tmp_path / 'index.html'}: 3 runs, 1 checks, 0 flapping"


def test_history_page_shows_markup_as_text_and_masks_secrets(tmp_path):
    write_record(tmp_path, "24", "GO", {"test_x": "passed"})
    path = tmp_path / "pre-staging-20261124T020000Z.json"
    record = json.loads(path.read_text())
    record["environment"] = "postgresql://deployer:S3cretPlanted9@db.internal/app"  # a record written by hand
    record["checks"][0]["title"] = "<b>bold</b> <script>alert(1)</script>"
    path.write_text(json.dumps(record))
    index, _, histories = build(tmp_path)
    page = index.read_text()
    assert "<b>" not in page and "<script>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "postgresql://deployer:***@db.internal/app" in page and "S3cretPlanted9" not in page
    # With a run's masker, a secret it knows is masked wherever it stands.
    record["release"] = "S3cretPlanted9"
    page = render([Run(path, DecisionRecord.parse(record))], [], histories, mask=Masker(["S3cretPlanted9"]))
    assert "<td>***</td>" in page and "S3cretPlanted9" not in page
