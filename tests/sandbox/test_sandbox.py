"""The sandbox on this machine's real services: lifecycle, every endpoint, every fault switch and helper.

One sandbox for the module (brought up through ``golive.sandbox.cli.main`` and always brought down, even when
a test fails); the last test brings it down itself and checks that no process is left. With pytest-xdist,
run them with ``--dist loadfile``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pika
import psycopg
import pytest
import redis
import yaml

from golive.sandbox import constants as c
from golive.sandbox import manager as sandbox_manager
from golive.sandbox import processes
from golive.sandbox.cli import main
from tests.support.polling import wait_for

# One sandbox per machine, and faults change it for everyone: under xdist these tests need one worker
# (`--dist loadfile`; the group mark is for `--dist loadgroup`, which does not group here with xdist 3.8).
pytestmark = pytest.mark.xdist_group("golive-sandbox")

TIMEOUT = httpx.Timeout(5.0)
BLUE = f"http://{c.HOST}:{c.BLUE_PORT}"
GREEN = f"http://{c.HOST}:{c.GREEN_PORT}"


def queue_counts(queue: str) -> tuple[int, int]:
    params = pika.URLParameters(c.AMQP_URL)
    params.socket_timeout = 3
    params.connection_attempts = 1
    connection = pika.BlockingConnection(params)
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        return declared.method.message_count, declared.method.consumer_count
    finally:
        connection.close()


def aws(service: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=f"http://{c.HOST}:{c.MOTO_PORT}",
        aws_access_key_id="golive-sandbox",
        aws_secret_access_key="golive-sandbox",
    )


def state() -> dict[str, Any]:
    return dict(json.loads((sandbox_manager.state_dir() / "state.json").read_text()))


def run(*argv: str) -> int:
    return main(list(argv))


@pytest.fixture(scope="module")
def sandbox(sandbox_session: Path) -> Iterator[Path]:
    """This module's own sandbox lifecycle, inside the session's turn at the machine's one sandbox."""
    config = sandbox_session
    try:
        started = time.monotonic()
        assert run("up", "--config-out", str(config)) == 0
        print(f"cold up: {time.monotonic() - started:.1f} s")
        yield config
    finally:
        run("down")


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT) as http:
        yield http


# --- prerequisites and lifecycle ------------------------------------------------------------------------


def test_a_missing_prerequisite_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no haproxy, no prometheus on this PATH
    # The machine's sandbox may be running (the sandbox tests beside this one): a refused `up` leaves it as it is.
    state_file = sandbox_manager.state_dir() / "state.json"
    before = state_file.read_bytes() if state_file.exists() else None
    assert run("up", "--config-out", str(tmp_path / "out.yaml")) == 2
    assert (state_file.read_bytes() if state_file.exists() else None) == before
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "haproxy not found: run `apt-get install -y haproxy`" in err
    assert not (tmp_path / "out.yaml").exists()


def test_up_twice_is_idempotent(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = state()["processes"]
    config_before = sandbox.read_text()
    started = time.monotonic()
    assert run("up", "--config-out", str(sandbox)) == 0
    print(f"warm up: {time.monotonic() - started:.1f} s")
    assert "everything was already running" in capsys.readouterr().out
    assert state()["processes"] == before
    assert sandbox.read_text() == config_before
    assert set(before) == set(sandbox_manager.SERVICES)


def test_status_reports_every_piece_up(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("status") == 0
    out = capsys.readouterr().out
    for name in sandbox_manager.SERVICES:
        assert re.search(rf"^{name}\s+\d+\s+\S+\s+up$", out, re.MULTILINE), out


def test_up_restarts_a_crashed_piece_and_clears_faults(sandbox: Path, client: httpx.Client) -> None:
    assert run("fault", "green", "--crash", "--latency-ms", "50") == 0
    assert run("helper", "haproxy-weights", "--blue", "100", "--green", "0") == 0
    assert run("up", "--config-out", str(sandbox)) == 0
    assert client.get(f"{GREEN}/health").status_code == 200
    assert not sandbox_manager.Paths(sandbox_manager.state_dir()).fault_file("green").exists()
    manager = sandbox_manager.Manager()
    assert (manager.haproxy_weight("blue"), manager.haproxy_weight("green")) == (0, 100)


# --- the configuration ----------------------------------------------------------------------------------


def test_config_has_exactly_the_contract_keys(sandbox: Path) -> None:
    config = yaml.safe_load(sandbox.read_text())
    assert list(config) == [
        "release", "environments", "http", "thresholds", "postgres", "rabbitmq", "redis", "prometheus",
        "load_balancer", "aws", "synthetic", "security", "deploy", "attestations", "rollback_triggers", "cutover",
    ]  # fmt: skip
    # The runbook's automatic rollback triggers, and its cutover plan (the default steps) over the ALB and DNS.
    assert config["rollback_triggers"] == {"error_rate": {"above": 0.10, "for_s": 30},
                                           "p95_ms": {"above": 2000, "for_s": 30},
                                           "database_down": {"for_s": 10}, "crash": {"for_s": 0}}  # fmt: skip
    assert config["cutover"] == {"interval_s": 1.0, "dns": {"set_identifiers": {"blue": "blue", "green": "green"}}}
    assert config["release"] == {
        "version": "2.1.0", "previous": "2.0.5", "repository": str(sandbox_manager.state_dir() / "release-repo"),
        "tag_format": "v{version}",
    }  # fmt: skip
    for env, role in (("blue", "candidate"), ("green", "live")):
        section = config["environments"][env]
        assert set(section) == {"url", "role", "host", "process", "log_file", "env_file", "required_env"}
        assert section["role"] == role and section["host"] == "local://"
        assert Path(section["log_file"]).exists()
        running = [pid for pid in processes.processes_mentioning(section["process"])]
        assert running == [state()["processes"][env]["pid"]], "process substring must match exactly its app"
    assert set(config["http"]) == {"timeout_s", "verify_tls", "health_path", "endpoints", "integrations"}
    assert {e["path"] for e in config["http"]["endpoints"]} == {
        "/api/agents", "/api/messages", "/api/status", "/api/health"
    }  # fmt: skip
    assert set(config["thresholds"]) == {"error_rate", "p95_ms", "cert_min_days"}
    assert set(config["postgres"]) == {"dsn", "replicas", "schema_version", "integrity", "business_metrics"}
    assert set(config["postgres"]["integrity"]) == {"tables", "invariants", "immutable_tables"}
    assert set(config["rabbitmq"]) == {"url", "management_url", "queues"}
    assert set(config["redis"]) == {"url", "min_hit_rate"}
    assert set(config["prometheus"]) == {"url", "jobs", "window", "alert_rules"}
    assert set(config["load_balancer"]) == {"kind", "listener_arn", "target_groups", "front_url"}
    assert set(config["synthetic"]) == {
        "post_path", "body", "id_field", "sql", "done_value", "get_path", "delete_path"
    }  # fmt: skip
    assert set(config["aws"]) == {
        "region", "endpoint_url", "secrets", "backups", "image", "alarms", "log_groups", "dns"
    }  # fmt: skip
    assert set(config["aws"]["dns"]) == {"zone_id", "record"}
    assert set(config["security"]) == {"source_paths"}
    assert set(config["deploy"]) == {"host", "commands", "files"}
    # The engine's own loader accepts it (unknown keys would be errors there).
    from golive.config import load_settings

    load_settings(sandbox, "test")


def test_config_points_at_live_data(sandbox: Path) -> None:
    config = yaml.safe_load(sandbox.read_text())
    for dsn in (config["postgres"]["dsn"], *config["postgres"]["replicas"]):
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            row = conn.execute(config["postgres"]["schema_version"]["query"].encode()).fetchone()
            assert row == ("2.1.0",)
            for invariant in config["postgres"]["integrity"]["invariants"]:
                assert conn.execute(invariant["sql"].encode()).fetchall() == [], invariant["name"]
            for metric in config["postgres"]["business_metrics"]:
                assert conn.execute(metric["sql"].encode()).fetchone()[0] >= metric["min"], metric["name"]
    for integration in config["http"]["integrations"]:
        assert httpx.get(integration["url"], timeout=TIMEOUT).status_code in integration["expect"], integration["name"]
    s3 = aws("s3")
    backups = config["aws"]["backups"]
    objects = s3.list_objects_v2(Bucket=backups["bucket"], Prefix=backups["prefix"])["Contents"]
    assert any(o["Size"] > 0 and o["LastModified"] > datetime.now(UTC) - timedelta(hours=24) for o in objects)
    for tag in ("2.0.5", "2.1.0"):
        aws("ecr").describe_images(repositoryName="orchestrator", imageIds=[{"imageTag": tag}])
    for secret in config["aws"]["secrets"]:
        aws("secretsmanager").describe_secret(SecretId=secret)
    states = {a["AlarmName"]: a["StateValue"] for a in aws("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert {name: states.get(name) for name in config["aws"]["alarms"]} == dict.fromkeys(config["aws"]["alarms"], "OK")
    prometheus = config["prometheus"]["url"]
    targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=TIMEOUT).json()["data"]["activeTargets"]
    assert {t["labels"]["job"] for t in targets} == {"orchestrator-blue", "orchestrator-green"}
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=TIMEOUT).json()["data"]["groups"]
    assert {"OrchestratorHighErrorRate", "OrchestratorHighLatency", "OrchestratorDown"} <= {
        rule["name"] for group in rules for rule in group["rules"]
    }


# --- endpoints ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("base", "version"), [(BLUE, "2.1.0"), (GREEN, "2.0.5")])
def test_health_answers_every_field(sandbox: Path, client: httpx.Client, base: str, version: str) -> None:
    response = client.get(f"{base}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["version"] == version
    assert isinstance(body["uptime"], int | float) and body["uptime"] >= 0
    assert (body["database"], body["rabbitmq"], body["redis"]) == ("ok", "ok", "ok")


def test_every_endpoint_answers(sandbox: Path, client: httpx.Client) -> None:
    for base in (BLUE, GREEN):
        assert client.get(f"{base}/ready").json()["ready"] is True
        assert client.get(f"{base}/version").json()["version"] in ("2.1.0", "2.0.5")
        agents = client.get(f"{base}/api/agents")
        assert agents.status_code == 200 and {a["name"] for a in agents.json()["agents"]} >= {"planner", "coder"}
        messages = client.get(f"{base}/api/messages")
        assert messages.status_code == 200 and messages.json()["messages"]
        status = client.get(f"{base}/api/status")
        assert status.status_code == 200 and status.json()["schema_version"] == "2.1.0"
        assert client.get(f"{base}/api/health").json()["status"] == "ok"
    # Through HAProxy (green 100, blue 0): green answers.
    assert client.get(f"http://{c.HOST}:{c.HAPROXY_PORT}/version").json()["version"] == "2.0.5"


_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>[0-9.e+-]+|\+Inf)$")


def test_metrics_exposition_parses(sandbox: Path, client: httpx.Client) -> None:
    client.get(f"{BLUE}/api/agents")
    text = client.get(f"{BLUE}/metrics").text
    samples: list[tuple[str, dict[str, str], float]] = []
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ ", line), line
            continue
        match = _SAMPLE.match(line)
        assert match, f"unparsable sample line: {line!r}"
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        samples.append((match["name"], labels, float(match["value"])))
    assert any(
        n == "http_requests_total" and lab.get("path") == "/api/agents" and lab.get("status") == "200" and v >= 1
        for n, lab, v in samples
    )
    buckets = [(lab["le"], v) for n, lab, v in samples if n == "http_request_duration_seconds_bucket"
               and lab["path"] == "/api/agents"]  # fmt: skip
    values = [v for _le, v in buckets]
    assert values == sorted(values) and buckets[-1][0] == "+Inf"
    count = next(
        v for n, lab, v in samples if n == "http_request_duration_seconds_count" and lab["path"] == "/api/agents"
    )
    assert buckets[-1][1] == count


def test_a_posted_task_gets_a_worker_result(sandbox: Path, client: httpx.Client) -> None:
    response = client.post(f"{BLUE}/api/tasks", json={"agent": "coder", "payload": {"ticket": 42}, "priority": 2})
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]

    def result() -> Any:
        with psycopg.connect(c.PRIMARY_DSN, connect_timeout=3) as conn:
            return conn.execute("SELECT worker FROM task_results WHERE task_id = %s", (task_id,)).fetchone()

    wait_for(f"result row for task {task_id}", result, 10)
    # The worker commits the row first and caches the result after: wait for the key too.
    cache = redis.Redis.from_url(c.REDIS_URL, socket_timeout=3)
    cached = wait_for(f"cached result of task {task_id}", lambda: cache.get(f"{c.REDIS_PREFIX}result:{task_id}"), 10)
    assert json.loads(cached)["task_id"] == task_id
    # Green (2.0.5) does not know the priority column and still works on the migrated schema.
    assert client.post(f"{GREEN}/api/tasks", json={"agent": "planner"}).status_code == 202


def test_a_task_can_be_read_and_deleted(sandbox: Path, client: httpx.Client) -> None:
    task_id = client.post(f"{BLUE}/api/tasks", json={"agent": "planner", "payload": {"n": 1}}).json()["task_id"]
    url = f"{BLUE}/api/tasks/{task_id}"
    wait_for(f"task {task_id} done", lambda: client.get(url).json().get("status") == "done", 10)
    task = client.get(url).json()
    assert task["agent"] == "planner" and task["payload"] == {"n": 1} and task["result"]["task_id"] == task_id
    assert client.delete(url).status_code == 200
    assert client.get(url).status_code == 404 and client.delete(url).status_code == 404
    with psycopg.connect(c.PRIMARY_DSN, connect_timeout=3) as conn:
        assert conn.execute("SELECT count(*) FROM task_results WHERE task_id = %s", (task_id,)).fetchone() == (0,)


def test_a_task_deleted_before_it_ran_is_skipped_not_dead_lettered(sandbox: Path, client: httpx.Client) -> None:
    assert run("fault", "blue", "--stop-worker") == 0
    task_id = client.post(f"{BLUE}/api/tasks", json={"agent": "planner"}).json()["task_id"]
    assert client.delete(f"{BLUE}/api/tasks/{task_id}").status_code == 200
    assert queue_counts(c.TASK_QUEUE)[0] >= 1
    assert run("fault", "blue", "--clear") == 0  # restarts the worker
    wait_for("agent.tasks drained", lambda: queue_counts(c.TASK_QUEUE)[0] == 0, 10)
    assert queue_counts(c.DEAD_LETTER_QUEUE)[0] == 0


def test_poison_tasks_dead_letter(sandbox: Path) -> None:
    assert run("helper", "poison", "--count", "3") == 0
    wait_for("3 messages in agent.tasks.dlq", lambda: queue_counts(c.DEAD_LETTER_QUEUE)[0] >= 3)
    assert run("helper", "poison", "--clear") == 0
    assert queue_counts(c.DEAD_LETTER_QUEUE)[0] == 0


# --- fault switches -------------------------------------------------------------------------------------


def test_error_rate_fault(sandbox: Path, client: httpx.Client) -> None:
    assert run("fault", "blue", "--error-rate", "0.5") == 0
    try:
        codes = [client.get(f"{BLUE}/api/agents").status_code for _ in range(40)]
        assert 14 <= codes.count(500) <= 26, codes  # 0.5 of 40, give or take HAProxy's health checks
        assert set(codes) == {200, 500}
        assert client.get(f"{GREEN}/api/agents").status_code == 200  # green is untouched
    finally:
        assert run("fault", "blue", "--clear") == 0
    assert all(client.get(f"{BLUE}/api/agents").status_code == 200 for _ in range(10))


def test_latency_fault(sandbox: Path, client: httpx.Client) -> None:
    assert run("fault", "blue", "--latency-ms", "300") == 0
    try:
        started = time.monotonic()
        assert client.get(f"{BLUE}/api/status").status_code == 200
        assert time.monotonic() - started >= 0.3
    finally:
        assert run("fault", "blue", "--clear") == 0

    def timed() -> float:
        started = time.monotonic()
        client.get(f"{BLUE}/api/status")
        return time.monotonic() - started

    # The fastest of three (one request can stall on a busy machine; a 300 ms sleep in each cannot hide).
    assert min(timed() for _ in range(3)) < 0.3


def test_crash_fault(sandbox: Path, client: httpx.Client) -> None:
    assert run("fault", "blue", "--crash") == 0
    with pytest.raises(httpx.ConnectError):  # a fresh connection: refused
        httpx.get(f"{BLUE}/health", timeout=TIMEOUT)
    assert run("status") == 1
    assert run("fault", "blue", "--clear") == 0
    assert client.get(f"{BLUE}/health").status_code == 200


def test_stop_worker_fault(sandbox: Path) -> None:
    assert run("fault", "blue", "--stop-worker") == 0
    # `fault` returns once the broker has dropped the worker's consumer, and `--clear` once a new one consumes.
    assert queue_counts(c.TASK_QUEUE)[1] == 0
    assert run("fault", "blue", "--clear") == 0
    assert queue_counts(c.TASK_QUEUE)[1] == 1


# --- infrastructure helpers -----------------------------------------------------------------------------


def _standby_lag_bytes() -> int:
    with psycopg.connect(c.STANDBY_DSN, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint"
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def test_pause_replay_makes_lag(sandbox: Path) -> None:
    assert run("helper", "pause-replay") == 0
    try:
        with psycopg.connect(c.PRIMARY_DSN, connect_timeout=3, autocommit=True) as conn:
            conn.execute("INSERT INTO messages (agent_id, role, content) VALUES (1, 'user', 'lag probe')")
        wait_for("standby replay lag > 0 bytes", lambda: _standby_lag_bytes() > 0, 10)
    finally:
        assert run("helper", "pause-replay", "--clear") == 0
    wait_for("standby caught up", lambda: _standby_lag_bytes() == 0, 10)


def test_fill_queue(sandbox: Path) -> None:
    assert run("helper", "fill-queue", "--count", "1200") == 0
    messages, consumers = queue_counts(c.TASK_QUEUE)
    assert messages >= 1200 and consumers == 0
    assert run("helper", "fill-queue", "--clear") == 0
    assert queue_counts(c.TASK_QUEUE) == (0, 1)


def test_alb_weights(sandbox: Path) -> None:
    assert run("helper", "alb-weights", "--blue", "30", "--green", "70") == 0
    listener_arn = yaml.safe_load(sandbox.read_text())["load_balancer"]["listener_arn"]

    def weights() -> list[int]:
        listener = aws("elbv2").describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
        groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        return sorted(int(group["Weight"]) for group in groups)

    assert weights() == [30, 70]
    assert run("helper", "alb-weights", "--clear") == 0
    assert weights() == [0, 100]


def test_haproxy_weights(sandbox: Path) -> None:
    manager = sandbox_manager.Manager()
    assert run("helper", "haproxy-weights", "--blue", "100", "--green", "0") == 0
    assert (manager.haproxy_weight("blue"), manager.haproxy_weight("green")) == (100, 0)
    assert run("helper", "haproxy-weights", "--clear") == 0
    assert (manager.haproxy_weight("blue"), manager.haproxy_weight("green")) == (0, 100)


def test_cutover_moves_alb_and_haproxy_together(sandbox: Path) -> None:
    manager = sandbox_manager.Manager()
    config = yaml.safe_load(sandbox.read_text())["load_balancer"]
    by_arn = {arn: env for env, arn in config["target_groups"].items()}

    def weights() -> dict[str, tuple[int, int]]:
        listener = aws("elbv2").describe_listeners(ListenerArns=[config["listener_arn"]])["Listeners"][0]
        groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        alb = {by_arn[group["TargetGroupArn"]]: int(group["Weight"]) for group in groups}
        return {env: (alb[env], manager.haproxy_weight(env)) for env in ("blue", "green")}

    assert run("helper", "cutover", "--blue", "50") == 0
    assert weights() == {"blue": (50, 50), "green": (50, 50)}
    assert run("helper", "cutover", "--blue", "100") == 0
    assert weights() == {"blue": (100, 100), "green": (0, 0)}
    assert run("helper", "cutover", "--clear") == 0
    assert weights() == {"blue": (0, 0), "green": (100, 100)}
    assert run("helper", "cutover") == 2  # neither --blue nor --clear


def test_cloudwatch_alarm_state(sandbox: Path) -> None:
    assert run("helper", "alarm-state", "orchestrator-5xx") == 0

    def state_of(name: str) -> str:
        return str(aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])

    assert state_of("orchestrator-5xx") == "ALARM"
    assert run("helper", "alarm-state", "--clear") == 0
    assert state_of("orchestrator-5xx") == "OK"


def test_memory_alarm(sandbox: Path) -> None:
    def alarms_status() -> int:
        return httpx.get(
            f"{c.MANAGEMENT_URL}/api/health/checks/alarms", auth=("guest", "guest"), timeout=TIMEOUT
        ).status_code

    assert run("helper", "memory-alarm") == 0
    try:
        wait_for("memory alarm on the health-check endpoint", lambda: alarms_status() == 503, 10)
    finally:
        assert run("helper", "memory-alarm", "--clear") == 0
    wait_for("memory alarm gone", lambda: alarms_status() == 200, 10)
    assert "rabbitmq_watermark" not in state()["restore"]


def test_redis_maxmemory(sandbox: Path) -> None:
    cache = redis.Redis.from_url(c.REDIS_URL, socket_timeout=3)
    original = cache.config_get("maxmemory")["maxmemory"]
    assert run("helper", "redis-maxmemory") == 0
    try:
        shrunk = int(cache.config_get("maxmemory")["maxmemory"])
        used = int(cache.info("memory")["used_memory"])
        assert shrunk > 0 and used / shrunk > 0.8
    finally:
        assert run("helper", "redis-maxmemory", "--clear") == 0
    assert cache.config_get("maxmemory")["maxmemory"] == original


def test_age_backup(sandbox: Path) -> None:
    def newest() -> datetime:
        objects = aws("s3").list_objects_v2(Bucket=sandbox_manager.BUCKET, Prefix="postgres/")["Contents"]
        return max(o["LastModified"] for o in objects)

    assert run("helper", "age-backup", "--hours", "48") == 0
    assert newest() < datetime.now(UTC) - timedelta(hours=47)
    assert run("helper", "age-backup", "--clear") == 0
    assert newest() > datetime.now(UTC) - timedelta(hours=1)


def test_dns_ttl(sandbox: Path) -> None:
    dns = yaml.safe_load(sandbox.read_text())["aws"]["dns"]

    def ttls() -> dict[str, int]:
        sets = aws("route53").list_resource_record_sets(HostedZoneId=dns["zone_id"])["ResourceRecordSets"]
        return {r["SetIdentifier"]: r["TTL"] for r in sets if r["Name"] == dns["record"]}

    assert ttls() == {"blue": 60, "green": 60}
    assert run("helper", "dns-ttl", "--ttl", "300") == 0
    assert ttls() == {"blue": 300, "green": 300}
    assert run("up", "--config-out", str(sandbox)) == 0
    assert ttls() == {"blue": 60, "green": 60}


def test_image_findings(sandbox: Path) -> None:
    def counts() -> dict[str, int]:
        answer = aws("ecr").describe_image_scan_findings(repositoryName="orchestrator", imageId={"imageTag": "2.1.0"})
        assert answer["imageScanStatus"]["status"] == "COMPLETE"
        return dict(answer["imageScanFindings"]["findingSeverityCounts"])

    assert counts() == sandbox_manager.CLEAN_SCAN_COUNTS
    assert run("helper", "image-findings", "--critical", "3") == 0
    assert counts() == {"CRITICAL": 3, "HIGH": 0}
    assert run("up", "--config-out", str(sandbox)) == 0
    assert counts() == sandbox_manager.CLEAN_SCAN_COUNTS


def test_alb_target_group(sandbox: Path) -> None:
    arn = yaml.safe_load(sandbox.read_text())["load_balancer"]["target_groups"]["blue"]

    def seen() -> tuple[int, str]:
        elbv2 = aws("elbv2")
        targets = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return len(targets), elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["HealthCheckPath"]

    assert seen() == (1, "/health")
    assert run("helper", "alb-target-group", "blue", "--deregister", "--health-check-path", "/") == 0
    assert seen() == (0, "/")
    assert run("helper", "alb-target-group", "blue", "--clear") == 0
    assert seen() == (1, "/health")


def test_release_repository_has_a_tag_per_release(sandbox: Path) -> None:
    import subprocess

    repository = yaml.safe_load(sandbox.read_text())["release"]["repository"]
    tags = subprocess.run(["git", "-C", repository, "tag", "--list"], capture_output=True, text=True, timeout=10)
    assert tags.stdout.split() == ["v2.0.5", "v2.1.0"]


# --- down -----------------------------------------------------------------------------------------------


def test_down_leaves_no_process(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded = [processes.ProcessRecord.from_json(r) for r in state()["processes"].values()]
    assert len(recorded) == len(sandbox_manager.SERVICES)
    started = time.monotonic()
    assert run("down") == 0
    print(f"down: {time.monotonic() - started:.1f} s")
    assert [r.pid for r in recorded if processes.is_alive(r)] == []
    for record in recorded:  # PostgreSQL backends, HAProxy workers: every group member is gone too
        assert processes.group_members(record.pid) == []
    assert processes.processes_mentioning(str(sandbox_manager.state_dir())) == []
    assert processes.processes_mentioning("golive.sandbox.") == []
    assert state()["processes"] == {}
    assert os.environ.get("PATH")  # the helpers above did not leak environment changes
    assert run("status") == 1
