"""Issue 10's health must-shows against real processes: the sandbox answering health as IETF, Spring Boot
Actuator and the status-plus-flags family do. Healthy is GO at Gates 1, 2 and 3 with no waiver, watch fires
nothing and the dashboard exits 0; blue crashed, a dependency down, 20 % 5xx and 400 ms added latency are each
NO-GO naming the cause. An answer golive cannot read, and an unknown status word, are NO-GO naming the key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive import attestations, human_items
from golive.config import load_settings
from golive.sandbox import constants as c
from golive.sandbox.cli import main as sandbox_main
from golive.sandbox.manager import state_dir
from tests.support import REPO
from tests.support.cutover import GATE3, cut_over
from tests.support.gates import minimal_config, prometheus_window_clean, sandbox_command, variant
from tests.support.polling import wait_for

BLUE = f"http://{c.HOST}:{c.BLUE_PORT}"
# What each dialect's configuration says besides health_path: only what golive cannot detect.
WRITTEN = {"ietf": ("/health", None), "spring": ("/actuator/health", {"version_path": "/actuator/info"}),
           "flags": ("/health", {"ready_path": "/ready"})}  # fmt: skip
READ_FROM = {"ietf": [f"{BLUE}/health"], "spring": [f"{BLUE}/actuator/health", f"{BLUE}/actuator/info"],
             "flags": [f"{BLUE}/health", f"{BLUE}/ready"]}  # fmt: skip


def golive(*argv: str, timeout: float = 120) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    return subprocess.Popen([sys.executable, "-m", "golive", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=environ)  # fmt: skip


def sign_everything(config: Path) -> None:
    """The release team signs every human checklist item, as `golive attest` would."""
    settings = load_settings(config, "test")
    release, max_age = settings.release.version, settings.document.attestations.max_age_h
    items = human_items.load_all(REPO / "validations")
    for status in attestations.open_items(attestations.read(settings.attestations_path), release, max_age, items):
        role = status.item.roles[0]
        attestations.record(settings.attestations_path, status.item.id, f"Sandbox {role}", role, release, "test",
                            items=items)


def not_passed(run: Any) -> dict[str, str]:
    return {k["id"]: k["message"] for k in run.record["checks"] if k["outcome"] not in ("passed", "skipped")}


@pytest.mark.parametrize("dialect", ["ietf", "spring", "flags"])
def test_dialect_healthy_is_go_everywhere_and_each_fault_is_no_go(dialect, sandbox_session, run_gate, tmp_path):
    config = tmp_path / f"{dialect}.yaml"
    assert sandbox_main(["up", "--dialect", dialect, "--config-out", str(config)]) == 0
    http = yaml.safe_load(config.read_text())["http"]
    path, keys = WRITTEN[dialect]
    assert http["health_path"] == path and http.get("health") == keys  # no dialect, no pointer: detected
    assert "waivers" not in yaml.safe_load(config.read_text())
    assert json.loads((state_dir() / "state.json").read_text())["app_options"]["dialect"] == dialect

    # `golive watch` for 60 s while the gates run: no trigger fires on a healthy service in its own dialect.
    triggers = {"error_rate": {"above": 0.10, "for_s": 5}, "p95_ms": {"above": 2000, "for_s": 5},
                "database_down": {"for_s": 5}, "crash": {"for_s": 5}}  # fmt: skip
    watched = variant(config, tmp_path / "watch.yaml", {"rollback_triggers": triggers})
    watch = golive("watch", "--env", "blue", "--interval", "2", "--duration", "60", "--golive-config",
                   str(watched), "--reports", str(tmp_path / "watch-reports"))  # fmt: skip
    try:
        reports = tmp_path / "reports"
        sign_everything(config)
        gate1 = run_gate(config, "pre", "-n", "2", reports=reports)
        assert gate1.code == 0, not_passed(gate1)
        health = gate1.check("test_candidate_answers")
        assert health["facts"]["health"]["dialect"] == dialect
        assert list(health["facts"]["health"]["endpoints"].values()) == READ_FROM[dialect]
        html = Path(gate1.record["html_report"]).read_text()
        assert f"health: dialect {dialect}; endpoints health {READ_FROM[dialect][0]}" in html  # the report says so
        # Faults of an earlier test may still be in Prometheus's 30 s window: Gate 2 judges it once they are out.
        wait_for("blue's Prometheus figures within thresholds", lambda: prometheus_window_clean(config), 60)
        gate2 = run_gate(config, "immediate", "-n", "2", reports=reports)
        assert gate2.code == 0, not_passed(gate2)
        frame = subprocess.run([sys.executable, "-m", "golive", "dashboard", "--env", "blue", "--golive-config",
                                str(config)], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert frame.returncode == 0, frame.stdout
        cut_over(100)
        gate3 = run_gate(config, GATE3, "-n", "2", reports=reports)
        assert gate3.code == 0, not_passed(gate3)
        assert gate3.record["counts"]["waived"] == 0
        sandbox_command("helper", "cutover", "--clear")
        output, _ = watch.communicate(timeout=90)
    finally:
        watch.kill()
    assert watch.returncode == 0 and "no rollback trigger fired" in output, output

    # Each fault alone: NO-GO, the message naming the cause.
    faults: list[tuple[list[str], tuple[str, ...], str]] = [
        (["--crash"], ("-k", "test_health_endpoint_reports_ok"), f"{BLUE}{path}: cannot connect"),
        (["--dependency-down", "redis"], ("-k", "test_health_dependencies_ok"), "redis"),
        (["--error-rate", "0.2"], ("-k", "test_error_ratio_sampled"), "exceeds 0.0010 (thresholds.error_rate)"),
        (["--latency-ms", "400"], ("-k", "test_p95_sampled"), "p95"),
    ]
    for fault, selection, cause in faults:
        sandbox_command("fault", "blue", *fault)
        try:
            run = run_gate(config, "immediate", *selection, reports=reports)
        finally:
            sandbox_command("fault", "blue", "--clear")
        assert run.code == 2, (fault, run.record["checks"])
        messages = " | ".join(not_passed(run).values())
        assert cause in messages, (fault, messages)
        if fault[0] == "--dependency-down":
            assert "unreachable" in messages  # the app's own words, from its readiness or health answer


# --- answers golive cannot read ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "outcome", "fragments"),
    [
        ({"state": "GOOD", "build": {"tag": "2.1.0"}, "token": "s3cr3t-t0ken"}, "error",
         ("no status field", "top-level fields: build, state, token", "set http.health.status")),
        ({"status": "splendid", "version": "2.1.0"}, "failed", ("'splendid'", "set http.health.healthy")),
    ],
    ids=["unknown-shape", "unknown-status-word"],
)
def test_an_answer_golive_cannot_read_is_no_go_naming_the_key(run_gate, tmp_path, canned_http, body, outcome,
                                                               fragments):
    canned_http.answer("*", body)
    config = minimal_config(tmp_path / "c.yaml", {"environments.blue.url": canned_http.url})
    run = run_gate(config, "pre", "validations/test_application_health.py", "-k", "reports_ok")
    assert run.code == 2
    check = run.check("test_health_endpoint_reports_ok")
    assert check["outcome"] == outcome, check
    for fragment in fragments:
        assert fragment in check["message"], check["message"]
    assert "s3cr3t-t0ken" not in json.dumps(run.record) and "GOOD" not in check["message"]


def test_a_degraded_answer_is_a_review(run_gate, tmp_path, canned_http):
    """Degraded (IETF warn): the service works with a problem; a warning-severity failure, REVIEW."""
    canned_http.answer("*", {"status": "warn", "releaseId": "2.1.0", "checks": {
        "redis:responseTime": [{"componentType": "datastore", "observedValue": 900, "status": "warn"}]}},
        content_type="application/health+json")
    config = minimal_config(tmp_path / "c.yaml", {"environments.blue.url": canned_http.url})
    run = run_gate(config, "pre", "validations/test_application_health.py", "-k", "reports_ok")
    assert run.code == 1, run.record["checks"]
    check = run.check("test_health_endpoint_reports_ok")
    assert check["severity"] == "warning" and "says it is degraded: warn (HTTP 200, ietf" in check["message"]
    assert check["facts"]["health"]["dialect"] == "ietf"
