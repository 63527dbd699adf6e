"""`golive serve` without the sandbox: refusals run nothing, identical requests share one run, the bound is a
NO-GO, and the answers agree with the records (issue 15). The engines' flows on the sandbox are in
test_serve_engines.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golive.decision_record import DecisionRecord
from golive.gate_process import decide
from golive.serve.cli import parse_bind
from tests.support.gates import minimal_config, variant
from tests.support.serve import (
    REPO,
    TOKEN,
    TOKEN_VARIABLE,
    argo_and_flagger,
    argo_measurement,
    flagger_passes,
    flagger_payload,
    running_serve,
)

SERVE = {"serve.token_env": TOKEN_VARIABLE, "serve.gates": ["2"], "serve.environments": ["blue"]}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Two environments on a closed port: Gate 2 decides NO-GO in a few seconds."""
    return minimal_config(tmp_path / "golive.yaml", SERVE)


def test_refusals_run_nothing(config, tmp_path):
    reports = tmp_path / "reports"
    with running_serve(config, reports, token=TOKEN) as serving:
        for token in (None, "wrong-token-0123456789abcdef", TOKEN[:-1]):
            response = serving.get("/v1/gates/2?env=blue", token=token)
            assert response.status_code == 401, response.text
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            # An unknown gate or environment is not told to someone without the token.
            assert serving.get("/v1/gates/7?env=blue", token=token).status_code == 401
        flagger = serving.post("/v1/flagger/2", json=flagger_payload("blue"), token=None)
        assert flagger.status_code == 401 and not flagger_passes(flagger)
        assert argo_measurement(serving.get("/v1/gates/2?env=blue", token=None)) == "Error"

        for path, expected in [("/v1/gates/7?env=blue", "no gate '7' here (have: 2)"),
                               ("/v1/gates/pre?env=blue", "no gate 'pre' here (have: 2)"),  # not configured
                               ("/v1/gates/2?env=green", "no environment 'green' here (have: blue)"),
                               ("/v1/gates/2?env=..%2F..%2Fetc", "no environment '../../etc' here (have: blue)"),
                               ("/v1/runs/0123456789abcdef", "no run '0123456789abcdef'"),
                               ("/v2/gates/2", "no such endpoint: /v2/gates/2")]:
            response = serving.get(path)
            assert response.status_code == 404, (path, response.text)
            assert response.text.count("\n") == 1 and response.json()["error"].startswith(expected), response.text
        assert serving.get("/v1/gates/2").status_code == 400  # which environment?
        assert serving.post("/v1/flagger/2", content=b"not json").status_code == 400
        assert serving.post("/v1/flagger/2", json={"name": "x"}).status_code == 400
        assert serving.get("/v1/flagger/2").status_code == 405
        too_big = serving.post("/v1/gates/2?env=blue", content=b"x" * 65_537)
        assert too_big.status_code == 413 and "at most 65536" in too_big.json()["error"]
        assert serving.post("/v1/gates/2?env=blue", content=b"x" * 65_537, token=None).status_code == 413
    assert list((reports / "serve").iterdir()) == [], "a refused request started a gate run"
    assert serving.records() == []
    timeline = (reports / "timeline.jsonl").read_text()
    assert "refused (401: no valid bearer token); nothing run" in timeline and TOKEN[:-1] not in timeline


def test_identical_requests_share_one_run_and_answers_agree_with_the_record(config, tmp_path):
    """An Argo measurement and a Flagger webhook for Gate 2 on blue at the same time: one gate run answers both."""
    reports = tmp_path / "reports"
    with running_serve(config, reports) as serving:
        argo, flagger = argo_and_flagger(serving, "immediate", 120)
        later = serving.get(f"/v1/runs/{argo.json()['id']}")
    assert argo.status_code == 200 and argo_measurement(argo) == "Failed"
    assert flagger.status_code == 412 and not flagger_passes(flagger)
    document = argo.json()
    assert flagger.json()["id"] == document["id"] and document["requests"] == 2
    assert len(serving.records()) == 1, "two identical requests ran the gate twice"
    record = json.loads(serving.records()[0].read_text())
    assert document["record"] == record and document["verdict"] == record["verdict"] == "NO-GO"
    assert document["exit_code"] == record["exit_code"] == 2 and document["reasons"] == record["reasons"]
    assert document["failed"] == [check.summary() for check in DecisionRecord.parse(record).failed_checks]
    assert document["failed"] and all(check["outcome"] in ("failed", "error") for check in document["failed"])
    assert flagger.json()["failed"] == [check["id"] for check in document["failed"]]
    assert "record" not in flagger.json() and flagger.json()["reasons"] == record["reasons"]
    assert later.json() == document
    timeline = (reports / "timeline.jsonl").read_text()
    assert f"joined run {document['id']}" in timeline
    assert f"run {document['id']}: gate immediate on blue: NO-GO (exit 2) for 2 requests" in timeline


def test_a_run_past_the_bound_is_no_go(tmp_path):
    config = minimal_config(tmp_path / "golive.yaml", {**SERVE, "serve.timeout_s": 0.5})
    with running_serve(config, tmp_path / "reports") as serving:
        response = serving.get("/v1/gates/2?env=blue")
    assert response.status_code == 200 and argo_measurement(response) == "Failed"
    assert response.json()["reasons"][0] == ("the gate run was still going after serve.timeout_s (0.5 s): stopped")


def test_flagger_token_in_metadata_only_when_configured(tmp_path):
    """Flagger sends no headers (fluxcd/flagger#1192): its token can ride in the webhook's metadata, if allowed."""
    config = minimal_config(tmp_path / "golive.yaml", SERVE)
    with running_serve(config, tmp_path / "reports") as serving:
        assert serving.post("/v1/flagger/2", json=flagger_payload("blue", token=TOKEN), token=None).status_code == 401
    allowed = variant(config, tmp_path / "allowed.yaml", {"serve.flagger_token_in_metadata": True})
    with running_serve(allowed, tmp_path / "reports-2") as serving:
        wrong = serving.post("/v1/flagger/2", json=flagger_payload("blue", token="x" * 20), token=None)
        assert wrong.status_code == 401
        # The token is masked in every answer.
        answer = serving.post("/v1/flagger/2?env=blue", json=flagger_payload("blue", token=TOKEN), token=None)
        assert answer.status_code == 412 and TOKEN not in answer.text
        assert serving.get("/v1/gates/2", token=None).status_code == 401  # metadata is Flagger's, not Argo's


def _serve_exit(config: Path, *args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", TOKEN_VARIABLE}}
    return subprocess.run([sys.executable, "-m", "golive", "serve", f"--golive-config={config}", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60, env={**env, **(environ or {})})


@pytest.mark.parametrize(("changes", "args", "environ", "line"), [
    ({"serve.token_env": None}, (), {}, "golive serve: golive.yaml: serve: no token: set serve.token_file or "
                                        "serve.token_env, or pass --token-file"),
    ({}, (), {}, f"golive serve: serve.token_env {TOKEN_VARIABLE}: the token must be at least 16 characters, "
                 "without spaces"),
    ({}, (), {TOKEN_VARIABLE: "short"}, f"golive serve: serve.token_env {TOKEN_VARIABLE}: the token must be at "
                                        "least 16 characters, without spaces"),
    ({}, ("--token-file", "/nonexistent/token"), {}, "golive serve: --token-file /nonexistent/token: cannot read it "
                                                     "(No such file or directory)"),
    ({"serve.gates": ["9"]}, (), {TOKEN_VARIABLE: TOKEN}, "golive serve: golive.yaml: serve.gates[0]: no gate '9'"),
    ({"serve.environments": ["red"]}, (), {TOKEN_VARIABLE: TOKEN}, "golive serve: golive.yaml: "
                                                                   "serve.environments[0]: no environment 'red'"),
    ({}, ("--bind", "127.0.0.1"), {TOKEN_VARIABLE: TOKEN}, "golive serve: --bind '127.0.0.1': expected HOST:PORT"),
    ({"serve.timeout_s": 0}, (), {TOKEN_VARIABLE: TOKEN}, "golive: golive.yaml: serve.timeout_s:"),
])
def test_bad_setup_is_one_line_exit_2(tmp_path, changes, args, environ, line):
    config = minimal_config(tmp_path / "golive.yaml", SERVE)
    config = variant(config, config, changes)
    completed = _serve_exit(config, *args, environ=environ)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith(line), completed.stderr
    assert completed.stdout == ""


def test_parse_bind():
    assert parse_bind("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_bind("[::1]:0") == ("::1", 0)


def _record(verdict: str, exit_code: int, reasons: tuple[str, ...] = ()) -> DecisionRecord:
    return DecisionRecord.parse({
        "gate": "immediate", "verdict": verdict, "exit_code": exit_code, "environment": "blue", "release": "2.1.0",
        "started_at": "2026-12-01T10:00:00+00:00", "finished_at": "2026-12-01T10:00:05+00:00", "duration_s": 5.0,
        "reasons": list(reasons), "counts": {}, "checks": [],
    })


def _decided(result) -> tuple[int, str, tuple[str, ...]]:
    return result.exit_code, result.verdict, result.reasons


def test_decide_fails_closed():
    """golive.gate_process.decide, which serve's runs go through: only a record that agrees with the exit code
    decides."""
    record = _record("GO", 0)
    assert _decided(decide(0, record)) == (0, "GO", ())
    assert _decided(decide(1, _record("REVIEW", 1, ("r",)))) == (1, "REVIEW", ("r",))
    assert _decided(decide(2, record))[:2] == (2, "NO-GO")  # the exit code and the record disagree
    assert _decided(decide(0, _record("REVIEW", 0)))[:2] == (2, "NO-GO")
    assert _decided(decide(0, None))[:2] == (2, "NO-GO")
    assert decide(-9, None, tail="killed").reasons[1] == "killed"
    stopped = decide(0, record, stopped="the gate run was still going after serve.timeout_s (30 s): stopped")
    assert _decided(stopped)[:2] == (2, "NO-GO") and stopped.record is None
    interrupted = decide(2, _record("NO-GO", 2, ("interrupted: SIGTERM",)), stopped="stopped")
    assert interrupted.reasons == ("stopped", "interrupted: SIGTERM") and interrupted.record is not None
    usage = decide(4, None)
    assert (usage.status, usage.exit_code, usage.verdict) == (4, 2, "NO-GO")
