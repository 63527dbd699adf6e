"""The CodeDeploy and ECS lifecycle hooks report the right status for GO and NO-GO gate runs (issue 15, item 3).

Gate runs are real: ``golive gate final`` as a child process against two private canned HTTP servers playing
blue and green (GO), or with blue on a closed port (NO-GO). CodeDeploy's side is played over loopback by a
canned server speaking its JSON protocol (``golive hook codedeploy``, through $AWS_ENDPOINT_URL_CODEDEPLOY),
and by botocore's Stubber for the Lambda handler (moto does not model PutLifecycleEventHookExecutionStatus).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from golive import attestations, human_items
from golive.engines import codedeploy, ecs
from golive.engines.hooks import GateOutcome, load_context
from tests.canned_http import Answer, CannedHTTP, Request
from tests.support import REPO
from tests.support.records import waiting_state, write_review

CODEDEPLOY_EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "exec-0123456789"}
# The event ECS gives a Lambda hook (Amazon ECS Developer Guide, "Lambda hooks": lifecycle payloads).
ECS_EVENT = {
    "executionId": "f4fcae0f-9bec-41c6-ba87-0eaa0cef8af5",
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
    "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/cluster/orchestrator/EZe5RNVLH6PPzHXINuP28",
    "executionDetails": {
        "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/cluster/orchestrator",
        "targetServiceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/cluster/orchestrator/93",
        "testTrafficWeights": {}, "productionTrafficWeights": {},
    },
}
HEALTH = {"status": "ok", "uptime": 100, "database": "ok", "rabbitmq": "ok", "redis": "ok"}


def write_config(path: Path, blue: str, green: str, hooks: dict | None = None) -> Path:
    document = {"release": {"version": "2.1.0", "previous": "2.0.5"},
                "environments": {"blue": {"url": blue, "role": "candidate"}, "green": {"url": green, "role": "live"}},
                "attestations": str(path.parent / "attestations.jsonl"),
                "hooks": {"gate": "final", "timeout_s": 120, **(hooks or {})}}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def apps() -> Iterator[tuple[CannedHTTP, CannedHTTP]]:
    """Blue on 2.1.0 and green on 2.0.5, both healthy."""
    with CannedHTTP.everywhere({**HEALTH, "version": "2.1.0"}) as blue, \
            CannedHTTP.everywhere({**HEALTH, "version": "2.0.5"}) as green:
        yield blue, green


@pytest.fixture
def go_config(tmp_path, apps) -> Path:
    blue, green = apps
    return write_config(tmp_path / "golive.yaml", blue.url, green.url)


@pytest.fixture
def no_go_config(tmp_path, apps, closed_port) -> Path:
    return write_config(tmp_path / "golive.yaml", f"http://127.0.0.1:{closed_port}", apps[1].url)


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}
           and not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", **extra)
    return env


def hook(engine: str, config: Path, event: object, **extra: str) -> subprocess.CompletedProcess[str]:
    text = event if isinstance(event, str) else json.dumps(event)
    return subprocess.run([sys.executable, "-m", "golive", "hook", engine, "--event", "-",
                           f"--golive-config={config}", "--reports", str(config.parent / "reports")],
                          input=text, cwd=REPO, capture_output=True, text=True, timeout=180, env=environ(**extra))


@pytest.fixture
def codedeploy_api() -> Iterator[CannedHTTP]:
    """CodeDeploy's PutLifecycleEventHookExecutionStatus over loopback (JSON 1.1 protocol)."""
    def put_status(request: Request) -> Answer:
        body = json.loads(request.body)
        return Answer(200, {"lifecycleEventHookExecutionId": body["lifecycleEventHookExecutionId"]},
                      headers={"Content-Type": "application/x-amz-json-1.1"})

    with CannedHTTP({"/": put_status}) as server:
        yield server


def reported(api: CannedHTTP) -> list[dict]:
    calls = [r for r in api.requests if r.method == "POST"]
    assert all(r.headers["X-Amz-Target"] == "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus" for r in calls)
    return [json.loads(r.body) for r in calls]


@pytest.mark.parametrize(("which", "status", "code"), [("go", "Succeeded", 0), ("no_go", "Failed", 1)])
def test_codedeploy_hook_reports_the_gate_decision(request, codedeploy_api, which, status, code):
    config = request.getfixturevalue(f"{which}_config")
    done = hook("codedeploy", config, CODEDEPLOY_EVENT, AWS_ENDPOINT_URL_CODEDEPLOY=codedeploy_api.url)
    assert done.returncode == code, done.stdout + done.stderr
    assert reported(codedeploy_api) == [{"deploymentId": "d-ABCDEF123", "lifecycleEventHookExecutionId":
                                         "exec-0123456789", "status": status}]
    assert f"reported {status} for deployment d-ABCDEF123" in done.stdout
    timeline = (config.parent / "reports" / "timeline.jsonl").read_text()
    assert f"reported {status}" in timeline


@pytest.mark.parametrize(("which", "status", "code"), [("go", "SUCCEEDED", 0), ("no_go", "FAILED", 1)])
def test_ecs_hook_answers_the_gate_decision(request, which, status, code):
    config = request.getfixturevalue(f"{which}_config")
    done = hook("ecs", config, ECS_EVENT)
    assert done.returncode == code, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"hookStatus": status}
    record = next((config.parent / "reports" / "hooks").glob("*.json"))
    assert json.loads(record.read_text())["verdict"] == ("GO" if which == "go" else "NO-GO")


def test_codedeploy_lambda_handler_with_stubber(go_config, monkeypatch):
    """The Lambda entry point: configuration from $GOLIVE_CONFIG; the call checked by botocore's Stubber."""
    monkeypatch.setenv("GOLIVE_CONFIG", str(go_config))
    monkeypatch.setenv("GOLIVE_REPORTS", str(go_config.parent / "reports"))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    client = boto3.client("codedeploy", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stub:
        stub.add_response("put_lifecycle_event_hook_execution_status",
                          {"lifecycleEventHookExecutionId": "exec-0123456789"},
                          {"deploymentId": "d-ABCDEF123", "lifecycleEventHookExecutionId": "exec-0123456789",
                           "status": "Succeeded"})
        monkeypatch.setattr(codedeploy, "client", lambda context: client)
        answer = codedeploy.handler(CODEDEPLOY_EVENT, None)
        stub.assert_no_pending_responses()
    assert answer["status"] == "Succeeded" and answer["verdict"] == "GO"


def test_codedeploy_reports_failed_when_aws_refuses(go_config, monkeypatch):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    context = load_context(str(go_config), str(go_config.parent / "reports"))
    client = boto3.client("codedeploy", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stub:
        stub.add_client_error("put_lifecycle_event_hook_execution_status", "LifecycleEventAlreadyCompletedException",
                              "already completed")
        with pytest.raises(codedeploy.HookError, match=r"could not report Succeeded: .*AlreadyCompleted"):
            codedeploy.report(CODEDEPLOY_EVENT, context, client)


@pytest.mark.parametrize(("engine", "event", "message"), [
    ("codedeploy", "not json", "--event -: not JSON"),
    ("codedeploy", "[1, 2]", "--event -: not a JSON object"),
    ("codedeploy", {"DeploymentId": "d-1"}, "the CodeDeploy event has no LifecycleEventHookExecutionId"),
    ("codedeploy", {"DeploymentId": 7, "LifecycleEventHookExecutionId": "x"}, "has no DeploymentId"),
    ("ecs", {"executionId": "e", "lifecycleStage": "PRE_SCALE_UP"}, "the ECS event has no executionDetails object"),
    ("ecs", {**ECS_EVENT, "hookDetails": {"golive": {"review_since": "yesterday"}}}, "not an ISO-8601 time"),
])
def test_bad_events_are_one_line_and_exit_2(go_config, codedeploy_api, engine, event, message):
    done = hook(engine, go_config, event, AWS_ENDPOINT_URL_CODEDEPLOY=codedeploy_api.url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert reported(codedeploy_api) == [] and not (go_config.parent / "reports" / "hooks").exists()


def test_bad_configuration_and_missing_event_file_are_one_line(go_config, tmp_path):
    bad = write_config(tmp_path / "bad.yaml", "http://127.0.0.1:9", "http://127.0.0.1:9", {"gate": "9"})
    done = hook("ecs", bad, ECS_EVENT)
    assert done.returncode == 2 and done.stderr.strip() == \
        "golive hook ecs: bad.yaml: hooks.gate: no gate '9' (have: 1, 2, 3, config, final, immediate, post, pre)"
    missing = subprocess.run([sys.executable, "-m", "golive", "hook", "codedeploy", "--event", str(tmp_path / "none"),
                              f"--golive-config={go_config}"], cwd=REPO, capture_output=True, text=True, timeout=60,
                             env=environ())
    assert missing.returncode == 2 and missing.stderr.startswith("golive hook codedeploy: --event ") \
        and missing.stderr.count("\n") == 1
    assert ecs.handler({"executionId": "e"}, None) == {"hookStatus": "FAILED"}  # Lambda: fail closed


# --- a REVIEW: waits for an attestation after the run, up to the deadline ---------------------------------------

@pytest.fixture
def review_context(tmp_path, apps, monkeypatch):
    monkeypatch.setenv(human_items.VALIDATIONS_ENV_VAR, str(REPO / "validations"))
    config = write_config(tmp_path / "golive.yaml", apps[0].url, apps[1].url,
                          {"review_attestation": "approval.release_manager", "review_wait_s": 600,
                           "callback_delay_s": 20, "codedeploy_review": "wait"})
    return load_context(str(config), str(tmp_path / "reports"))


def sign(context, at: datetime) -> None:
    items = human_items.load_all(REPO / "validations")
    attestations.record(context.settings.attestations_path, "approval.release_manager", "Rita", "Release Manager",
                        "2.1.0", now=at, items=items)


def test_ecs_review_is_in_progress_until_attested_then_succeeded_and_failed_at_the_deadline(review_context):
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    record = write_review(review_context.reports, "final", "blue", "2.1.0", since)
    waiting = {**ECS_EVENT, "hookDetails": waiting_state(record, since)}
    answer, line = ecs.respond(waiting, review_context)
    assert answer == {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": waiting["hookDetails"]}
    assert "waiting for an attestation of approval.release_manager" in line
    sign(review_context, since - timedelta(seconds=5))  # signed before the REVIEW: it does not accept it
    assert ecs.respond(waiting, review_context)[0]["hookStatus"] == "IN_PROGRESS"
    late = since + timedelta(seconds=601)
    assert ecs.respond(waiting, review_context, now=late)[0] == {"hookStatus": "FAILED"}
    sign(review_context, since + timedelta(seconds=10))
    answer, line = ecs.respond(waiting, review_context)
    assert answer == {"hookStatus": "SUCCEEDED"} and "signed by Rita (Release Manager)" in line


def test_codedeploy_review_fails_unless_told_to_wait(review_context):
    since = datetime.now(UTC).replace(microsecond=0)
    review = GateOutcome("REVIEW", 1, ["a warning failed"], since)
    clock = [since]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)
        if len(slept) == 2:
            sign(review_context, clock[0])

    status, why = codedeploy.decide(review_context, review, sleep, lambda: clock[0])
    assert (status, slept) == ("Succeeded", [20, 20]) and why.startswith("REVIEW accepted: approval.release_manager")
    clock[0], slept[:] = since, [99, 99]  # no more signing
    failing = GateOutcome("REVIEW", 1, [], since + timedelta(seconds=3600))
    clock[0] = failing.finished_at
    assert codedeploy.decide(review_context, failing, sleep, lambda: clock[0])[0] == "Failed"  # none after this run
    told = type(review_context)(**{**review_context.__dict__,
                                  "section": review_context.section.model_copy(update={"codedeploy_review": "fail"})})
    assert codedeploy.decide(told, review) == ("Failed",
                                               "a REVIEW fails a CodeDeploy hook (hooks.codedeploy_review: fail)")
    assert codedeploy.decide(told, GateOutcome("GO", 0, [], since)) == ("Succeeded", "GO")
    assert codedeploy.decide(told, GateOutcome("NO-GO", 2, [], since))[0] == "Failed"


@pytest.fixture
def review_config(tmp_path) -> Iterator[Path]:
    """Blue reports redis down: a warning check fails, Gate final is a REVIEW."""
    with CannedHTTP.everywhere({**HEALTH, "version": "2.1.0", "redis": "down"}) as blue, \
            CannedHTTP.everywhere({**HEALTH, "version": "2.0.5"}) as green:
        config = write_config(tmp_path / "golive.yaml", blue.url, green.url,
                              {"review_attestation": "approval.release_manager", "review_wait_s": 600})
        document = yaml.safe_load(config.read_text())
        config.write_text(yaml.safe_dump({**document, "redis": {"url": "redis://127.0.0.1:1/0"}}, sort_keys=False))
        yield config


def test_a_real_review_waits_on_ecs_and_fails_on_codedeploy(review_config, codedeploy_api):
    first = hook("ecs", review_config, ECS_EVENT)
    assert first.returncode == 3, first.stdout + first.stderr
    answer = json.loads(first.stdout)
    assert answer["hookStatus"] == "IN_PROGRESS" and answer["callBackDelay"] == 30
    assert "REVIEW (exit 1)" in first.stderr
    assert "waiting for an attestation of approval.release_manager" in first.stderr
    again = {**ECS_EVENT, "hookDetails": answer["hookDetails"]}  # ECS hands hookDetails back on the next call
    assert json.loads(hook("ecs", review_config, again).stdout)["hookStatus"] == "IN_PROGRESS"
    signed = subprocess.run([sys.executable, "-m", "golive", "attest", "approval.release_manager", "--by", "Rita",
                             "--role", "Release Manager", f"--golive-config={review_config}"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, env=environ())
    assert signed.returncode == 0, signed.stderr
    last = hook("ecs", review_config, again)
    assert (last.returncode, json.loads(last.stdout)) == (0, {"hookStatus": "SUCCEEDED"}), last.stderr
    assert len(list((review_config.parent / "reports" / "hooks").glob("*.json"))) == 1  # the gate ran once

    done = hook("codedeploy", review_config, CODEDEPLOY_EVENT, AWS_ENDPOINT_URL_CODEDEPLOY=codedeploy_api.url)
    assert done.returncode == 1 and "REVIEW (exit 1)" in done.stdout
    assert reported(codedeploy_api)[0]["status"] == "Failed"  # codedeploy_review: fail (the default)
