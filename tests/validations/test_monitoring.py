"""Gate 1, monitoring and observability: each automated check passes on the healthy sandbox and fails when broken."""

from __future__ import annotations

import yaml

from tests.support.gates import sandbox_command, variant

MODULE = "validations/test_monitoring.py"
AUTOMATED = (
    "test_prometheus_answers_queries",
    "test_alert_rules_loaded",
    "test_cloudwatch_alarms_exist",
    "test_no_cloudwatch_alarm_firing",
    "test_log_groups_exist",
)


def test_healthy_sandbox_passes_every_monitoring_check(sandbox, run_gate):
    run = run_gate(sandbox, "pre", MODULE, "-k", "not test_signed")
    assert run.outcomes() == dict.fromkeys(AUTOMATED, "passed"), run.stdout
    assert run.check("test_alert_rules_loaded")["component"] == "prometheus"
    assert run.partial_go


def test_unreachable_prometheus_is_no_go(sandbox, run_gate, tmp_path, closed_port):
    config = variant(sandbox, tmp_path / "closed.yaml", {"prometheus.url": f"http://127.0.0.1:{closed_port}"})
    run = run_gate(config, "pre", MODULE, "-k", "prometheus or alert_rules")
    assert set(run.outcomes().values()) == {"error"}, run.stdout
    assert f"127.0.0.1:{closed_port}" in run.check("test_prometheus_answers_queries")["message"]
    assert run.code == 2


def test_missing_rule_alarm_and_log_group_are_named(sandbox, run_gate, tmp_path):
    document = yaml.safe_load(sandbox.read_text())
    config = variant(sandbox, tmp_path / "missing.yaml", {
        "prometheus.alert_rules": [*document["prometheus"]["alert_rules"], "OrchestratorNoSuchRule"],
        "aws.alarms": [*document["aws"]["alarms"], "orchestrator-no-such-alarm"],
        "aws.log_groups": [*document["aws"]["log_groups"], "/orchestrator/no-such-group"],
    })
    run = run_gate(config, "pre", MODULE, "-k", "not test_signed")
    assert run.outcomes() == {
        **dict.fromkeys(AUTOMATED, "passed"),
        "test_alert_rules_loaded": "failed",
        "test_cloudwatch_alarms_exist": "failed",
        "test_log_groups_exist": "failed",
    }
    assert "has not loaded the rule(s) OrchestratorNoSuchRule" in run.check("test_alert_rules_loaded")["message"]
    assert "has no alarm orchestrator-no-such-alarm" in run.check("test_cloudwatch_alarms_exist")["message"]
    assert "has no log group /orchestrator/no-such-group" in run.check("test_log_groups_exist")["message"]
    assert run.code == 1


def test_alarm_in_alarm_state_is_no_go(sandbox, run_gate):
    sandbox_command("helper", "alarm-state", "orchestrator-5xx", "--state", "ALARM")
    run = run_gate(sandbox, "pre", MODULE, "-k", "cloudwatch")
    check = run.check("test_no_cloudwatch_alarm_firing")
    assert check["outcome"] == "failed" and check["severity"] == "critical"
    assert "orchestrator-5xx in ALARM; expected OK" in check["message"]
    assert run.check("test_cloudwatch_alarms_exist")["outcome"] == "passed"
    assert run.code == 2

