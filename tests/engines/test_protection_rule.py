"""GitHub's custom deployment protection rule decided by a golive decision record (issue 15, item 4): GO is
approved, anything else rejected, an unreadable record rejected with exit 2. GitHub's API is played over loopback
by a canned HTTP server (``--api-url``); the records come from real gate runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive.acceptance import Expectation
from golive.engines.protection_rule import review
from tests.canned_http import Answer, CannedHTTP
from tests.support import REPO
from tests.support.gates import minimal_config

TOKEN = "ghs_test0123456789abcdefTOKEN"
ENDPOINT = "/repos/acme/orchestrator/actions/runs/4242/deployment_protection_rule"


def gate(config: Path, which: str, out: Path) -> Path:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", "GITHUB_ACTIONS"}}
    subprocess.run([sys.executable, "-m", "golive", "gate", which, f"--golive-config={config}",
                    f"--golive-reports={out.parent / 'reports'}", f"--golive-json={out}", "-p", "no:cacheprovider"],
                   cwd=REPO, capture_output=True, text=True, timeout=180, env=environ)
    return out


CONFIG: Path | None = None  # the configuration the records were made with: the rule judges against it


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, Path]:
    """A GO record (Gate config on a minimal configuration) and a NO-GO one (Gate final, blue on a closed port)."""
    global CONFIG
    where = tmp_path_factory.mktemp("records")
    CONFIG = config = minimal_config(where / "golive.yaml")
    return {"GO": gate(config, "config", where / "go.json"), "NO-GO": gate(config, "final", where / "no-go.json")}


@pytest.fixture
def github() -> Iterator[CannedHTTP]:
    with CannedHTTP({ENDPOINT: Answer(204, "")}) as server:
        yield server


def rule(*args: str, token: str | None = TOKEN, stdin: str | None = None,
         config: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GITHUB_TOKEN", "GOLIVE_CONFIG"}}
    if token is not None:
        environ["GITHUB_TOKEN"] = token
    chosen = config or CONFIG
    options = [f"--golive-config={chosen}"] if chosen else []
    return subprocess.run([sys.executable, "-m", "golive", "protection-rule", *options, *args], cwd=REPO,
                          input=stdin, capture_output=True, text=True, timeout=60, env=environ)


def sent(github: CannedHTTP) -> list[dict]:
    for request in github.requests:
        assert request.method == "POST" and request.path == ENDPOINT
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Accept"] == "application/vnd.github+json"
    return [json.loads(request.body) for request in github.requests]


@pytest.mark.parametrize(("verdict", "state", "code"), [("GO", "approved", 0), ("NO-GO", "rejected", 1)])
def test_a_record_approves_or_rejects_the_deployment(records, github, verdict, state, code):
    done = rule("--record", str(records[verdict]), "--environment", "production", "--repo", "acme/orchestrator",
                "--run-id", "4242", "--send", "--api-url", github.url)
    assert done.returncode == code, done.stderr
    [body] = sent(github)
    assert json.loads(done.stdout) == body
    assert (body["environment_name"], body["state"]) == ("production", state)
    assert body["comment"].startswith(f"golive gate {'config' if verdict == 'GO' else 'final'} on blue "
                                      f"(release 2.1.0): {verdict}")
    assert TOKEN not in done.stdout + done.stderr


def test_the_webhook_gives_the_environment_and_the_run(records, github):
    webhook = {"action": "requested", "environment": "production", "event": "push",
               "deployment_callback_url": github.url + ENDPOINT}
    done = rule("--record", str(records["GO"]), "--webhook", "-", "--send", "--api-url", github.url,
                stdin=json.dumps(webhook))
    assert done.returncode == 0, done.stderr
    assert sent(github)[0]["state"] == "approved"
    # A callback URL elsewhere than the API never gets the token.
    elsewhere = {**webhook, "deployment_callback_url": "http://attacker.example" + ENDPOINT}
    refused = rule("--record", str(records["GO"]), "--webhook", "-", "--send", "--api-url", github.url,
                   stdin=json.dumps(elsewhere))
    assert refused.returncode == 2 and "is not" in refused.stderr and refused.stderr.count("\n") == 1
    assert len(github.requests) == 1


def test_an_unreadable_record_is_rejected_and_exits_2(records, tmp_path, github):
    broken = tmp_path / "latest-immediate.json"
    broken.write_text('{"verdict": "GO", ')
    for path in (broken, tmp_path / "missing.json"):
        done = rule("--record", str(path), "--environment", "production", "--repo", "acme/orchestrator",
                    "--run-id", "4242", "--send", "--api-url", github.url)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1 and "cannot be read" in done.stderr
    assert [body["state"] for body in sent(github)] == ["rejected", "rejected"]


def test_printing_only_needs_no_token_and_no_network(records):
    done = rule("--record", str(records["GO"]), "--environment", "staging", token=None)
    assert done.returncode == 0 and json.loads(done.stdout)["state"] == "approved"
    assert rule("--record", str(records["GO"]), "--environment", "staging", "--send", token=None).returncode == 2


def test_github_refusing_is_one_line_exit_2(records):
    with CannedHTTP({ENDPOINT: Answer(422, {"message": "No pending custom deployment requests"})}) as github:
        done = rule("--record", str(records["GO"]), "--environment", "production", "--repo", "acme/orchestrator",
                    "--run-id", "4242", "--send", "--api-url", github.url)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "GitHub answered 422" in done.stderr and TOKEN not in done.stderr


def test_rules_of_approval(records, tmp_path):
    go = json.loads(records["GO"].read_text())
    finished = datetime.fromisoformat(go["finished_at"])

    def expect(gate: str | None = None, max_age: timedelta = timedelta(hours=1)) -> Expectation:
        return Expectation(release="2.1.0", environment="blue", gate=gate, max_age=max_age)

    assert review(records["GO"], "prod", expect(), now=finished).state == "approved"
    assert review(records["GO"], "prod", expect("config"), now=finished).state == "approved"
    wrong_gate = review(records["GO"], "prod", expect("immediate"), now=finished)
    assert wrong_gate.state == "rejected" and "not of gate immediate" in wrong_gate.comment
    stale = review(records["GO"], "prod", expect(max_age=timedelta(minutes=60)), now=finished + timedelta(hours=2))
    assert stale.state == "rejected" and "older than 60 minutes" in stale.comment
    disagreeing = tmp_path / "disagreeing.json"
    disagreeing.write_text(json.dumps({**go, "exit_code": 2}))
    assert "do not agree" in review(disagreeing, "prod", expect(), now=finished).comment
    review_record = tmp_path / "review.json"
    review_record.write_text(json.dumps({**go, "verdict": "REVIEW", "exit_code": 1}))
    assert review(review_record, "prod", expect(), now=finished).state == "rejected"
    assert datetime.now(UTC) - finished < timedelta(minutes=10)
