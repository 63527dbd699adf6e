"""No credential written anywhere: a real `golive gate 1` against real HTTP services on loopback, a token planted
in the health path, and afterwards no file under the run's reports directory (the record, its HTML, the baseline,
the timeline, JUnit XML, pytest-html's report, the GitHub step summary) holds the token in any form.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests.canned_http import Answer, CannedHTTP, Request

REPO = Path(__file__).resolve().parents[2]
TOKEN = "hT0ken-9f3a71c2e4b85d06"  # planted, looked for afterwards


def _service(version: str) -> CannedHTTP:
    """An app answering its health (only with the right token, quoting the path it was asked, as careless services
    do in errors) and an API path."""

    def health(request: Request) -> Answer:
        if request.query("token") != TOKEN:
            return Answer(401, {"status": "error", "error": "bad token"})
        return Answer(200, {"status": "ok", "version": version, "uptime": 1234})

    return CannedHTTP({"/health": health, "/api/items": Answer(200, {"items": []})})


def _leaks(directory: Path, secret: str) -> list[str]:
    """Files under ``directory`` (recursively, as bytes) holding the secret in one of the forms it takes in text."""
    forms = {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()}
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(directory)}: {form!r}" for form in forms if form.encode() in data]
    return found


@pytest.mark.parametrize("key", ["health_path", "health.path"])
def test_gate_1_writes_no_file_holding_the_health_token(key, tmp_path):
    with _service("2.1.0") as blue, _service("2.0.5") as green:
        path = "/health?token=${HEALTH_TOKEN}"
        # No http.endpoints: the live baseline samples the health path (http.paths in the baseline file).
        http: dict[str, object] = {"timeout_s": 2, "sampling": {"requests": 20, "concurrency": 2}}
        if key == "health_path":
            http["health_path"] = path
        else:
            http["health"] = {"path": path}
        config = tmp_path / "golive.yaml"
        config.write_text(yaml.safe_dump({
            "release": {"version": "2.1.0", "previous": "2.0.5"},
            "environments": {"blue": {"url": blue.url, "role": "candidate"},
                             "green": {"url": green.url, "role": "live"}},
            "http": http,
        }, sort_keys=False))  # fmt: skip
        reports = tmp_path / "reports"
        environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
        environ.update(HEALTH_TOKEN=TOKEN, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(reports / "summary.md"))
        reports.mkdir()
        done = subprocess.run(
            [sys.executable, "-m", "golive", "gate", "1", f"--golive-config={config}", f"--golive-reports={reports}",
             f"--junitxml={reports / 'junit.xml'}", f"--html={reports / 'report.html'}", "-p", "no:cacheprovider",
             "-q"],
            cwd=REPO, capture_output=True, text=True, timeout=300, env=environ,
        )  # fmt: skip
        # The services were asked with the token: the gate really used it.
        asked = [p for p in blue.paths() + green.paths() if p.startswith("/health")]
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1, 2) and "Traceback" not in output, output
    assert asked and all(p == f"/health?token={TOKEN}" for p in asked), asked
    written = {p.relative_to(reports).as_posix() for p in reports.rglob("*") if p.is_file()}
    baselines = [name for name in written if name.startswith("baseline-2.1.0-")]
    assert baselines and "junit.xml" in written and "report.html" in written and "summary.md" in written, written
    assert any(name.startswith("pre-") and name.endswith(".json") for name in written), written
    assert _leaks(reports, TOKEN) == []
    assert "/health?token=***" in (reports / baselines[0]).read_text()  # the path is there, its token masked
    assert TOKEN not in output


# --- the other writers: each masks where it writes ------------------------------------------------------------


def test_the_cutover_journal_masks_each_line_and_still_reads_back(tmp_path):
    from golive.cutover.journal import Journal
    from golive.masking import Masker

    journal = Journal.for_managers(tmp_path, ["haproxy"], Masker(["c0nfigured-s3cret"]))
    journal.write("start", run_id="abc", steps=[{"percent": 50, "bake_s": 1.0}])
    journal.write("moved", step=0, weights={"blue": 50, "green": 50})
    journal.write("rolled-back", weights={"blue": 0, "green": 100}, restored=True,
                  reason="gate 2 at http://ops:pw-in-url@lb:8080 said NO-GO; token c0nfigured-s3cret refused")
    text = journal.path.read_text()
    assert "pw-in-url" not in text and "c0nfigured-s3cret" not in text and "http://ops:***@lb:8080" in text
    state = journal.state()
    assert state.outcome == "rolled-back" and state.last_weights == {"blue": 50, "green": 50}
    # Without the configuration's masker (a caller that has none), credential shapes are still masked.
    bare = Journal(tmp_path / "bare.jsonl")
    bare.write("rolled-back", reason="GET http://ops:pw-in-url@lb:8080/health?access_token=t0k3n-xyz: 503")
    assert "pw-in-url" not in bare.path.read_text() and "t0k3n-xyz" not in bare.path.read_text()


def test_an_attestation_note_is_masked(tmp_path):
    from golive import attestations
    from golive.human_items import HumanItem
    from golive.masking import Masker

    item = HumanItem("backup.verified", "Backup verified", ("Release Manager",), "infrastructure")
    path = tmp_path / "attestations.jsonl"
    attestations.record(path, item.id, "Ada", "Release Manager", "2.1.0", "restored with password=hunter2-pw from "
                        "s3://bucket, c0nfigured-s3cret", items=[item], mask=Masker(["c0nfigured-s3cret"]))  # fmt: skip
    text = path.read_text()
    assert "hunter2-pw" not in text and "c0nfigured-s3cret" not in text and "password=***" in text
    assert attestations.read(path)[0].by == "Ada"
