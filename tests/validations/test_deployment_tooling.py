"""Gate 1, deployment tooling: commands and scripts on the deploy host, present on the sandbox, missing when removed."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.gates import variant

MODULE = "validations/test_deployment_tooling.py"


def test_healthy_sandbox_has_its_deployment_tooling(sandbox, run_gate):
    run = run_gate(sandbox, "pre", MODULE)
    assert run.outcomes() == {"test_deploy_commands_exist": "passed", "test_deploy_files_present": "passed"}
    assert {c["component"] for c in run.record["checks"]} == {"host"}
    assert run.partial_go


def test_missing_command_and_rollback_script_are_no_go(sandbox, run_gate, tmp_path):
    deploy = yaml.safe_load(sandbox.read_text())["deploy"]
    rollback = Path(deploy["files"][1])
    assert rollback.name == "rollback.sh"
    rollback.unlink()  # `up` (the sandbox fixture) writes it again
    commands = [*deploy["commands"], "golive-no-such-command"]
    config = variant(sandbox, tmp_path / "tools.yaml", {"deploy.commands": commands})
    run = run_gate(config, "pre", MODULE)
    on_path = run.check("test_deploy_commands_exist")
    files = run.check("test_deploy_files_present")
    assert on_path["outcome"] == files["outcome"] == "failed" and on_path["severity"] == "critical"
    assert on_path["message"].startswith("not on the PATH of local://: golive-no-such-command; expected")
    assert files["message"].startswith(f"missing on local://: {rollback}; expected")
    assert run.code == 2
