"""The cutover's parts without the sandbox: the plan (pure), the traffic managers against a private moto server
and a hung admin socket, the journal, and the command's refusals (one line, exit 2, nothing moved)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from golive.config import AlbLoadBalancer, Cutover, CutoverStep, HaproxyLoadBalancer
from golive.config_commands import CutoverDns
from golive.config_model import Dns
from golive.cutover import plan, traffic
from golive.cutover.journal import Journal, JournalError, locked
from tests.support import REPO
from tests.support.gates import minimal_config

# --- the plan --------------------------------------------------------------------------------------------


def test_the_default_plan_is_the_runbooks():
    steps = plan.build(Cutover())
    assert [(s.share, s.bake_s, s.gate, s.gate_args) for s in steps] == [
        (50, 120, "2", ()), (100, 300, "2", ("--golive-phase", "50"))]


def test_plan_and_bake_from_the_command_line():
    steps = plan.build(Cutover(), "25,50,100", "5s")
    assert [(s.share, s.bake_s, s.gate, s.gate_args) for s in steps] == [
        (25, 5, "2", ()), (50, 5, "2", ("--golive-phase", "25")), (100, 5, "2", ("--golive-phase", "50"))]
    assert plan.duration("2m") == 120 and plan.duration("500ms") == 0.5 and plan.duration("90") == 90


def test_configured_steps_keep_their_gates_and_arguments():
    section = Cutover(steps=[CutoverStep(blue=10, bake_s=1), CutoverStep(blue=100, bake_s=2, gate="3",
                                                                          gate_args=["-k", "smoke"])])
    built = [(s.share, s.gate, s.gate_args) for s in plan.build(section)]
    assert built == [(10, None, ()), (100, "3", ("-k", "smoke"))]


@pytest.mark.parametrize("shares, bake, message", [
    ("50,40,100", None, "each step must give the candidate more traffic"),
    ("50", None, "its last step must put 100% of traffic on the candidate"),
    ("0,100", None, "a share of traffic is 1 to 100 percent"),
    ("fifty", None, "expected percentages of traffic"),
    ("50,100", "soon", "expected a duration"),
    ("50,100", "48h", "at most 24 h"),
])
def test_plans_that_cannot_run_are_refused(shares, bake, message):
    with pytest.raises(plan.PlanError, match=message):
        plan.build(Cutover(), shares, bake)


def test_a_step_attestation_is_signable_by_the_review_roles_only():
    item = plan.attestation_item("cutover.step_50", Cutover(review_roles=["Deployment Lead"]))
    assert item is not None and item.allows("deployment lead") and not item.allows("Developer")
    assert plan.attestation_item("cutover.step_500", None) is None
    assert plan.attestation_item("team.briefed", None) is None


# --- weights ---------------------------------------------------------------------------------------------


def test_weights_are_validated_within_each_apis_range():
    traffic.ALB_LIMITS.check({"blue": 999, "green": 0})
    with pytest.raises(traffic.TrafficError, match=r"outside 0\.\.999"):
        traffic.ALB_LIMITS.check({"blue": 1000, "green": 0})
    with pytest.raises(traffic.TrafficError, match=r"outside 0\.\.256"):
        traffic.HAPROXY_LIMITS.check({"blue": 300, "green": 0})
    with pytest.raises(traffic.TrafficError, match="every weight 0"):
        traffic.DNS_LIMITS.check({"blue": 0, "green": 0})
    assert traffic.same_shares({"blue": 1, "green": 1}, {"blue": 50, "green": 50})


def _elbv2(moto_url: str) -> Any:
    return boto3.client("elbv2", region_name="us-east-1", endpoint_url=moto_url)


@pytest.fixture
def listener(aws_credentials: None, moto_url: str) -> dict[str, Any]:
    """A moto ALB listener forwarding to green alone, with target-group stickiness on."""
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_url)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=f"us-east-1{z}")
               ["Subnet"]["SubnetId"] for n, z in ((1, "a"), (2, "b"))]  # fmt: skip
    elbv2 = _elbv2(moto_url)
    name = f"cut-{time.time_ns() % 10**8}"
    balancer = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
    groups = {env: elbv2.create_target_group(Name=f"{name}-{env}", Protocol="HTTP", Port=80, VpcId=vpc)
              ["TargetGroups"][0]["TargetGroupArn"] for env in ("blue", "green")}  # fmt: skip
    stickiness = {"Enabled": True, "DurationSeconds": 300}
    arn = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": groups["blue"], "Weight": 0},
                             {"TargetGroupArn": groups["green"], "Weight": 100}],
            "TargetGroupStickinessConfig": stickiness}}],
    )["Listeners"][0]["ListenerArn"]  # fmt: skip
    return {"arn": arn, "groups": groups, "url": moto_url, "stickiness": stickiness}


def test_alb_weights_move_in_one_modify_listener_and_stickiness_is_kept(listener):
    section = AlbLoadBalancer(kind="alb", listener_arn=listener["arn"], target_groups=listener["groups"])
    manager = traffic.AlbTraffic(section, _elbv2(listener["url"]))
    assert manager.read() == {"blue": 0, "green": 100}
    applied = traffic.apply(manager, {"blue": 50, "green": 50}, attempts=3)
    assert applied.attempts == 1 and manager.read() == {"blue": 50, "green": 50}
    action = _elbv2(listener["url"]).describe_listeners(ListenerArns=[listener["arn"]])["Listeners"][0][
        "DefaultActions"][0]
    assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == listener["stickiness"]
    assert manager.calls({"blue": 0, "green": 100})[0].startswith(f"elbv2 ModifyListener {listener['arn']}")


def test_weighted_dns_records_move_in_one_change_batch(aws_credentials, moto_url):
    route53 = boto3.client("route53", region_name="us-east-1", endpoint_url=moto_url)
    zone = route53.create_hosted_zone(Name="cut.example.", CallerReference=str(time.time_ns()))["HostedZone"]["Id"]
    zone_id = zone.rsplit("/", 1)[-1]
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": "api.cut.example.", "Type": "CNAME", "SetIdentifier": env,
                                                   "Weight": weight, "TTL": 60,
                                                   "ResourceRecords": [{"Value": f"{env}.cut.example."}]}}
        for env, weight in (("blue-set", 0), ("green-set", 100))]})  # fmt: skip
    manager = traffic.DnsTraffic(Dns(zone_id=zone_id, record="api.cut.example"),
                                 CutoverDns(set_identifiers={"blue": "blue-set", "green": "green-set"}), route53)
    assert manager.read() == {"blue": 0, "green": 100}
    traffic.apply(manager, {"blue": 100, "green": 0}, attempts=2)
    assert manager.read() == {"blue": 100, "green": 0}
    missing = traffic.DnsTraffic(Dns(zone_id=zone_id, record="api.cut.example"),
                                 CutoverDns(set_identifiers={"blue": "nope", "green": "green-set"}), route53)
    with pytest.raises(traffic.TrafficError, match=r"no weighted record for blue \(nope\)"):
        missing.read()


@pytest.fixture
def hung_socket(tmp_path: Path) -> Iterator[Path]:
    """A UNIX socket that accepts connections and never answers: an admin socket whose HAProxy is stuck."""
    path = tmp_path / "admin.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join(2)
        for connection in held:
            connection.close()
        server.close()


def test_a_hung_load_balancer_call_is_retried_within_its_bound_then_fails(hung_socket):
    section = HaproxyLoadBalancer(kind="haproxy", admin_socket=str(hung_socket), backend="be",
                                  servers={"blue": "blue", "green": "green"})  # fmt: skip
    manager = traffic.HaproxyTraffic(section, timeout_s=0.3)
    with pytest.raises(traffic.TrafficError) as caught:
        traffic.apply(manager, {"blue": 0, "green": 100}, attempts=3)
    assert "after 3 attempts" in str(caught.value) and str(caught.value).count("no answer within 0.3s") == 3


# --- the journal and the lock ----------------------------------------------------------------------------


def test_the_journal_reads_the_last_run_and_tolerates_a_line_cut_short(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.write("start", run_id="a", steps=[], weights={"blue": 0, "green": 100})
    journal.write("done", weights={"blue": 100, "green": 0})
    journal.write("start", run_id="b", steps=[], weights={"blue": 0, "green": 100})
    journal.write("moving", step=0, weights={"blue": 50, "green": 50})
    with journal.path.open("a") as stream:
        stream.write('{"event": "mov')  # kill -9 in the middle of a line
    state = journal.state()
    assert state.started is not None and state.started["run_id"] == "b" and not state.finished
    assert state.last_weights == {"blue": 0, "green": 100} and state.intended_weights == {"blue": 50, "green": 50}
    assert state.step == -1 and state.intended_step == 0


def test_a_journal_broken_in_the_middle_is_not_trusted(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"event": "start", "weights": {}}\nnot json\n{"event": "done"}\n')
    with pytest.raises(JournalError, match="line 2: not JSON"):
        Journal(path).state()


def test_one_lock_per_load_balancer(tmp_path):
    with locked(["lb-1"], tmp_path):
        with pytest.raises(JournalError, match="another golive cutover holds the lock of lb-1"), \
                locked(["lb-1"], tmp_path):
            pass
        with locked(["lb-2"], tmp_path):
            pass
    with locked(["lb-1"], tmp_path):
        pass


# --- the command's refusals ------------------------------------------------------------------------------


def golive(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "golive", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


HAPROXY = {"kind": "haproxy", "admin_socket": "/nonexistent/admin.sock", "backend": "be",
           "servers": {"blue": "blue", "green": "green"}, "front_url": "http://127.0.0.1:9"}  # fmt: skip
TRIGGERS = {"error_rate": {"above": 0.1, "for_s": 1}}


@pytest.mark.parametrize("changes, args, message", [
    ({"rollback_triggers": TRIGGERS}, (), "load_balancer: not configured"),
    ({"load_balancer": {**HAPROXY, "front_url": None}, "rollback_triggers": TRIGGERS}, (),
     "load_balancer.front_url: not configured"),
    ({"load_balancer": HAPROXY}, (), "rollback_triggers: none configured"),
    ({"load_balancer": HAPROXY, "rollback_triggers": TRIGGERS}, ("--plan", "50,20"), "each step must give"),
    ({"load_balancer": HAPROXY, "rollback_triggers": TRIGGERS}, ("--bake", "forever"), "expected a duration"),
    ({"load_balancer": HAPROXY, "rollback_triggers": TRIGGERS}, (), "cannot read the starting weights"),
    ({"load_balancer": HAPROXY, "rollback_triggers": TRIGGERS, "cutover": {"steps": []}}, (), "cutover.steps"),
])
def test_a_cutover_that_cannot_start_says_why_in_one_line(tmp_path, changes, args, message):
    config = minimal_config(tmp_path / "c.yaml", {"environments.blue.version": "2.1.0",
                                                  "environments.green.version": "2.0.5", **changes})
    done = golive("cutover", f"--golive-config={config}", f"--reports={tmp_path / 'reports'}", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr, lines
    assert not (tmp_path / "reports" / "cutover").exists()
