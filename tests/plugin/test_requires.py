"""Skips decided before fixtures: ``requires(KEY)`` makes a check whose configuration leaves its feature out
skip as not configured before any fixture connects, so a fault in a configured component never changes the skips."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from golive.config import key_paths, parse_settings

CONFIG = """\
release: {version: "2.1.0"}
environments:
  blue: {url: "http://127.0.0.1:18001", role: candidate}
  green: {url: "http://127.0.0.1:18002", role: live, rabbitmq: {queues: {work: {min_consumers: 1}}}}
postgres:
  dsn: "postgresql://postgres@127.0.0.1:5432/postgres"
  business_metrics: [{name: a, sql: "SELECT 1"}, {name: b, sql: "SELECT 2", max_drop_ratio: 0.5}]
rabbitmq: {url: "amqp://guest:guest@127.0.0.1:5672/%2F", queues: {work: {max_messages: 10}}}
"""


def test_configured_reads_the_environment_under_test_and_any_item():
    settings = parse_settings(CONFIG, Path("golive.yaml"), "test", {})
    blue, green = settings.environments["blue"], settings.environments["green"]
    assert settings.configured(blue, "postgres") and settings.configured(blue, "postgres.business_metrics")
    assert settings.configured(blue, "postgres.business_metrics[].max_drop_ratio")  # one item is enough
    assert not settings.configured(blue, "postgres.business_metrics[].min")
    assert not settings.configured(blue, "postgres.schema_version")  # None
    assert not settings.configured(blue, "postgres.replicas")  # an empty list
    assert not settings.configured(blue, "redis.min_hit_rate")  # the whole section is absent
    assert not settings.configured(blue, "synthetic")  # a top-level section, not an environment's
    # Per-environment sections are merged: green's queue has both policies, blue's only max_messages.
    assert not settings.configured(blue, "rabbitmq.queues[].min_consumers")
    assert settings.configured(green, "rabbitmq.queues[].min_consumers")
    assert settings.configured(green, "rabbitmq.queues[].max_messages")
    # environments[] is the environment under test, not any environment.
    assert settings.configured(green, "environments[].rabbitmq")
    assert not settings.configured(blue, "environments[].rabbitmq")
    with pytest.raises(ValueError, match=r"'postgres\.shema_version' names no configuration key"):
        settings.configured(blue, "postgres.shema_version")


def test_key_paths_come_from_the_model():
    paths = key_paths()
    for path in ("postgres.schema_version.query", "rabbitmq.queues[].min_consumers", "environments[].url",
                 "environments[].postgres", "load_balancer.listener_arn", "load_balancer.admin_socket",
                 "waivers[].expires", "http.sampling.paths"):  # fmt: skip
        assert path in paths
    assert "environments[].postgres.dsn" not in paths  # a per-environment section has the shared section's keys


CHECKS = '''\
import pytest

pytestmark = pytest.mark.pre


@pytest.mark.requires("postgres.shema_version")
def test_misspelt(postgres):
    pass
'''


def test_a_requires_naming_no_key_is_a_collection_error(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makeini("[pytest]\ntestpaths = validations\n")
    (pytester.path / "golive.yaml").write_text(CONFIG)
    (pytester.path / "validations").mkdir()
    (pytester.path / "validations" / "test_misspelt.py").write_text(textwrap.dedent(CHECKS))
    result = pytester.runpytest_subprocess("-m", "pre", timeout=60)
    assert result.ret == 2
    record = json.loads((pytester.path / "reports" / "latest-pre.json").read_text())
    assert record["verdict"] == "NO-GO"
    assert any("requires('postgres.shema_version') must name configuration keys (no such key: "
               "postgres.shema_version)" in reason for reason in record["reasons"]), record["reasons"]


# Every gate; the cutover step's checks too. The services are configured without the optional keys.
ALL_GATES = "pre or final or config or immediate or extended or data_integrity"
SERVICES = """\
release: {{version: "2.1.0", previous: "2.0.5"}}
environments:
  blue: {{url: "http://127.0.0.1:{app}", role: candidate}}
  green: {{url: "http://127.0.0.1:{app}", role: live}}
http: {{timeout_s: 2, sampling: {{requests: 4, concurrency: 1, max_duration_s: 2}}}}
postgres: {{dsn: "postgresql://postgres@127.0.0.1:{postgres}/postgres"}}
rabbitmq: {{url: "amqp://guest:guest@127.0.0.1:{rabbitmq}/%2F", queues: {{golive.none: {{}}}}}}
redis: {{url: "redis://127.0.0.1:{redis}/0"}}
"""
# Checks that ask the server (Redis's maxmemory and replicas, PostgreSQL's pg_stat_statements): with the server
# down golive cannot know, so these are errors then. They are the only skips a fault may change.
ASKS_THE_SERVER = {"test_no_slow_queries", "test_redis_memory_below_limit", "test_redis_replicas_linked"}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_not_configured_skips_do_not_change_when_the_services_are_down(run_gate, tmp_path, closed_port, workers):
    """Real PostgreSQL, RabbitMQ and Redis on this machine, then the same configuration at closed ports."""
    healthy, down = tmp_path / "healthy.yaml", tmp_path / "down.yaml"
    healthy.write_text(SERVICES.format(app=closed_port, postgres=5432, rabbitmq=5672, redis=6379))
    down.write_text(SERVICES.format(app=closed_port, postgres=closed_port, rabbitmq=closed_port, redis=closed_port))
    skips = {}
    for name, config in (("healthy", healthy), ("down", down)):
        run = run_gate(config, ALL_GATES, *workers, "--golive-phase", "50")
        checks = {check["id"].rsplit("::", 1)[-1]: check for check in run.record["checks"]}
        skips[name] = {check_id: check["message"] for check_id, check in checks.items()
                       if check["outcome"] == "skipped" and check_id not in ASKS_THE_SERVER}  # fmt: skip
        assert all(message.startswith("not configured: ") for message in skips[name].values()), skips[name]
        if name == "down":
            assert {checks[check_id]["outcome"] for check_id in ASKS_THE_SERVER} == {"error"}
            assert checks["test_primary_reachable"]["outcome"] == "error"  # the services really were down
    assert skips["healthy"] == skips["down"]
    assert skips["down"]["test_schema_version_is_the_release"] == "not configured: postgres.schema_version"
    assert skips["down"]["test_queues_have_consumers"] == "not configured: rabbitmq.queues[].min_consumers"
    assert skips["down"]["test_redis_hit_rate_at_least_minimum"] == "not configured: redis.min_hit_rate"
    assert skips["down"]["test_dead_letter_queues_not_growing"].startswith("not configured: dead-letter queues")
