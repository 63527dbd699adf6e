"""The sandbox as golive's checks see it: healthy is GO, a broken sandbox is not; the demo end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive.sandbox import constants as c
from golive.sandbox.cli import main as sandbox_cli
from tests.support import REPO
from tests.support.cutover import weights
from tests.support.gates import gate1_baseline, prometheus_window_clean
from tests.support.polling import wait_for


@pytest.fixture
def settled(sandbox: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The sandbox with Gate 1's baseline in a reports directory and earlier faults out of Prometheus's window."""
    reports = tmp_path / "reports"
    gate1_baseline(sandbox, reports)
    wait_for("blue's Prometheus figures within thresholds", lambda: prometheus_window_clean(sandbox), 60)
    return sandbox, reports


def failing(record: dict) -> set[str]:
    return {c["id"].rsplit("::", 1)[1] for c in record["checks"] if c["outcome"] in {"failed", "error"}}


def sandbox_main(*argv: str) -> int:
    return sandbox_cli(list(argv))


def test_demo_runs_twice_the_second_time_with_the_cutover(settled, tmp_path):
    """`golive demo`, then `golive demo --cutover`: Gate 1, the cutover on the ALB (Gate 2 before its 50 % step,
    Gate 2 with the 50 % step's checks before 100 %), and Gate 3 after it, end to end."""
    sandbox, _reports = settled
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    began = datetime.now(UTC).replace(microsecond=0)
    for extra in ([], ["--cutover"]):
        completed = subprocess.run(
            [sys.executable, "-m", "golive", "demo", "--config-out", str(sandbox), *extra],
            cwd=REPO, capture_output=True, text=True, timeout=300, env=environ,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert "Gate 1: GO (exit 0)" in completed.stdout
    assert "Gate 2: GO (exit 0)" not in completed.stdout  # the cutover ran Gate 2 itself, before its first step
    assert "golive cutover WRITES to your load balancer" in completed.stdout
    assert "cutover: GO (exit 0)" in completed.stdout and "Gate 3: GO (exit 0)" in completed.stdout
    story = json.loads((REPO / "reports" / "latest-cutover.json").read_text())
    assert datetime.fromisoformat(story["started_at"]) >= began
    assert story["outcome"] == "GO" and [step["share"] for step in story["steps"]] == [50, 100]
    assert [step["gate_verdict"] for step in story["steps"]] == ["GO", "GO"]
    # The sandbox's configuration moves its weighted DNS records too (cutover.dns): two managers, each step.
    assert len(story["managers"]) == 2 and story["managers"][1].startswith("Route53 weighted records")
    assert all(len(step["calls"]) == 2 for step in story["steps"])
    assert {reading["source"] for reading in story["readings"]} == {"candidate", "front"}
    html = Path(story["html_report"]).read_text() if Path(story["html_report"]).is_absolute() else \
        (REPO / story["html_report"]).read_text()
    assert "<svg" in html and "<polyline" in html and "Cutover GO" in html
    assert weights(sandbox) == {"alb": (100, 0), "haproxy": (100, 0)}  # Gate 3 ran at blue 100




def test_healthy_sandbox_is_go_for_gate_2(settled, run_gate):
    config, reports = settled
    result = run_gate(config, "immediate", "-n", "2", reports=reports)
    assert result.code == 0, result.record["reasons"]
    assert result.record["environment"] == "blue" and result.record["release"] == "2.1.0"


def test_green_is_healthy_and_runs_the_previous_release(sandbox, run_gate):
    result = run_gate(sandbox, "immediate", "validations/test_application_health.py", "--env", "green")
    assert result.partial_go, result.record["reasons"]


def test_crashed_blue_is_no_go_and_clearing_it_is_go(settled, run_gate):
    """Issue 3: crash blue, Gate 2 is NO-GO; clear the fault, Gate 2 is GO (after Gate 1 left its baseline)."""
    config, reports = settled
    assert sandbox_main("fault", "blue", "--crash") == 0
    crashed = run_gate(config, "immediate", reports=reports)
    assert crashed.code == 2
    assert {"test_health_endpoint_reports_ok", "test_version_is_the_release_under_test"} <= failing(crashed.record)
    # Prometheus still holds blue's healthy figures of the last 30 s: they must not count (issue 10).
    for name in ("test_error_ratio_prometheus", "test_p95_prometheus"):
        check = crashed.check(name)
        assert check["outcome"] == "error", check
        assert f"job orchestrator-blue: target {c.HOST}:{c.BLUE_PORT} is down at its last scrape" in check["message"]
    assert sandbox_main("fault", "blue", "--clear") == 0
    wait_for("blue's Prometheus figures within thresholds", lambda: prometheus_window_clean(config), 60)
    cleared = run_gate(config, "immediate", reports=reports)
    assert cleared.code == 0, cleared.record["reasons"]


def test_blue_answering_errors_is_no_go(sandbox, run_gate):
    assert sandbox_main("fault", "blue", "--error-rate", "1.0") == 0
    result = run_gate(sandbox, "immediate", "validations/test_application_health.py")
    assert result.code == 2
    assert "test_health_endpoint_reports_ok" in failing(result.record)


def test_gate_1_on_the_sandbox_is_no_go_until_the_human_items_are_signed(sandbox, tmp_path, run_gate):
    """Issue 4: nothing attested -> NO-GO naming the approvals; everything attested -> GO with 60+ checks."""
    from golive import attestations, human_items
    from tests.support.gates import variant

    config = variant(sandbox, tmp_path / "golive.yaml", {"attestations": str(tmp_path / "signed.jsonl")})
    unsigned = run_gate(config, "pre", "-n", "2")
    assert unsigned.code == 2
    for role in ("release_manager", "technical_lead", "product_manager", "security_lead", "operations_manager"):
        assert f"test_signed[approval.{role}]" in unsigned.stdout
        assert unsigned.check(f"test_signed[approval.{role}]")["outcome"] == "failed"
    automated = [c for c in unsigned.record["checks"] if c["component"] != "attestation"]
    assert [c["id"] for c in automated if c["outcome"] in {"failed", "error"}] == []

    items = human_items.load_all(REPO / "validations")
    for item in items:
        attestations.record(tmp_path / "signed.jsonl", item.id, f"Sandbox {item.roles[0]}", item.roles[0], "2.1.0",
                            items=items)
    signed = run_gate(config, "pre", "-n", "2")
    assert signed.code == 0, signed.record["reasons"]
    assert len(signed.record["checks"]) >= 60
