"""Gate 1, infrastructure readiness: each check passes on the healthy sandbox and fails on its broken condition."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import httpx
import pytest

from golive.sandbox import constants as c
from tests.canned_http import CannedHTTP, self_signed
from tests.support.gates import (
    baseline_of,
    gate1_baseline,
    minimal_config,
    sandbox_command,
    variant,
)
from tests.support.polling import wait_for

FILE = "validations/test_infrastructure.py"
AUTOMATED = "not test_signed"


def test_healthy_sandbox_passes_every_infrastructure_check(sandbox, run_gate, tmp_path):
    run = run_gate(sandbox, "pre", FILE, "-k", AUTOMATED)
    outcomes = run.outcomes()
    assert outcomes.pop("test_tls_certificates_valid") == "skipped"  # the sandbox serves no https
    assert run.check("test_tls_certificates_valid")["message"] == "not configured: https endpoints"
    assert set(outcomes.values()) == {"passed"}, outcomes
    assert set(outcomes) == {
        "test_candidate_answers", "test_live_is_healthy_on_the_previous_release", "test_live_baseline_captured",
        "test_dependencies_reported_ok[candidate]", "test_dependencies_reported_ok[live]",
        "test_load_balancer_health_checks_configured", "test_dns_ttl_low_for_switchover",
        "test_prometheus_scrapes_candidate", "test_backups_recent_and_not_empty",
    }  # fmt: skip
    assert run.partial_go
    assert run.check("test_candidate_answers")["severity"] == "critical"
    assert run.check("test_load_balancer_health_checks_configured")["component"] == "load_balancer"
    assert run.check("test_dependencies_reported_ok[live]")["component"] == "http"

    # The baseline for later gates: green's latency and error ratio, row counts, queue depths.
    path, _live = baseline_of(sandbox, tmp_path / "reports-0")
    baseline = json.loads(path.read_text())
    assert run.check("test_live_baseline_captured")["facts"]["baseline"]["path"] == str(path)
    assert baseline["environment"] == "green" and baseline["expected_version"] == "2.0.5"
    sample = baseline["http"]
    assert sample["completed"] == sample["requested"] == 100 and sample["errors"] == 0
    assert 0 < sample["p50_ms"] <= sample["p95_ms"] <= sample["p99_ms"]
    assert set(baseline["row_counts"]) == {"agents", "messages", "tasks"} and baseline["row_counts"]["agents"] > 0
    assert set(baseline["queue_depths"]) == {"agent.tasks", "agent.tasks.dlq"}
    assert baseline["queue_depths"]["agent.tasks"]["consumers"] >= 1
    # For Gate 3: checksums of the immutable tables and the business metrics' values.
    assert set(baseline["table_checksums"]) == {"agents"} and len(baseline["table_checksums"]["agents"]) == 32
    assert baseline["business_metrics"]["agents registered"] == baseline["row_counts"]["agents"]


def test_blue_down_is_no_go(sandbox, run_gate):
    """Must show: blue's app down alone turns Gate 1 into a NO-GO."""
    sandbox_command("fault", "blue", "--crash")
    # Prometheus notices at its next scrape (every 2 s): wait for it so the scrape check sees it too.
    wait_for("prometheus marks blue down", lambda: _blue_scrape_health() == "down")
    run = run_gate(sandbox, "pre")
    assert run.code == 2
    answers = run.check("test_infrastructure.py::test_candidate_answers")
    assert answers["outcome"] == "error" and answers["severity"] == "critical"  # could not look: an error
    assert f"http at http://{c.HOST}:{c.BLUE_PORT}/health: cannot connect" in answers["message"]
    assert run.check("test_dependencies_reported_ok[candidate]")["outcome"] == "error"
    assert run.check("test_dependencies_reported_ok[live]")["outcome"] == "passed"
    scrape = run.check("test_prometheus_scrapes_candidate")
    assert scrape["outcome"] == "failed"
    assert "job 'orchestrator-blue' (blue): 127.0.0.1:18001 down" in scrape["message"]


def test_green_answering_errors_fails_its_health_and_baseline(sandbox, run_gate):
    sandbox_command("fault", "green", "--error-rate", "1.0")
    run = run_gate(sandbox, "pre", FILE, "-k", "test_live")
    assert run.code == 2
    health = run.check("test_live_is_healthy_on_the_previous_release")
    assert health["outcome"] == "error"  # the 500 answer is not a health payload
    assert f"http at http://{c.HOST}:{c.GREEN_PORT}/health: HTTP 500" in health["message"]
    baseline = run.check("test_live_baseline_captured")
    assert baseline["outcome"] == "failed"
    # The API is sampled (the sandbox's GET endpoints), not its health path.
    assert "error ratio 1.0000 (100 of 100, e.g. GET /api/" in baseline["message"], baseline["message"]
    assert "GET /health:" not in baseline["message"] and "allowed 0.001" in baseline["message"]
    sampled = baseline["facts"]["sampling"]
    assert (sampled["environment"], sampled["chosen_by"]) == ("green", "http.endpoints"), sampled


BASELINE_CHECK = f"{FILE}::test_live_baseline_captured"


def test_gate1_that_cannot_measure_green_keeps_the_good_baseline_gate2_then_names(sandbox, run_gate, tmp_path):
    """Must show: a Gate 1 whose live environment answers errors saves nothing over the earlier good baseline, and
    Gate 2 compares with that good one, naming its path and when it was captured."""
    reports = tmp_path / "reports"
    path = gate1_baseline(sandbox, reports)
    good = path.read_bytes()
    captured_at = json.loads(good)["captured_at"]
    sandbox_command("fault", "green", "--error-rate", "1.0")
    gate1 = run_gate(sandbox, "pre", BASELINE_CHECK, reports=reports)
    check = gate1.check("test_live_baseline_captured")
    assert (check["outcome"], check["severity"]) == ("failed", "critical")
    assert "error ratio 1.0000 (100 of 100, " in check["message"]
    assert check["message"].endswith(f"; not saved: the earlier baseline captured {captured_at} stays in use ({path})")
    assert path.read_bytes() == good and sorted(p.name for p in reports.glob("baseline-*")) == [path.name]

    sandbox_command("fault", "green", "--clear")
    sandbox_command("fault", "blue", "--error-rate", "1.0")
    gate2 = run_gate(sandbox, "immediate", "validations/test_pre_cutover.py::test_error_ratio_within_baseline",
                     reports=reports)  # fmt: skip
    versus = gate2.check("test_error_ratio_within_baseline")
    assert versus["outcome"] == "failed" and versus["severity"] == "critical"
    assert f"exceeds the error ratio 0.0000 of the Gate 1 baseline of green at {path} (captured {captured_at}) by " \
        in versus["message"], versus["message"]
    assert versus["facts"]["baseline"] == {
        "path": str(path), "captured_at": captured_at, "environment": "green", "url": f"http://{c.HOST}:{c.GREEN_PORT}",
        "postgres": f"{c.HOST}:{c.PRIMARY_PORT}/{c.DATABASE}", "rabbitmq": f"{c.HOST}:{c.AMQP_PORT}/{c.VHOST}",
    }  # fmt: skip


def test_gate1_with_another_live_url_keeps_its_own_baseline(sandbox, run_gate, tmp_path):
    """Must show: Gate 1 with another configuration (the live URL through HAProxy) for the same release saves its
    own baseline and leaves the first configuration's in place, where that configuration's gates find it."""
    from golive import baseline
    from golive.config import load_settings

    reports = tmp_path / "reports"
    path = gate1_baseline(sandbox, reports)
    first = path.read_bytes()
    other_url = f"http://{c.HOST}:{c.HAPROXY_PORT}"
    other = variant(sandbox, tmp_path / "other.yaml", {"environments.green.url": other_url})
    run = run_gate(other, "pre", BASELINE_CHECK, reports=reports)
    assert run.check("test_live_baseline_captured")["outcome"] == "passed"
    other_path, other_live = baseline_of(other, reports)
    assert other_path != path and other_live.startswith(f"green ({other_url}, ")
    assert json.loads(other_path.read_text())["identity"]["url"] == other_url
    assert path.read_bytes() == first
    settings = load_settings(sandbox, "test")
    live = settings.environment_by_role("live")
    assert live is not None
    assert baseline.load(reports, "2.1.0", baseline.identity(live)) == json.loads(first)


def test_live_on_another_version_fails(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "v.yaml", {"release.previous": "2.0.4"})
    run = run_gate(config, "pre", FILE, "-k", "test_live_is_healthy")
    assert run.code == 2
    assert run.check("test_live_is_healthy_on_the_previous_release")["message"] == (
        f"green (http://{c.HOST}:{c.GREEN_PORT}/health) reports version '2.0.5'; expected '2.0.4'"
    )


def test_dependency_reported_down_fails(run_gate, tmp_path):
    health = {"status": "degraded", "version": "2.1.0", "database": "ok", "rabbitmq": "error: connection refused",
              "redis": "ok"}  # fmt: skip
    with CannedHTTP.everywhere(health, status=503) as server:
        url = server.url
        config = minimal_config(tmp_path / "c.yaml", {
            "environments.blue.url": url,
            "postgres": {"dsn": "postgresql://u@127.0.0.1:9/db"}, "rabbitmq": {"url": "amqp://u@127.0.0.1:9/"},
            "redis": {"url": "redis://127.0.0.1:9/0"},
        })  # fmt: skip
        run = run_gate(config, "pre", FILE, "-k", "test_dependencies_reported_ok and candidate")
    assert run.code == 1  # a warning: blue's own health check (critical) says the rest
    assert run.check("test_dependencies_reported_ok[candidate]")["message"] == (
        f"blue ({url}/health) reports rabbitmq 'error: connection refused'; expected each healthy"
    )


def test_health_check_on_the_wrong_path_fails(sandbox, run_gate):
    sandbox_command("helper", "alb-target-group", "blue", "--health-check-path", "/")
    run = run_gate(sandbox, "pre", FILE, "-k", "test_load_balancer_health_checks_configured")
    assert run.code == 1
    message = run.check("test_load_balancer_health_checks_configured")["message"]
    assert message.startswith("load balancer arn:aws:elasticloadbalancing:")
    assert message.endswith("blue: orchestrator-blue checks /, expected /health (http.health_path)")


def test_haproxy_servers_with_checks_pass(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "h.yaml", {"load_balancer": _haproxy_section()})
    run = run_gate(config, "pre", FILE, "-k", "test_load_balancer_health_checks_configured")
    assert run.partial_go, run.record["checks"]


def test_haproxy_server_without_health_check_fails(sandbox, run_gate, tmp_path):
    sandbox_command("helper", "haproxy-health", "blue")
    config = variant(sandbox, tmp_path / "h.yaml", {"load_balancer": _haproxy_section()})
    run = run_gate(config, "pre", FILE, "-k", "test_load_balancer_health_checks_configured")
    assert run.code == 1
    socket = _haproxy_section()["admin_socket"]
    assert run.check("test_load_balancer_health_checks_configured")["message"] == (
        f"load balancer {socket}: blue: be/blue has no health check"
    )


def test_dns_ttl_above_the_limit_fails(sandbox, run_gate):
    sandbox_command("helper", "dns-ttl", "--ttl", "300")
    run = run_gate(sandbox, "pre", FILE, "-k", "test_dns_ttl_low_for_switchover")
    assert run.code == 1
    message = run.check("test_dns_ttl_low_for_switchover")["message"]
    assert message.endswith(
        "api.orchestrator.sandbox. CNAME (blue) TTL 300s, api.orchestrator.sandbox. CNAME (green) TTL 300s; "
        "allowed 60s (thresholds.dns_max_ttl_s)"
    )


def test_certificates(run_gate, tmp_path):
    """No sandbox needed: local https servers with certificates valid 90 and 10 days."""
    with CannedHTTP.everywhere(tls=self_signed(tmp_path, 90)) as good_site, \
            CannedHTTP.everywhere(tls=self_signed(tmp_path, 10)) as expiring_site:  # fmt: skip
        good, expiring = good_site.url, expiring_site.url
        passing = minimal_config(tmp_path / "ok.yaml", {"security": {"public_urls": [good]}, "http.verify_tls": False})
        assert run_gate(passing, "pre", FILE, "-k", "test_tls").partial_go
        failing = variant(passing, tmp_path / "bad.yaml", {"security": {"public_urls": [good, expiring]}})
        run = run_gate(failing, "pre", FILE, "-k", "test_tls")
        # With verification on, the self-signed certificate is not trusted: the check fails, never passes.
        untrusted = variant(passing, tmp_path / "verify.yaml", {"http.verify_tls": True})
        strict = run_gate(untrusted, "pre", FILE, "-k", "test_tls")
    assert run.code == 1
    message = run.check("test_tls_certificates_valid")["message"]
    port = expiring.rsplit(":", 1)[1]
    assert message.startswith(f"127.0.0.1:{port} (CN=golive-test) expires ")
    assert "in 10.0 days; required more than 30 days (thresholds.cert_min_days)" in message
    assert strict.code == 1
    assert "certificate not trusted: self-signed certificate" in strict.check("test_tls_certificates_valid")["message"]


def test_stale_backup_is_no_go(sandbox, run_gate):
    """Must show: the newest S3 backup older than 24 h alone turns Gate 1 into a NO-GO."""
    sandbox_command("helper", "age-backup", "--hours", "30")
    run = run_gate(sandbox, "pre")
    assert run.code == 2
    check = run.check("test_backups_recent_and_not_empty")
    assert check["outcome"] == "failed" and check["severity"] == "critical"
    assert check["message"].startswith("newest backup s3://golive-sandbox-backups/postgres/golive_sandbox-")
    assert "is 30.0 h old" in check["message"] and check["message"].endswith("allowed 24 h (aws.backups.max_age_h)")


def test_empty_backup_fails(sandbox, run_gate):
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://{c.HOST}:{c.MOTO_PORT}",
                      aws_access_key_id="golive-sandbox", aws_secret_access_key="golive-sandbox")  # fmt: skip
    key = f"postgres/golive_sandbox-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-empty.dump"
    s3.put_object(Bucket="golive-sandbox-backups", Key=key, Body=b"")
    try:
        run = run_gate(sandbox, "pre", FILE, "-k", "test_backups")
    finally:
        s3.delete_object(Bucket="golive-sandbox-backups", Key=key)
    assert run.code == 2
    assert run.check("test_backups_recent_and_not_empty")["message"] == (
        f"newest backup s3://golive-sandbox-backups/{key} is empty (0 bytes)"
    )


def _blue_scrape_health() -> str | None:
    answer = httpx.get(f"http://{c.HOST}:{c.PROMETHEUS_PORT}/api/v1/targets", timeout=3).json()
    return next((t["health"] for t in answer["data"]["activeTargets"] if t["labels"]["job"] == "orchestrator-blue"),
                None)  # fmt: skip


def _haproxy_section() -> dict[str, object]:
    from golive.sandbox.manager import Paths, state_dir

    return {"kind": "haproxy", "admin_socket": str(Paths(state_dir()).haproxy_socket), "backend": "be",
            "servers": {"blue": "blue", "green": "green"}}  # fmt: skip


def test_sampling_counts_server_errors_and_percentiles():
    from golive.probes import sampling

    assert sampling.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0 and sampling.percentile([], 0.95) is None
    assert sampling.percentile([float(n) for n in range(1, 101)], 0.95) == 95.0
    with CannedHTTP.everywhere({"status": "error"}, status=503) as server:
        url = server.url
        sample = sampling.sample(url, ["/health", "/x"], requests=20, concurrency=4, max_duration_s=10, timeout_s=2)
    assert (sample.completed, sample.errors, sample.error_ratio, sample.truncated) == (20, 20, 1.0, False)
    assert set(sample.error_examples) == {"GET /health: HTTP 503", "GET /x: HTTP 503"}
    assert sample.p50_ms is not None and sample.p50_ms <= sample.p95_ms <= sample.p99_ms


def test_sampling_stops_at_max_duration(closed_port):
    from golive.probes import sampling

    sample = sampling.sample(f"http://127.0.0.1:{closed_port}", ["/"], requests=100_000, concurrency=2,
                             max_duration_s=0.3, timeout_s=1)  # fmt: skip
    assert sample.truncated and sample.errors == sample.completed > 0 and sample.p95_ms is None
    assert "cannot connect" in sample.error_examples[0]


def test_baseline_round_trip(tmp_path):
    from golive import baseline
    from golive.masking import Masker
    from golive.probes.errors import ProbeError

    green = {"environment": "green", "url": "http://127.0.0.1:18002", "postgres": None, "rabbitmq": None}
    elsewhere = {**green, "url": "http://127.0.0.1:28002"}
    reports = tmp_path / "reports"
    assert baseline.load(tmp_path, "2.1.0", green) is None
    path = baseline.save({"release": "2.1.0", "identity": green, "http": {"p95_ms": 12.5}}, reports, Masker())
    assert path == reports / f"baseline-2.1.0-{baseline.key(green)}.json" and len(baseline.key(green)) == 12
    assert baseline.load(reports, "2.1.0", green) == {"release": "2.1.0", "identity": green, "http": {"p95_ms": 12.5}}
    assert baseline.load(reports, "2.1.0", elsewhere) is None  # another live environment: another file
    # A file whose recorded identity is not the one its name stands for (edited, copied) is never used.
    baseline.path_for(reports, "2.1.0", elsewhere).write_text(path.read_text())
    with pytest.raises(ProbeError, match=r"a baseline of green \(http://127.0.0.1:18002\), not of green \(http://"):
        baseline.load(reports, "2.1.0", elsewhere)
    path.write_text("{")
    with pytest.raises(ProbeError, match="unreadable baseline"):
        baseline.load(reports, "2.1.0", green)


def test_the_baseline_is_written_through_the_masker_and_still_found(tmp_path):
    """Every string of the file passes the configuration's masker (a token in a sampled path, a secret quoted in an
    error example); an identity holding a value equal to a configured secret is written masked and still found."""
    from golive import baseline
    from golive.masking import Masker

    masker = Masker(["tok3n-value", "orders"])  # a password that happens to be the database's name
    green = {"environment": "green", "url": "http://127.0.0.1:18002", "postgres": "db:5432/orders", "rabbitmq": None}
    measured = {"release": "2.1.0", "identity": green,
                "http": {"paths": ["/health?token=tok3n-value"], "error_examples": ["401 at /v?key=tok3n-value"]}}
    path = baseline.save(measured, tmp_path, masker)
    text = path.read_text()
    assert "tok3n-value" not in text and "orders" not in text and "/health?token=***" in text
    assert measured["http"]["paths"] == ["/health?token=tok3n-value"]  # the caller's copy is left alone
    loaded = baseline.load(tmp_path, "2.1.0", green, masker)
    assert loaded is not None and loaded["identity"]["postgres"] == "db:5432/***"


def test_baseline_identity_is_the_live_environment_without_credentials(tmp_path):
    from golive import baseline
    from golive.config import load_settings

    config = minimal_config(tmp_path / "c.yaml", {
        "environments.green.url": "http://ops:s3cret@127.0.0.1:9",
        "postgres": {"dsn": "postgresql://app:pgs3cret@db.internal:5433/orders"},
    })  # fmt: skip
    live = load_settings(config, "test").environment_by_role("live")
    assert live is not None
    identity = baseline.identity(live)
    assert identity == {"environment": "green", "url": "http://ops:***@127.0.0.1:9",
                        "postgres": "db.internal:5433/orders", "rabbitmq": None}  # fmt: skip
    assert baseline.describe(identity) == "green (http://ops:***@127.0.0.1:9, postgres db.internal:5433/orders)"
