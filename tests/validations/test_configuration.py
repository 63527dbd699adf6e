"""Gate 1, configuration and secrets: staged variables, log level, and `pytest -m config` on golive's own file."""

from __future__ import annotations

from datetime import date, timedelta

import yaml

from golive.sandbox import constants as c
from tests.support.gates import variant

MODULE = "validations/test_configuration.py"
CONFIG_CHECKS = {
    "test_required_variables_staged",
    "test_log_level_info_and_debug_off",
    "test_one_candidate_and_one_live_environment",
    "test_previous_release_is_set",
    "test_every_environment_expects_a_known_version",
    "test_no_waiver_has_expired",
    "test_no_waiver_expires_soon",
    "test_referenced_files_exist",
}


def waiver(expires: date, check: str = "validations/test_backing_services.py::test_redis_answers_ping") -> dict:
    return {"check": check, "reason": "test", "approved_by": "Release Manager", "expires": expires.isoformat()}


def test_healthy_sandbox_passes_the_config_gate(sandbox, run_gate, tmp_path):
    """`pytest -m config` runs the configuration checks; a far-off waiver is neither expired nor due."""
    config = variant(sandbox, tmp_path / "far-off.yaml", {"waivers": [waiver(date.today() + timedelta(days=365))]})
    run = run_gate(config, "config", MODULE)
    assert run.outcomes() == dict.fromkeys(CONFIG_CHECKS, "passed"), run.stdout
    assert run.record["gate"] == "config" and run.code == 0


def test_healthy_sandbox_passes_in_gate_1(sandbox, run_gate):
    run = run_gate(sandbox, "pre", MODULE, "-k", "not test_signed")
    assert {name for name, outcome in run.outcomes().items() if outcome == "passed"} == CONFIG_CHECKS - {
        "test_no_waiver_has_expired", "test_no_waiver_expires_soon"
    }
    assert run.check("test_no_waiver_has_expired")["outcome"] == "skipped"  # the sandbox has no waivers
    assert run.partial_go


def test_required_variable_not_staged_is_no_go_naming_only_the_key(sandbox, run_gate, tmp_path):
    required = yaml.safe_load(sandbox.read_text())["environments"]["blue"]["required_env"]
    config = variant(sandbox, tmp_path / "required.yaml",
                     {"environments.blue.required_env": [*required, "ORCHESTRATOR_API_KEY", "LOG_LEVEL"]})
    run = run_gate(config, "config", MODULE, "-k", "test_required_variables_staged")
    check = run.check("test_required_variables_staged")
    assert check["outcome"] == "failed" and check["severity"] == "critical" and check["component"] == "host"
    assert "blue.env lacks or leaves empty ORCHESTRATOR_API_KEY; expected every key" in check["message"]
    assert c.READER_DSN not in run.stdout + str(run.record)
    assert run.code == 2


def test_debug_logging_is_review(sandbox, run_gate, tmp_path):
    env_file = tmp_path / "blue.env"
    env_file.write_text("GOLIVE_SANDBOX_VERSION=2.1.0\nexport LOG_LEVEL=DEBUG\nDEBUG='true'\n")
    config = variant(sandbox, tmp_path / "debug.yaml", {"environments.blue.env_file": str(env_file)})
    run = run_gate(config, "pre", MODULE, "-k", "test_log_level")
    message = run.check("test_log_level_info_and_debug_off")["message"]
    assert f"local:{env_file}: LOG_LEVEL is 'DEBUG'; DEBUG is 'true'; expected LOG_LEVEL=INFO and DEBUG off" in message
    assert run.code == 1


def test_missing_env_file_fails_the_checks_that_read_it(sandbox, run_gate, tmp_path):
    missing = tmp_path / "nowhere" / "blue.env"
    config = variant(sandbox, tmp_path / "missing.yaml", {"environments.blue.env_file": str(missing)})
    run = run_gate(config, "config", MODULE)
    assert run.check("test_required_variables_staged")["outcome"] == "error"
    assert f"host at local:{missing}: env file does not exist" in run.check("test_required_variables_staged")["message"]
    assert f"environments.blue.env_file {missing} (on local://)" in run.check("test_referenced_files_exist")["message"]
    assert run.code == 2


def test_no_live_environment_and_no_previous_release_are_no_go(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "roles.yaml", {"environments.green.role": None, "release.previous": None})
    run = run_gate(config, "config", MODULE)
    failed = {name for name, outcome in run.outcomes().items() if outcome == "failed"}
    assert failed == {
        "test_one_candidate_and_one_live_environment", "test_previous_release_is_set",
        "test_every_environment_expects_a_known_version",
    }
    assert "environments by role: live: none;" in run.check("test_one_candidate_and_one_live_environment")["message"]
    assert "no expected version for environment(s) green" in run.check(
        "test_every_environment_expects_a_known_version")["message"]
    assert run.code == 2


def test_expired_and_expiring_waivers_are_review(sandbox, run_gate, tmp_path):
    today = date.today()
    waivers = [
        waiver(today - timedelta(days=1), "validations/x.py::test_expired"),
        waiver(today + timedelta(days=3), "validations/x.py::test_due"),
        waiver(today + timedelta(days=300), "validations/x.py::test_far_off"),
    ]
    run = run_gate(variant(sandbox, tmp_path / "waivers.yaml", {"waivers": waivers}), "config", MODULE, "-k", "waiver")
    expired = run.check("test_no_waiver_has_expired")["message"]
    due = run.check("test_no_waiver_expires_soon")["message"]
    assert f"validations/x.py::test_expired (expired {today - timedelta(days=1)})" in expired
    assert "waivers expiring within 7 days (thresholds.waiver_notice_days): validations/x.py::test_due" in due
    assert "test_far_off" not in expired + due and "test_due" not in expired and "test_expired" not in due
    assert run.code == 1
