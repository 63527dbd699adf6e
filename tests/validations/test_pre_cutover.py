"""Gate 2 (`immediate`) on the sandbox: GO when healthy; each fault gives the verdict a Deployment Lead wants,
naming the figure, its source and the threshold."""

from __future__ import annotations

import json
import re

import httpx
import psycopg

from golive.sandbox import constants as c
from golive.sandbox.manager import state_dir
from tests.support.gates import baseline_of, gate1_baseline, prometheus_window_clean, sandbox_command, variant
from tests.support.polling import wait_for

FILE = "validations/test_pre_cutover.py"
STEP_FILE = "validations/test_pre_cutover_step.py"
# The sandbox's configuration sets no http.sampling.paths: its GET endpoints are sampled (the API, not /health).
API_PATHS = ["/api/agents", "/api/messages", "/api/status", "/api/health"]
BLUE_API = re.escape(f"http://{c.HOST}:{c.BLUE_PORT} ({', '.join(API_PATHS)})")
PROMETHEUS = f"http://{c.HOST}:{c.PROMETHEUS_PORT}"
BLUE_HEALTH = f"http://{c.HOST}:{c.BLUE_PORT}/health"


def synthetic_leftovers() -> int:
    with psycopg.connect(c.PRIMARY_DSN, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT count(*) FROM tasks WHERE payload->>'synthetic' LIKE 'golive-synthetic-%'"
        ).fetchone()
    return int(row[0]) if row else -1


def dlq_depth() -> int:
    from golive.probes import rabbitmq

    connection = rabbitmq.connect(c.AMQP_URL, 3)
    try:
        return rabbitmq.queue_state(connection, c.DEAD_LETTER_QUEUE).messages
    finally:
        connection.close()


def test_healthy_sandbox_is_go(sandbox, run_gate, tmp_path):
    """Must show: the healthy sandbox, after Gate 1 captured its baseline, passes `pytest -m immediate`."""
    # Faults of earlier tests stay in Prometheus's 30 s window for a while.
    wait_for("blue's Prometheus figures within thresholds", lambda: prometheus_window_clean(sandbox), 45)
    reports = tmp_path / "reports"
    gate1_baseline(sandbox, reports)
    run = run_gate(sandbox, "immediate", reports=reports)
    assert run.code == 0, run.record["reasons"]
    mine = {name: outcome for name, outcome in run.outcomes().items()
            if any(check["id"].startswith(FILE) and check["id"].endswith(name) for check in run.record["checks"])}
    assert mine == dict.fromkeys([
        "test_health_dependencies_ok", "test_error_ratio_sampled", "test_p95_sampled", "test_error_ratio_prometheus",
        "test_p95_prometheus", "test_p95_within_baseline", "test_error_ratio_within_baseline",
        "test_schema_version_is_the_release", "test_queues_have_consumers", "test_dead_letter_queues_not_growing",
        "test_synthetic_transaction",
    ], "passed")  # fmt: skip
    assert set(run.outcomes().values()) == {"passed"}
    # The 50 % step's checks run only under --golive-phase 50.
    assert not [check for check in run.record["checks"] if check["id"].startswith(STEP_FILE)]
    for name, component in (("test_error_ratio_sampled", "http"), ("test_p95_prometheus", "prometheus"),
                            ("test_queues_have_consumers", "rabbitmq"), ("test_synthetic_transaction", "http"),
                            ("test_schema_version_is_the_release", "postgres")):  # fmt: skip
        check = run.check(name)
        assert (check["severity"], check["component"]) == ("critical", component), check
    assert run.check("test_p95_sampled")["category"] == "Pre-cutover verification"
    for name in ("test_error_ratio_sampled", "test_p95_sampled", "test_p95_within_baseline"):
        sampled = run.check(name)["facts"]["sampling"]
        assert (sampled["environment"], sampled["paths"], sampled["chosen_by"]) == ("blue", API_PATHS, "http.endpoints")
    assert synthetic_leftovers() == 0


def test_error_rate_is_no_go_naming_the_ratio_and_its_source(sandbox, run_gate, tmp_path):
    """Must show: 20 % errors on blue make `pytest -m immediate` exit 2, naming the error ratio and its source."""
    reports = tmp_path / "reports"
    gate1_baseline(sandbox, reports)
    sandbox_command("fault", "blue", "--error-rate", "0.2")
    run = run_gate(sandbox, "immediate", FILE, "-k", "error_ratio", reports=reports)
    assert run.code == 2
    sampled = run.check("test_error_ratio_sampled")
    assert sampled["outcome"] == "failed" and sampled["severity"] == "critical"
    match = re.fullmatch(
        rf"error ratio (0\.\d{{4}}) \(sampled: (\d+) of 100 requests to {BLUE_API}, e\.g\. GET /api/\w+: HTTP 500"
        r"(; GET /api/\w+: HTTP 500)*\)"
        r" exceeds 0\.0010 \(thresholds\.error_rate\)",
        sampled["message"],
    )
    assert match, sampled["message"]
    assert 0.15 <= float(match[1]) <= 0.25
    prometheus = run.check("test_error_ratio_prometheus")
    assert prometheus["outcome"] == "failed", prometheus
    assert re.fullmatch(
        rf"error ratio 0\.\d{{4}} \(prometheus: job orchestrator-blue over 30s at {PROMETHEUS}\)"
        r" exceeds 0\.0010 \(thresholds\.error_rate\)",
        prometheus["message"],
    ), prometheus["message"]
    versus = run.check("test_error_ratio_within_baseline")
    assert versus["outcome"] == "failed"
    assert "exceeds the error ratio 0.0000 of the Gate 1 baseline of green" in versus["message"]
    assert "(thresholds.error_rate_margin)" in versus["message"]
    assert "test_error_ratio_sampled" in run.stdout and "(sampled: " in run.stdout  # the summary names it


def test_latency_is_no_go_naming_p95(sandbox, run_gate, tmp_path):
    """Must show: 400 ms added on blue makes `pytest -m immediate` exit 2, naming p95 and its source."""
    reports = tmp_path / "reports"
    gate1_baseline(sandbox, reports)
    sandbox_command("fault", "blue", "--latency-ms", "400")
    run = run_gate(sandbox, "immediate", FILE, "-k", "p95", reports=reports)
    assert run.code == 2
    sampled = run.check("test_p95_sampled")["message"]
    match = re.fullmatch(
        rf"p95 (\d+\.\d) ms \(sampled: 100 requests to {BLUE_API}, concurrency 10\) exceeds 200 ms"
        r" \(thresholds\.p95_ms\)",
        sampled,
    )
    assert match and float(match[1]) >= 400, sampled
    prometheus = run.check("test_p95_prometheus")
    assert prometheus["outcome"] == "failed"
    assert re.fullmatch(
        rf"p95 \d+\.\d ms \(prometheus: job orchestrator-blue over 30s at {PROMETHEUS}\) exceeds 200 ms"
        r" \(thresholds\.p95_ms\)",
        prometheus["message"],
    ), prometheus["message"]
    versus = run.check("test_p95_within_baseline")["message"]
    assert "the larger of the p95" in versus and "of green now" in versus  # confirmed against green, sampled now
    assert versus.endswith("allowed 1.25x (thresholds.p95_ratio_to_baseline) or 25 ms more (thresholds.p95_margin_ms)")


def test_prometheus_down_fails_the_metric_checks(sandbox, run_gate, tmp_path, closed_port):
    """Must show: with prometheus.url on a closed port the Prometheus metric checks fail (exit 2), never pass."""
    config = variant(sandbox, tmp_path / "p.yaml", {"prometheus.url": f"http://127.0.0.1:{closed_port}"})
    run = run_gate(config, "immediate", FILE, "-k", "prometheus or sampled")
    assert run.code == 2
    for name in ("test_error_ratio_prometheus", "test_p95_prometheus"):
        check = run.check(name)
        assert check["outcome"] == "error" and check["component"] == "prometheus", check
        # The first thing read is whether blue's job was scraped after golive's sample.
        assert f"prometheus at http://127.0.0.1:{closed_port}/api/v1/targets: cannot connect" in check["message"]
    assert run.check("test_p95_sampled")["outcome"] == "passed"


def clean_after_traffic(config):
    """A few requests to blue (a short window may have none), then whether its Prometheus figures are clean."""
    with httpx.Client(timeout=3) as client:
        for _ in range(20):
            client.get(BLUE_HEALTH)
    return prometheus_window_clean(config)


def test_prometheus_job_nobody_scrapes_errors_and_without_jobs_blue_is_found(sandbox, run_gate, tmp_path):
    """A job with no target is an error naming the jobs there are; without prometheus.jobs.blue the job is found
    among Prometheus's targets by blue's URL and named in the record (it used to skip as not configured)."""
    config = variant(sandbox, tmp_path / "j.yaml", {"prometheus.jobs": {"blue": "orchestrator-gone"}})
    run = run_gate(config, "immediate", FILE, "-k", "prometheus")
    assert run.code == 2
    for name in ("test_error_ratio_prometheus", "test_p95_prometheus"):
        check = run.check(name)
        assert check["outcome"] == "error", check
        assert check["message"].endswith(
            "no active target in job orchestrator-gone (prometheus.jobs.blue); Prometheus has the jobs "
            "orchestrator-blue, orchestrator-green"
        ), check["message"]
    # A short window, so that earlier tests' faults leave it soon.
    unmapped = variant(sandbox, tmp_path / "u.yaml", {"prometheus.jobs": {"green": "orchestrator-green"},
                                                      "prometheus.window": "8s"})  # fmt: skip
    wait_for("blue's Prometheus figures within thresholds", lambda: clean_after_traffic(unmapped), 30)
    run = run_gate(unmapped, "immediate", FILE, "-k", "prometheus")
    assert run.partial_go, run.record["reasons"]
    assert run.check("test_p95_prometheus")["facts"]["prometheus"] == {
        "job": "orchestrator-blue", "preset": "golive", "preset_from": "detected: http_requests_total{status}",
        "job_from": f"discovered: target {c.HOST}:{c.BLUE_PORT} at {c.HOST}:{c.BLUE_PORT} (environments.blue.url)",
    }  # fmt: skip


def test_sandbox_in_micrometer_naming_is_detected_and_its_5xx_are_no_go(sandbox, run_gate, tmp_path):
    """`up --metrics micrometer`: the configuration `up` writes (no queries, no preset) reads Micrometer's
    http_server_requests_seconds; 20 % 5xx is NO-GO from it; plain `up` goes back to the golive naming."""
    sandbox_command("up", "--config-out", str(sandbox), "--metrics", "micrometer")
    short = variant(sandbox, tmp_path / "m.yaml", {"prometheus.window": "8s"})  # earlier faults leave it soon
    try:
        state = json.loads((state_dir() / "state.json").read_text())
        assert state["app_options"]["metrics"] == "micrometer"
        assert "http_server_requests_seconds_count{" in httpx.get(f"http://{c.HOST}:{c.BLUE_PORT}/metrics").text
        wait_for("blue's Prometheus figures within thresholds", lambda: clean_after_traffic(short), 30)
        run = run_gate(short, "immediate", FILE, "-k", "prometheus")
        assert run.partial_go, run.record["reasons"]
        noted = run.check("test_error_ratio_prometheus")["facts"]["prometheus"]
        assert (noted["preset"], noted["preset_from"]) == (
            "micrometer", "detected: http_server_requests_seconds_count{status}"), noted
        sandbox_command("fault", "blue", "--error-rate", "0.2")
        run = run_gate(short, "immediate", FILE, "-k", "error_ratio_prometheus")
        assert run.code == 2
        check = run.check("test_error_ratio_prometheus")
        assert check["outcome"] == "failed" and "exceeds 0.0010 (thresholds.error_rate)" in check["message"], check
    finally:
        sandbox_command("up", "--config-out", str(sandbox))
    assert json.loads((state_dir() / "state.json").read_text())["app_options"]["metrics"] == "golive"
    assert 'http_requests_total{method="GET",path="/health",status="200"}' in httpx.get(
        f"http://{c.HOST}:{c.BLUE_PORT}/metrics").text


def test_worker_stopped_fails_consumers_and_the_synthetic_transaction(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "w.yaml", {"thresholds.synthetic_deadline_s": 2})
    sandbox_command("fault", "blue", "--stop-worker")
    run = run_gate(config, "immediate", FILE, "-k", "consumers or synthetic")
    assert run.code == 2
    assert run.check("test_queues_have_consumers")["message"] == (
        f"rabbitmq {c.HOST}:{c.AMQP_PORT}/{c.VHOST}: agent.tasks has 0 consumer(s), expected at least 1 "
        "(rabbitmq.queues.<name>.min_consumers)"
    )
    synthetic = run.check("test_synthetic_transaction")
    assert synthetic["outcome"] == "failed"
    assert re.fullmatch(
        rf"synthetic transaction through http://{c.HOST}:{c.BLUE_PORT} \(golive-synthetic-[0-9a-f]{{32}}\): "
        r"step 'consumed' did not happen: `SELECT status FROM tasks WHERE id = %\(id\)s` \(id \d+\) returned "
        r"'queued', not 'done', within 2s \(thresholds\.synthetic_deadline_s\); "
        r"cleanup: DELETE /api/tasks/\d+ answered 200",
        synthetic["message"],
    ), synthetic["message"]
    assert synthetic_leftovers() == 0  # cleaned up although the check failed


def test_flooded_queue_is_no_go_through_its_missing_consumer(sandbox, run_gate):
    """A flood (fill-queue stops the worker): Gate 2 blocks on the consumers; depth vs max_messages is Gate 3's."""
    sandbox_command("helper", "fill-queue", "--count", "1500")
    run = run_gate(sandbox, "immediate", FILE, "-k", "consumers")
    assert run.code == 2
    assert "agent.tasks has 0 consumer(s), expected at least 1" in run.check("test_queues_have_consumers")["message"]


def test_poison_messages_grow_the_dead_letter_queue(sandbox, run_gate, tmp_path):
    reports = tmp_path / "reports"
    gate1_baseline(sandbox, reports)
    sandbox_command("helper", "poison", "--count", "5")
    wait_for("5 dead-lettered", lambda: dlq_depth() >= 5)
    run = run_gate(sandbox, "immediate", FILE, "-k", "dead_letter", reports=reports)
    assert run.code == 2
    check = run.check("test_dead_letter_queues_not_growing")
    assert check["outcome"] == "failed" and check["severity"] == "critical"
    assert check["message"] == (
        f"rabbitmq {c.HOST}:{c.AMQP_PORT}/{c.VHOST}: agent.tasks.dlq has 5 messages, 5 more than at Gate 1 (0); "
        "allowed growth 0 (thresholds.dlq_growth)"
    )


def test_missing_baseline_is_review(sandbox, run_gate, tmp_path):
    """No baseline of this live environment, only one an earlier golive wrote without saying what it measured:
    never used, a REVIEW saying to run Gate 1 again."""
    reports = tmp_path / "reports"
    legacy = reports / "baseline-2.1.0.json"
    reports.mkdir()
    legacy.write_text(json.dumps({"release": "2.1.0", "environment": "green", "http": {"p95_ms": 1.0}}))
    run = run_gate(sandbox, "immediate", FILE, "-k", "baseline or dead_letter", reports=reports)
    assert run.code == 1, run.record["reasons"]
    path, live = baseline_of(sandbox, reports)
    expected = (f"no Gate 1 baseline of {live} at {path}; {legacy} was saved by an earlier golive without the live "
                "environment's identity, so it is not used: run Gate 1 again")  # fmt: skip
    for name in ("test_p95_within_baseline", "test_error_ratio_within_baseline", "test_dead_letter_queues_not_growing"):
        check = run.check(name)
        assert (check["outcome"], check["severity"], check["message"]) == ("failed", "warning", expected), check


def test_the_50_percent_step(sandbox, run_gate):
    """With --golive-phase 50: weights 50/50 and traffic on both versions pass; weights 0/100 fail."""
    sandbox_command("helper", "cutover", "--blue", "50")
    run = run_gate(sandbox, "immediate", STEP_FILE, "--golive-phase", "50")
    assert run.partial_go, run.record["reasons"]
    assert run.outcomes() == {"test_weights_half_and_half": "passed", "test_traffic_reaches_both_versions": "passed"}
    assert run.check("test_weights_half_and_half")["component"] == "load_balancer"

    sandbox_command("helper", "cutover", "--clear")  # back to blue 0, green 100
    run = run_gate(sandbox, "immediate", STEP_FILE, "--golive-phase", "50")
    assert run.code == 2
    weights = run.check("test_weights_half_and_half")["message"]
    assert weights.startswith("load balancer arn:aws:elasticloadbalancing:")
    assert weights.endswith("weights blue 0 (0%), green 100 (100%); expected blue 50%, green 50% (cutover step 50)")
    traffic = run.check("test_traffic_reaches_both_versions")["message"]
    assert re.fullmatch(
        rf"100 requests through http://{c.HOST}:{c.HAPROXY_PORT}/health answered 2\.0\.5: 100: blue \(2\.1\.0\) 0%, "
        r"green \(2\.0\.5\) 100%; expected 50% each within 15% \(thresholds\.traffic_tolerance\)",
        traffic,
    ), traffic
