"""Gate 1, load balancer: each check passes on the healthy sandbox (ALB and HAProxy) and fails when broken."""

from __future__ import annotations

from golive.sandbox.manager import Paths, state_dir
from tests.support.gates import sandbox_command, variant

FILE = "validations/test_load_balancer.py"
CHECKS = {"test_both_pools_exist", "test_initial_weights_all_traffic_on_live", "test_candidate_targets_registered"}


def haproxy(config, out):
    section = {"kind": "haproxy", "admin_socket": str(Paths(state_dir()).haproxy_socket), "backend": "be",
               "servers": {"blue": "blue", "green": "green"}}  # fmt: skip
    return variant(config, out, {"load_balancer": section})


def test_healthy_alb_passes(sandbox, run_gate):
    run = run_gate(sandbox, "pre", FILE)
    assert run.outcomes() == dict.fromkeys(CHECKS, "passed") and run.partial_go
    weights = run.check("test_initial_weights_all_traffic_on_live")
    assert weights["severity"] == "critical" and weights["component"] == "load_balancer"
    assert run_gate(sandbox, "final", FILE).outcomes() == {"test_initial_weights_all_traffic_on_live": "passed"}


def test_healthy_haproxy_passes(sandbox, run_gate, tmp_path):
    run = run_gate(haproxy(sandbox, tmp_path / "h.yaml"), "pre", FILE)
    assert run.outcomes() == dict.fromkeys(CHECKS, "passed") and run.partial_go


def test_alb_sending_traffic_to_blue_is_no_go(sandbox, run_gate):
    """Must show: the ALB already sending traffic to blue alone turns Gate 1 into a NO-GO."""
    sandbox_command("helper", "alb-weights", "--blue", "50", "--green", "50")
    run = run_gate(sandbox, "pre")
    assert run.code == 2
    check = run.check("test_initial_weights_all_traffic_on_live")
    assert check["outcome"] == "failed" and check["severity"] == "critical"
    assert check["message"].startswith("load balancer arn:aws:elasticloadbalancing:")
    assert check["message"].endswith("weights blue 50 (50%), green 50 (50%); expected green 100%, blue 0%")


def test_haproxy_sending_traffic_to_blue_fails(sandbox, run_gate, tmp_path):
    sandbox_command("helper", "haproxy-weights", "--blue", "100", "--green", "0")
    run = run_gate(haproxy(sandbox, tmp_path / "h.yaml"), "pre", FILE, "-k", "weights")
    assert run.code == 2
    socket = Paths(state_dir()).haproxy_socket
    assert run.check("test_initial_weights_all_traffic_on_live")["message"] == (
        f"load balancer {socket} weights blue 100 (100%), green 0 (0%); expected green 100%, blue 0%"
    )


def test_missing_target_group_fails(sandbox, run_gate, tmp_path):
    missing = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/orchestrator-gone/0123456789abcdef"
    config = variant(sandbox, tmp_path / "m.yaml", {"load_balancer.target_groups.blue": missing})
    run = run_gate(config, "pre", FILE, "-k", "not weights")
    assert run.code == 2
    assert run.check("test_both_pools_exist")["message"].endswith(f"no pool for blue ({missing})")
    assert run.check("test_candidate_targets_registered")["message"].endswith(f"no pool for blue ({missing})")


def test_blue_targets_deregistered_fails(sandbox, run_gate):
    sandbox_command("helper", "alb-target-group", "blue", "--deregister")
    run = run_gate(sandbox, "pre", FILE, "-k", "test_candidate_targets_registered")
    assert run.code == 1
    assert run.check("test_candidate_targets_registered")["message"].endswith(
        "orchestrator-blue (blue) has no registered target"
    )
