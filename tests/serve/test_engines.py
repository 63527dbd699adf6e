"""The engines' side against a running `golive serve` on the sandbox (issue 15): Argo Rollouts evaluating the
documented conditions gets Successful for a healthy blue, Failed once blue crashed and Inconclusive for a
REVIEW; Flagger gets 200, then a failure status. Each request pair runs Gate 2 once (the second joins)."""

from __future__ import annotations

import json

import httpx

from tests.support.gates import gate1_baseline, prometheus_window_clean, sandbox_command, variant
from tests.support.polling import wait_for
from tests.support.serve import (
    TOKEN_VARIABLE,
    Serving,
    argo_and_flagger,
    argo_measurement,
    flagger_passes,
    running_serve,
)

SERVE = {"serve": {"token_env": TOKEN_VARIABLE, "gates": ["2"], "environments": ["blue"], "timeout_s": 300,
                   "pytest_args": ["-n", "2"]}}


def _argo_and_flagger(serving: Serving) -> tuple[httpx.Response, httpx.Response]:
    """Argo's measurement and Flagger's webhook for Gate 2 on blue, sent together."""
    argo, flagger = argo_and_flagger(serving)
    assert argo.json()["id"] == flagger.json()["id"] and argo.json()["requests"] == 2, "two runs for one gate"
    return argo, flagger


def _record(serving: Serving, answer: httpx.Response) -> dict:
    path = serving.reports / "serve" / f"{answer.json()['id']}.json"
    return json.loads(path.read_text())


def test_healthy_blue_is_successful_and_a_crashed_one_failed(sandbox, tmp_path):
    reports = tmp_path / "reports"
    gate1_baseline(sandbox, reports)  # what Gate 1 leaves: Gate 2 compares against it
    wait_for("blue's Prometheus figures within thresholds", lambda: prometheus_window_clean(sandbox), 60)
    config = variant(sandbox, tmp_path / "serve.yaml", SERVE)
    with running_serve(config, reports) as serving:
        argo, flagger = _argo_and_flagger(serving)
        assert argo_measurement(argo) == "Successful", argo.json()["reasons"]
        assert flagger.status_code == 200 and flagger_passes(flagger)
        record = _record(serving, argo)
        assert argo.json()["record"] == record and record["verdict"] == "GO" and argo.json()["failed"] == []
        assert len(serving.records()) == 1

        sandbox_command("fault", "blue", "--crash")
        argo, flagger = _argo_and_flagger(serving)
        assert argo_measurement(argo) == "Failed"
        assert flagger.status_code == 412 and not flagger_passes(flagger)
        failed = {check["id"].rsplit("::", 1)[1] for check in argo.json()["failed"]}
        assert "test_health_endpoint_reports_ok" in failed
        assert flagger.json()["failed"] == [check["id"] for check in argo.json()["failed"]]
        assert _record(serving, argo)["verdict"] == "NO-GO" and len(serving.records()) == 2
    timeline = (reports / "timeline.jsonl").read_text()
    assert ": GO (exit 0) for 2 requests" in timeline and ": NO-GO (exit 2) for 2 requests" in timeline


def test_review_is_inconclusive_for_argo_and_a_failure_for_flagger(sandbox, tmp_path):
    """Without Gate 1's baseline Gate 2 is a REVIEW: Argo pauses (Inconclusive), Flagger does not advance."""
    wait_for("blue's Prometheus figures within thresholds", lambda: prometheus_window_clean(sandbox), 60)
    config = variant(sandbox, tmp_path / "serve.yaml", SERVE)
    with running_serve(config, tmp_path / "reports") as serving:
        argo, flagger = _argo_and_flagger(serving)
    assert argo.json()["verdict"] == "REVIEW", argo.json()["reasons"]
    assert argo_measurement(argo) == "Inconclusive"
    assert flagger.status_code == 409 and not flagger_passes(flagger)
    assert flagger.json()["reasons"] == _record(serving, argo)["reasons"]
