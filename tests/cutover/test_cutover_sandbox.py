"""``golive cutover`` against the sandbox: the ALB (moto, whose ModifyListener moves HAProxy's traffic as an ALB's
would) and HAProxy's runtime API, real gates before the steps, real faults during the bakes. The healthy ALB
cutover end to end (Gate 1, Gate 2, the cutover, Gate 3) is tests/sandbox/test_sandbox_gates.py's demo test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from golive.sandbox import manager as sandbox_manager
from tests.support import REPO
from tests.support.cutover import GATE3
from tests.support.cutover import weights as sandbox_weights
from tests.support.gates import gate1_baseline, prometheus_window_clean, sandbox_command, variant
from tests.support.polling import wait_for

# Short windows so the tests take seconds; the crash window is longer than one reading so that a 20 % 5xx fault
# (which also fails some health answers) is named by the error-rate trigger it is meant to fire.
TRIGGERS = {"error_rate": {"above": 0.1, "for_s": 1}, "p95_ms": {"above": 2000, "for_s": 2},
            "database_down": {"for_s": 2}, "crash": {"for_s": 3}}  # fmt: skip


def cutover_config(sandbox: Path, out: Path, steps: list[dict[str, Any]], kind: str = "alb",
                   **cutover: Any) -> Path:
    changes: dict[str, Any] = {"rollback_triggers": TRIGGERS,
                               "cutover": {"interval_s": 0.5, "steps": steps, "verify_s": 5, **cutover}}  # fmt: skip
    if kind == "haproxy":
        changes["load_balancer"] = {"kind": "haproxy", "admin_socket": str(_manager().paths.haproxy_socket),
                                    "backend": "be", "servers": {"blue": "blue", "green": "green"},
                                    "front_url": "http://127.0.0.1:18000"}  # fmt: skip
    return variant(sandbox, out, changes)


def _manager() -> sandbox_manager.Manager:
    return sandbox_manager.Manager()


SANDBOX_CONFIG: list[Path] = []  # the sandbox's own configuration (ALB), set by the autouse fixture below


@pytest.fixture(autouse=True)
def _sandbox_config(sandbox: Path) -> None:
    SANDBOX_CONFIG[:] = [sandbox]


def weights() -> dict[str, tuple[int, int]]:
    return sandbox_weights(SANDBOX_CONFIG[0])


def clean_window(config: Path) -> None:
    """An earlier test's fault out of blue's Prometheus window, so the gates judge this test's sandbox."""
    wait_for("blue's Prometheus figures within thresholds", lambda: prometheus_window_clean(config), 60)


def start(config: Path, reports: Path, *args: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    return subprocess.Popen(
        [sys.executable, "-m", "golive", "cutover", f"--golive-config={config}", f"--reports={reports}", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ,
    )


def cutover(config: Path, reports: Path, *args: str, timeout: float = 240) -> tuple[int, str]:
    child = start(config, reports, *args)
    output, _ = child.communicate(timeout=timeout)
    return child.returncode, output


def record(reports: Path) -> dict[str, Any]:
    return json.loads((reports / "latest-cutover.json").read_text())


def wait_for_bake(child: subprocess.Popen[str], share: int, seen: list[str]) -> None:
    """Read the cutover's output until its bake at ``share`` percent has begun."""
    assert child.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        seen.append(line)
        if f"blue {share}%; baking" in line:
            return
    raise AssertionError("the bake never started:\n" + "".join(seen))


PART = ["validations/test_application_health.py"]  # a subset of a gate is at best a REVIEW (partial)


def test_a_review_waits_for_the_signature_and_then_goes_on(sandbox, tmp_path):
    """A part of Gate 2 (its application-health file) is a REVIEW, never a GO: the cutover waits for
    `golive attest cutover.step_50`."""
    reports = tmp_path / "reports"
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 1, "gate": "2", "gate_args": PART},
                                                           {"blue": 100, "bake_s": 1}], review_deadline_s=120)
    child = start(config, reports)
    assert child.stdout is not None
    seen: list[str] = []
    for line in child.stdout:
        seen.append(line)
        if "waiting up to 120 s for `golive attest cutover.step_50" in line:
            break
    assert weights()["alb"] == (0, 100)
    signed = subprocess.run([sys.executable, "-m", "golive", "attest", "cutover.step_50", "--by", "Dana",
                             "--role", "Deployment Lead", f"--golive-config={config}"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    output, _ = child.communicate(timeout=120)
    assert child.returncode == 0, "".join(seen) + output
    assert record(reports)["steps"][0]["signed_by"].startswith("Dana (Deployment Lead)")


def test_a_review_nobody_signs_rolls_back_at_its_deadline(sandbox, tmp_path):
    reports = tmp_path / "reports"
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 1, "gate": "2", "gate_args": PART},
                                                           {"blue": 100, "bake_s": 1}], review_deadline_s=1)
    code, output = cutover(config, reports)
    assert code == 2, output
    assert "was not signed off (cutover.step_50) within 1 s" in output
    assert weights()["alb"] == (0, 100)


def test_gate_2_no_go_before_the_first_step_changes_no_weight(sandbox, tmp_path):
    reports = tmp_path / "reports"
    gate1_baseline(sandbox, reports)
    sandbox_command("fault", "blue", "--dependency-down", "database")
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 1, "gate": "2"},
                                                           {"blue": 100, "bake_s": 1}])  # fmt: skip
    code, output = cutover(config, reports)
    assert code == 2, output
    assert "Gate 2 before the 50% step was NO-GO" in output
    assert "no weight had moved" in output
    assert weights() == {"alb": (0, 100), "haproxy": (0, 100)}
    journal = next((reports / "cutover").glob("*.journal.jsonl")).read_text()
    assert '"moving"' not in journal and '"rolled-back"' in journal
    assert record(reports)["rollback"] == {"needed": False, "restored": True}


def test_kill_9_mid_bake_then_abort_restores_green_and_resume_then_refuses(sandbox, tmp_path):
    reports = tmp_path / "reports"
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 60}, {"blue": 100, "bake_s": 1}])
    child = start(config, reports)
    wait_for_bake(child, 50, [])
    second = cutover(config, reports, timeout=60)  # the lock: a second cutover of the same load balancer
    assert second[0] == 2 and "another golive cutover holds the lock" in second[1], second[1]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert weights() == {"alb": (50, 50), "haproxy": (50, 50)}
    refused = cutover(config, reports, timeout=60)  # a fresh start over an unfinished journal
    assert refused[0] == 2 and "an unfinished cutover is journalled" in refused[1]
    code, output = cutover(config, reports, "--abort", timeout=60)
    assert code == 0, output
    assert weights() == {"alb": (0, 100), "haproxy": (0, 100)}
    code, output = cutover(config, reports, "--resume", timeout=60)
    assert code == 2
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("golive cutover: --resume: nothing to resume"), output


def test_resume_after_kill_9_continues_from_the_journalled_step(sandbox, tmp_path):
    reports = tmp_path / "reports"
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 60}, {"blue": 100, "bake_s": 1}])
    child = start(config, reports)
    wait_for_bake(child, 50, [])
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    code, output = cutover(config, reports, "--resume", "--bake", "1s", timeout=120)
    assert code == 0, output
    assert "resumed at blue 50%" in output
    assert weights() == {"alb": (100, 0), "haproxy": (100, 0)}
    assert record(reports)["resumed"] is True


def test_dry_run_changes_nothing(sandbox, tmp_path):
    reports = tmp_path / "reports"
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 1}, {"blue": 100, "bake_s": 1}])
    before = weights()
    code, output = cutover(config, reports, "--dry-run", timeout=60)
    assert code == 0, output
    assert weights() == before == {"alb": (0, 100), "haproxy": (0, 100)}
    assert "nothing is written" in output and "ModifyListener" in output
    assert not (reports / "cutover").exists()


def test_a_starting_state_that_is_not_green_100_is_refused(sandbox, tmp_path):
    reports = tmp_path / "reports"
    sandbox_command("helper", "cutover", "--blue", "50")
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 1}, {"blue": 100, "bake_s": 1}])
    code, output = cutover(config, reports, timeout=60)
    assert code == 2
    assert output.strip().splitlines() == [output.strip()] and "not all traffic on green" in output
    wait_for("weights unchanged", lambda: weights()["alb"] == (50, 50), 5)


# A crash also makes every request an error: with the runbook's crash trigger (at once), it is the one that fires.
@pytest.mark.parametrize("fault, trigger, crash_window_s", [
    (("--error-rate", "0.2"), "error_rate", 3), (("--crash",), "crash", 0)])
def test_a_fault_during_the_50_bake_rolls_back_to_green_and_runs_on_rollback_once(sandbox, tmp_path, fault, trigger,
                                                                                   crash_window_s):
    reports = tmp_path / "reports"
    ran = tmp_path / "on-rollback.log"
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 60}, {"blue": 100, "bake_s": 1}])
    variant(config, config, {"rollback_triggers.crash.for_s": crash_window_s})
    child = start(config, reports, "--on-rollback", f"echo ran >> {ran}")
    seen: list[str] = []
    wait_for_bake(child, 50, seen)
    assert weights() == {"alb": (50, 50), "haproxy": (50, 50)}
    sandbox_command("fault", "blue", *fault)
    output, _ = child.communicate(timeout=60)
    output = "".join(seen) + output
    assert child.returncode == 2, output
    assert f"rollback trigger {trigger}" in output
    assert weights() == {"alb": (0, 100), "haproxy": (0, 100)}
    assert ran.read_text() == "ran\n"
    story = record(reports)
    assert story["outcome"] == "ROLLED-BACK" and story["trigger"] == trigger
    assert story["rollback"]["restored"] and story["rollback"]["verified"], story["rollback"]
    assert "no answer from blue" in story["rollback"]["detail"]
    assert story["on_rollback_ran"] is True
    timeline = (reports / "timeline.jsonl").read_text()
    assert "cutover rolling back" in timeline and "--on-rollback exited 0" in timeline


@pytest.fixture
def frozen_moto() -> Iterator[Callable[[], None]]:
    """Freeze the sandbox's moto server (SIGSTOP: it accepts connections and answers nothing) when asked; thawed
    afterwards whatever happens."""
    found = [p for p in psutil.process_iter(["cmdline"]) if "golive.sandbox.aws_server" in (p.info["cmdline"] or [])]
    assert found, "the sandbox's moto server is not running"
    stopped: list[psutil.Process] = []

    def freeze() -> None:
        for process in found:
            process.suspend()
            stopped.append(process)

    try:
        yield freeze
    finally:
        for process in stopped:
            process.resume()


def test_a_load_balancer_call_that_keeps_failing_is_retried_then_rolled_back_loudly(sandbox, tmp_path, frozen_moto):
    """HAProxy moves, the weighted DNS records' API hangs: the step's call is retried within its bound, then the
    cutover rolls back; HAProxy goes back to green, and the DNS records, which cannot be written, are named."""
    reports = tmp_path / "reports"
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 60}, {"blue": 100, "bake_s": 1}],
                            kind="haproxy", call_attempts=2, call_timeout_s=0.5,
                            dns={"set_identifiers": {"blue": "blue", "green": "green"}})
    variant(config, config, {"cutover.steps": [{"blue": 50, "bake_s": 3}, {"blue": 100, "bake_s": 1}]})
    child = start(config, reports)
    wait_for_bake(child, 50, [])
    frozen_moto()
    output, _ = child.communicate(timeout=120)
    assert child.returncode == 2, output
    assert "step 2 (100%): Route53 weighted records" in output and "after 2 attempts" in output
    assert "ROLLBACK FAILED on Route53 weighted records" in output and "move it by hand NOW" in output
    manager = _manager()  # moto is still frozen: HAProxy's own answer
    assert (manager.haproxy_weight("blue"), manager.haproxy_weight("green")) == (0, 100)
    assert record(reports)["rollback"]["restored"] is False


def test_signed_gate_1_then_a_haproxy_cutover_then_gate_3_go_and_verified_in_order(sandbox, tmp_path, run_gate):
    """A healthy cutover on HAProxy's runtime API: exit 0, blue 100, Gate 3 GO after it; a credential in the front
    door's URL masked in everything the cutover writes. With evidence.key (issue 16), Gate 1, the cutover's
    Gate 2, the cutover and Gate 3 are signed and chained; `golive verify` tells them in that order, exit 0."""
    from golive import attestations, evidence, human_items
    from golive.config import load_settings

    reports = tmp_path / "reports"
    made = subprocess.run([sys.executable, "-m", "golive", "keys", "init", "--name", "sandbox-lead", "--role",
                           "Deployment Lead", "--out", str(tmp_path / "keys")], cwd=REPO, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    config = cutover_config(sandbox, tmp_path / "c.yaml", [{"blue": 50, "bake_s": 2, "gate": "2", "gate_args": []},
                                                           {"blue": 100, "bake_s": 2}], kind="haproxy")  # fmt: skip
    variant(config, config, {"load_balancer.front_url": "http://golive:s3cr3t-front@127.0.0.1:18000"})
    variant(config, config, {"evidence": {
        "key": str(tmp_path / "keys" / "sandbox-lead.key"),
        "signer": {"name": "sandbox-lead", "role": "Deployment Lead"},
        "trusted_keys": [{"name": "sandbox-lead", "role": "Deployment Lead",
                          "public_key": str(tmp_path / "keys" / "sandbox-lead.pub")}]}})  # fmt: skip
    settings = load_settings(config, "test")
    signer = evidence.configured_signer(settings, reports)
    assert signer is not None
    items = human_items.load_all(human_items.validations_dir(REPO / "validations"))
    for item in items:  # the release team signs Gate 1's human items, each line signed and chained
        attestations.record(settings.attestations_path, item.id, f"Sandbox {item.roles[0]}", item.roles[0],
                            settings.release.version, "test", items=items,
                            seal=lambda path, line: evidence.append_signed_attestation(
                                signer, path, line, settings.release.version))  # fmt: skip
    clean_window(config)
    first = run_gate(config, "pre", "-n", "2", reports=reports)
    assert first.code == 0, first.record["reasons"]
    code, output = cutover(config, reports)
    assert code == 0, output
    assert "signed by sandbox-lead (Deployment Lead)" in output and "HAProxy backend be" in output
    assert weights()["haproxy"] == (100, 0)
    story = record(reports)
    artifacts = [output, json.dumps(story), Path(story["html_report"]).read_text(),
                 (reports / "timeline.jsonl").read_text(), *(p.read_text() for p in (reports / "cutover").iterdir())]
    assert not [text for text in artifacts if "s3cr3t-front" in text]
    dry = cutover(config, reports, "--dry-run", timeout=60)[1]
    assert "front door http://golive:***@127.0.0.1:18000" in dry and "s3cr3t-front" not in dry, dry
    third = run_gate(config, GATE3, reports=reports)
    assert third.code == 0, third.record["reasons"]
    verified = subprocess.run([sys.executable, "-m", "golive", "verify", str(reports), f"--golive-config={config}"],
                              cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    story = verified.stdout
    assert story.index("Gate 1 (pre): GO") < story.index("Gate 2 (immediate): GO") < story.index("cutover") \
        < story.index("Gate 3 (post): GO"), story
