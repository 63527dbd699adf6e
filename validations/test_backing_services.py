"""Backing services: the database, broker and cache of the environment under test answer."""

import pytest

from golive.probes import postgres as postgres_probe

pytestmark = [pytest.mark.pre, pytest.mark.immediate]


@pytest.mark.critical
def test_postgres_answers_a_query(postgres):
    """The PostgreSQL primary accepts a read-only session and answers SELECT 1."""
    assert postgres_probe.scalar(postgres, "SELECT 1") == 1


def test_rabbitmq_accepts_a_connection(rabbitmq):
    """RabbitMQ accepts an AMQP connection with the configured credentials."""
    assert rabbitmq.is_open, "the AMQP connection closed right after opening"


def test_redis_answers_ping(redis):
    """Redis answers PING."""
    assert redis.ping() is True
