"""The sandbox as golive's checks see it: healthy is GO, a broken sandbox is not; the demo end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from golive.sandbox.cli import main as sandbox_cli

REPO = Path(__file__).resolve().parents[1]


def gate(config: Path, marker: str, tmp_path: Path, *args: str) -> tuple[int, dict]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    reports = tmp_path / "reports"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", marker, f"--golive-config={config}", f"--golive-reports={reports}",
         "-p", "no:cacheprovider", "-q", *args],
        cwd=REPO, capture_output=True, text=True, timeout=180, env=environ,
    )
    record = json.loads(next(reports.glob("latest-*.json")).read_text())
    return completed.returncode, record


def failing(record: dict) -> set[str]:
    return {c["id"].rsplit("::", 1)[1] for c in record["checks"] if c["outcome"] in {"failed", "error"}}


def test_healthy_sandbox_is_go_for_gate_2(sandbox, tmp_path):
    code, record = gate(sandbox, "immediate", tmp_path, "-n", "2")
    assert code == 0, record["reasons"]
    assert record["environment"] == "blue" and record["release"] == "2.1.0"


def test_green_is_healthy_and_runs_the_previous_release(sandbox, tmp_path):
    code, record = gate(sandbox, "immediate", tmp_path, "--env", "green")
    assert code == 0, record["reasons"]


def test_crashed_blue_is_no_go_and_clearing_it_is_go(sandbox, tmp_path):
    assert sandbox_main("fault", "blue", "--crash") == 0
    code, record = gate(sandbox, "immediate", tmp_path)
    assert code == 2
    assert failing(record) == {"test_health_endpoint_reports_ok", "test_version_is_the_release_under_test"}
    assert sandbox_main("fault", "blue", "--clear") == 0
    assert gate(sandbox, "immediate", tmp_path)[0] == 0


def test_blue_answering_errors_is_no_go(sandbox, tmp_path):
    assert sandbox_main("fault", "blue", "--error-rate", "1.0") == 0
    code, record = gate(sandbox, "immediate", tmp_path)
    assert code == 2
    assert "test_health_endpoint_reports_ok" in failing(record)


def test_demo_runs_twice(sandbox, tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    for _ in range(2):
        completed = subprocess.run(
            [sys.executable, "-m", "golive", "demo", "--config-out", str(sandbox)],
            cwd=REPO, capture_output=True, text=True, timeout=300, env=environ,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert "Gate 1: GO (exit 0)" in completed.stdout
        assert "Gate 2: GO (exit 0)" in completed.stdout


def sandbox_main(*argv: str) -> int:
    return sandbox_cli(list(argv))


def test_gate_1_on_the_sandbox_is_no_go_until_the_human_items_are_signed(sandbox, tmp_path, run_gate):
    """Issue 4: nothing attested -> NO-GO naming the approvals; everything attested -> GO with 60+ checks."""
    from gate1_support import variant

    from golive import attestations

    config = variant(sandbox, tmp_path / "golive.yaml", {"attestations": str(tmp_path / "signed.jsonl")})
    unsigned = run_gate(config, "pre", "-n", "2")
    assert unsigned.code == 2
    for role in ("release_manager", "technical_lead", "product_manager", "security_lead", "operations_manager"):
        assert f"test_signed[approval.{role}]" in unsigned.stdout
        assert unsigned.check(f"test_signed[approval.{role}]")["outcome"] == "failed"
    automated = [c for c in unsigned.record["checks"] if c["component"] != "attestation"]
    assert [c["id"] for c in automated if c["outcome"] in {"failed", "error"}] == []

    for item in attestations.HUMAN_ITEMS:
        attestations.record(tmp_path / "signed.jsonl", item.id, f"Sandbox {item.roles[0]}", item.roles[0], "2.1.0")
    signed = run_gate(config, "pre", "-n", "2")
    assert signed.code == 0, signed.record["reasons"]
    assert len(signed.record["checks"]) >= 60
