"""Trust at every hand-off (issue 22): a record turns into an action only through the acceptance rule, and a
REVIEW is signed off by one rule everywhere.

The records come from real ``golive gate`` runs of a small project (its environments on a private canned HTTP
server), signed with a key made by ``golive keys init`` where evidence is configured; then they are forged the
ways an attacker or a careless operator would, and handed to ``golive protection-rule`` and the ECS hook.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from golive import attestations, human_items
from golive.acceptance import Expectation, SignOffRule, examine
from golive.decision_record import DecisionRecord
from golive.engines import ecs
from golive.engines.hooks import HookError, load_context
from tests.canned_http import Answer, CannedHTTP
from tests.engines.test_aws_hooks import ECS_EVENT, HEALTH, write_config
from tests.support import REPO
from tests.support.records import waiting_state, write_review

CHECKS = '''\
import httpx
import pytest

from golive.config import load_settings


def _health():
    settings = load_settings(__import__("pathlib").Path("golive.yaml"), "test")
    return httpx.get(settings.environments["blue"].url + "/health", timeout=2).json()


@pytest.mark.immediate
@pytest.mark.critical
def test_candidate_is_healthy_before_cutover():
    """The candidate answers its health check."""
    assert _health()["status"] == "ok"


@pytest.mark.immediate
@pytest.mark.critical
def test_candidate_runs_the_release():
    """The candidate runs the release."""
    assert _health()["version"] == "2.1.0"
'''


def _environ() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", "GOLIVE_REPORTS", "GITHUB_TOKEN"}}
    environ["PYTHONPATH"] = str(REPO)
    return environ


def golive(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "golive", *args], cwd=project, capture_output=True, text=True,
                          timeout=120, env=_environ())


def _config(project: Path, url: str, release: str = "2.1.0", signed: bool = True) -> Path:
    document: dict = {
        "release": {"version": release, "previous": "2.0.5"},
        "environments": {"blue": {"url": url, "role": "candidate"}, "green": {"url": url, "role": "live"}},
    }
    if signed:
        document["evidence"] = {
            "key": "keys/ada.key", "signer": {"name": "ada", "role": "Deployment Lead"},
            "trusted_keys": [{"name": "ada", "role": "Deployment Lead", "public_key": "keys/ada.pub"}],
        }
    path = project / "golive.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A signed project with Gate 2 run twice: GO (healthy candidate), then NO-GO (the candidate answers 500)."""
    root = tmp_path_factory.mktemp("handoff")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = validations\n")
    (root / "validations").mkdir()
    (root / "validations" / "test_candidate.py").write_text(textwrap.dedent(CHECKS))
    made = golive(root, "keys", "init", "--name", "ada", "--role", "Deployment Lead", "--out", "keys")
    assert made.returncode == 0, made.stderr
    with CannedHTTP({"/health": Answer(200, {"status": "ok", "version": "2.1.0"})}) as server:
        _config(root, server.url)
        go = golive(root, "gate", "2", "-q", "-p", "no:cacheprovider", "--golive-json=go.json")
        assert go.returncode == 0, go.stdout + go.stderr
        server.answer("/health", {"status": "down", "version": "2.1.0"}, 500)
        no_go = golive(root, "gate", "2", "-q", "-p", "no:cacheprovider", "--golive-json=no-go.json")
        assert no_go.returncode == 2, no_go.stdout + no_go.stderr
    return root


def _record(project: Path, verdict: str) -> Path:
    """The stamped record (with its envelope beside it) of the run that said ``verdict``."""
    for path in sorted((project / "reports").glob("immediate-blue-*.json")):
        if not path.name.endswith(".dsse.json") and json.loads(path.read_text())["verdict"] == verdict:
            return path
    raise AssertionError(f"no {verdict} record")


def rule(project: Path, record: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return golive(project, "protection-rule", "--record", str(record), "--environment", "production", *args)


def test_a_genuine_signed_go_is_approved_and_says_who_signed_it(project):
    done = rule(project, _record(project, "GO"), "--gate", "2")
    assert done.returncode == 0, done.stderr
    comment = json.loads(done.stdout)["comment"]
    assert json.loads(done.stdout)["state"] == "approved" and "signed by ada (Deployment Lead)" in comment
    latest = rule(project, project / "reports" / "latest-immediate.json")  # a copy of the NO-GO, verified too
    assert latest.returncode == 1 and json.loads(latest.stdout)["state"] == "rejected"
    assert "signed by ada" in latest.stdout and "NO-GO (exit 2)" in latest.stdout


def test_a_copy_of_a_signed_record_is_verified_through_the_envelope_of_its_bytes(project, tmp_path):
    copy = project / "reports" / "copied-go.json"  # e.g. --golive-json written into the reports directory
    shutil.copyfile(_record(project, "GO"), copy)
    try:
        done = rule(project, copy)
        assert done.returncode == 0 and "signed by ada" in done.stdout, done.stderr
    finally:
        copy.unlink()


def test_a_no_go_edited_to_go_is_rejected_plain_or_signed(project, tmp_path):
    """The attack of issue 22: "verdict": "GO", "exit_code": 0, the failed critical checks still inside."""
    original = _record(project, "NO-GO")
    forged = json.loads(original.read_text())
    forged.update(verdict="GO", exit_code=0)
    # Signed: the edit lies beside its (now wrong) envelope.
    signed_copy = tmp_path / "signed"
    shutil.copytree(project, signed_copy)
    target = signed_copy / "reports" / original.name
    target.write_text(json.dumps(forged, indent=2) + "\n")
    done = rule(signed_copy, target)
    assert done.returncode == 1 and json.loads(done.stdout)["state"] == "rejected", done.stdout
    assert "contradicts itself" in done.stdout and "NO-GO" in done.stdout
    # Plain: no evidence configured, no envelope anywhere.
    plain = tmp_path / "plain"
    plain.mkdir()
    _config(plain, "http://127.0.0.1:9", signed=False)
    (plain / "forged.json").write_text(json.dumps(forged))
    done = rule(plain, plain / "forged.json")
    assert done.returncode == 1 and json.loads(done.stdout)["state"] == "rejected"
    assert "its own checks say NO-GO" in json.loads(done.stdout)["comment"]


def test_a_consistent_forgery_is_caught_by_its_signature(project, tmp_path):
    """A forger who also fixes the checks, counts and reasons: only the signature can tell."""
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    target = copy / "reports" / _record(project, "NO-GO").name
    forged = json.loads(target.read_text())
    for check in forged["checks"]:
        check.update(outcome="passed", message="")
    forged.update(verdict="GO", exit_code=0, reasons=[],
                  counts={**{k: 0 for k in forged["counts"]}, "passed": len(forged["checks"])})
    assert DecisionRecord.parse(forged).consistent()  # the rule cannot see it from the record alone
    target.write_text(json.dumps(forged, indent=2) + "\n")
    done = rule(copy, target)
    assert done.returncode == 1 and json.loads(done.stdout)["state"] == "rejected"
    assert "edited after it was signed" in json.loads(done.stdout)["comment"]
    # Moved away from its envelope, with evidence configured: unsigned, rejected.
    alone = tmp_path / "alone.json"
    alone.write_text(json.dumps(forged))
    done = rule(copy, alone)
    assert done.returncode == 1 and "unsigned" in json.loads(done.stdout)["comment"]
    # An envelope beside a record, and no trusted key to check it with: rejected, not waved through.
    bare = tmp_path / "bare"
    bare.mkdir()
    _config(bare, "http://127.0.0.1:9", signed=False)
    genuine = _record(project, "GO")
    shutil.copyfile(genuine, bare / genuine.name)
    shutil.copyfile(genuine.with_name(genuine.name + ".dsse.json"), bare / (genuine.name + ".dsse.json"))
    done = rule(bare, bare / genuine.name)
    assert done.returncode == 1 and "no trusted key" in json.loads(done.stdout)["comment"]


def test_a_genuine_go_of_another_release_is_rejected(project, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(project, other)
    _config(other, "http://127.0.0.1:9", release="2.2.0")
    done = rule(other, other / "reports" / _record(project, "GO").name)
    assert done.returncode == 1, done.stderr
    assert "not of release 2.2.0" in json.loads(done.stdout)["comment"]
    # Told otherwise on the command line: the release asked for wins.
    told = rule(other, other / "reports" / _record(project, "GO").name, "--release", "2.1.0")
    assert told.returncode == 0, told.stdout + told.stderr
    # Of another environment than the candidate.
    wrong_env = rule(project, _record(project, "GO"), "--golive-env", "green")
    assert wrong_env.returncode == 1 and "not of green" in json.loads(wrong_env.stdout)["comment"]


def test_without_a_configuration_the_rule_refuses_in_one_line(project, tmp_path):
    done = golive(tmp_path, "protection-rule", "--record", str(_record(project, "GO")), "--environment", "prod")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "golive.yaml" in done.stderr and "--release" in done.stderr


def test_acceptance_rules_on_a_record_in_hand(project):
    record = _record(project, "GO")
    finished = DecisionRecord.load(record).finished
    expect = Expectation(release="2.1.0", environment="blue", gate="immediate", run_id="not-this-run")
    examined = examine(record, expect, now=finished)
    assert not examined.valid and "not this run's record" in (examined.problem or "")
    future = examine(record, Expectation(release="2.1.0", environment="blue"), now=finished - timedelta(hours=1))
    assert "finished in the future" in (future.problem or "")
    assert examined.verdict == "NO-GO" and examined.exit_code == 2  # what is not valid is acted on as a NO-GO


# --- one REVIEW sign-off rule ----------------------------------------------------------------------------------


def _attestation(at: datetime, role: str = "Release Manager", release: str = "2.1.0",
                 item: str = "approval.release_manager") -> attestations.Attestation:
    return attestations.Attestation(item=item, by="Rita", role=role, at=at.isoformat(), release=release, user="r",
                                    host="h")


def test_the_sign_off_rule_counts_the_deadline_from_the_run():
    decided = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    rule_ = SignOffRule("approval.release_manager", ("Release Manager",), "2.1.0", decided, 60)
    inside = decided + timedelta(seconds=30)
    assert rule_.judge([_attestation(inside)], now=inside).accepted
    assert not rule_.judge([_attestation(decided - timedelta(seconds=1))], now=inside).accepted  # before the run
    assert not rule_.judge([_attestation(inside, role="Intern")], now=inside).accepted
    assert not rule_.judge([_attestation(inside, release="2.0.5")], now=inside).accepted
    assert not rule_.judge([_attestation(inside, item="other.item")], now=inside).accepted
    late = decided + timedelta(minutes=10)
    judged = rule_.judge([_attestation(late)], now=late)  # signed now, ten minutes after a 60 s deadline
    assert not judged.accepted and judged.expired and "after the deadline" in judged.reason
    waiting = rule_.judge([], now=inside)
    assert not waiting.accepted and not waiting.expired


def test_a_late_ecs_sign_off_fails_the_hook(tmp_path, monkeypatch):
    """issue 22: review_since ten minutes old, hooks.review_wait_s 60, signed now: FAILED, not SUCCEEDED."""
    monkeypatch.setenv(human_items.VALIDATIONS_ENV_VAR, str(REPO / "validations"))
    with CannedHTTP.everywhere({**HEALTH, "version": "2.1.0"}) as blue:
        config = write_config(tmp_path / "golive.yaml", blue.url, blue.url,
                              {"review_attestation": "approval.release_manager", "review_wait_s": 60})
        context = load_context(str(config), str(tmp_path / "reports"))
        now = datetime.now(UTC).replace(microsecond=0)
        since = now - timedelta(minutes=10)
        items = human_items.load_all(REPO / "validations")
        attestations.record(context.settings.attestations_path, "approval.release_manager", "Rita",
                            "Release Manager", "2.1.0", now=now, items=items)
        record = write_review(context.reports, "final", "blue", "2.1.0", since)
        waiting = {**ECS_EVENT, "hookDetails": waiting_state(record, since)}
        answer, line = ecs.respond(waiting, context, now=now)
        assert answer == {"hookStatus": "FAILED"}, line
        assert "after the deadline" in line
        # hookDetails can be edited in the service definition: a review_since moved to now does not move the
        # deadline, which counts from the record the state names; a state naming no record is refused.
        edited = {**ECS_EVENT, "hookDetails": waiting_state(record, now)}
        assert ecs.respond(edited, context, now=now)[0] == {"hookStatus": "FAILED"}
        for state in ({"review_since": now.isoformat()},
                      {**waiting_state(record, since)["golive"], "run_id": "another-run"},
                      {**waiting_state(record, since)["golive"], "record": "../../etc/passwd.json"}):
            with pytest.raises(HookError):
                ecs.respond({**ECS_EVENT, "hookDetails": {"golive": state}}, context, now=now)
