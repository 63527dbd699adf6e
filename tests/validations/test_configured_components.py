"""A configured component is never silently left out (issue 11, item 6).

A section the configuration gives makes its checks look: a key golive can find itself (RabbitMQ's management
URL) it finds, and what the server lacks (no maxmemory) is a failure naming the setting, not a "not configured"
skip. Against this machine's RabbitMQ (management plugin enabled) and a private Redis of the test's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.probes import rabbitmq as rabbitmq_probe
from golive.probes import redis as redis_probe
from golive.probes.errors import ProbeError
from tests.probes.test_post_deployment_probes import redis_pair
from tests.support.gates import minimal_config
from tests.support.polling import wait_for

# A fixture of tests/probes/test_post_deployment_probes.py: a private primary (maxmemory 0) and its replica.
__all__ = ["redis_pair"]

FILE = "validations/test_post_deployment_services.py"
REAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"


def test_rabbitmq_without_management_url_is_looked_at_and_redis_without_maxmemory_fails(
        run_gate, tmp_path: Path, redis_pair: tuple[str, str]) -> None:
    primary_url, _replica_url = redis_pair
    primary = redis_probe.connect(primary_url, 2)
    try:
        states = lambda: [state for _address, state in redis_probe.replication(primary).replicas]  # noqa: E731
        wait_for("the private replica online", lambda: states() == ["online"], 10)
    finally:
        primary.close()
    config = minimal_config(tmp_path / "services.yaml", {"rabbitmq": {"url": REAL_AMQP},
                                                         "redis": {"url": primary_url, "min_replicas": 2}})
    run = run_gate(config, "extended", FILE, "-k", "rabbitmq_management_answers or redis_memory or redis_replicas")

    # The management API at the AMQP host's default port (15672), with the broker's credentials.
    assert run.outcomes()["test_rabbitmq_management_answers"] == "passed", run.record["checks"]
    memory = run.check("test_redis_memory_below_limit")
    where = primary_url.removeprefix("redis://")
    assert memory["outcome"] == "failed" and memory["severity"] == "warning", memory
    assert memory["message"].startswith(f"Redis {where} has no memory limit (maxmemory 0): ")
    assert memory["message"].endswith("set maxmemory (and maxmemory-policy) on the server")
    # One replica online where the configuration expects two: a replica that went away is missed, not skipped.
    replicas = run.check("test_redis_replicas_linked")
    assert replicas["outcome"] == "failed", replicas
    assert replicas["message"] == f"Redis {where} has 1 replica(s) online; expected at least 2 (redis.min_replicas)"
    assert run.code == 1 and run.record["verdict"] == "REVIEW"


@pytest.mark.parametrize(("amqp_url", "configured", "expected"), [
    ("amqp://u:p@mq.internal:5672/%2F", None, "http://mq.internal:15672"),
    ("amqps://u:p@mq.internal:5671/orders", None, "https://mq.internal:15671"),
    ("amqp://[::1]:5672/%2F", None, "http://[::1]:15672"),
    ("amqp://u:p@mq.internal:5672/%2F", "https://mq-admin.internal", "https://mq-admin.internal"),
])  # fmt: skip
def test_management_url_defaults_to_the_broker_host_on_the_plugin_port(amqp_url, configured, expected) -> None:
    url, found = rabbitmq_probe.management_url(amqp_url, configured)
    assert url == expected
    assert (found is None) == (configured is not None)


def test_a_found_management_url_that_does_not_answer_says_which_key_to_set(closed_port: int) -> None:
    _url, found = rabbitmq_probe.management_url(REAL_AMQP, None)
    api = rabbitmq_probe.Management(f"http://127.0.0.1:{closed_port}", "guest", "guest", 2, found=found)
    with api, pytest.raises(ProbeError) as raised:
        api.overview()
    assert "cannot connect" in str(raised.value)
    assert str(raised.value).endswith(
        "(URL from the host of rabbitmq.url on the management plugin's default port 15672; "
        "set rabbitmq.management_url if the management API is elsewhere)"
    )
