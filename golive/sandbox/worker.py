"""The agent worker: consumes ``agent.tasks``, records each result in PostgreSQL and caches it in Redis.

A message it cannot process (``{"poison": true}`` in its payload, malformed JSON, no task id) is rejected
without requeue, so RabbitMQ dead-letters it to ``agent.tasks.dlq``. Filler messages (``{"filler": true}``,
from the fill-queue helper) and tasks deleted through the API before they ran are acknowledged and skipped.

Run: ``python -m golive.sandbox.worker`` (configuration from ``GOLIVE_SANDBOX_PG_DSN``, ``_AMQP_URL``,
``_REDIS_URL``). It reconnects after losing RabbitMQ or PostgreSQL and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import time
from types import FrameType
from typing import Any

import pika
import pika.channel
import pika.exceptions
import pika.spec
import psycopg
import redis
from psycopg.types.json import Jsonb

from golive.sandbox import constants as c

log = logging.getLogger("golive.sandbox.worker")

PREFETCH = 4
RESULT_TTL_S = 3600
RECONNECT_DELAY_S = 1.0
TIMEOUT_S = 3.0


class Stop(Exception):
    """Raised from the SIGTERM handler to leave the consume loop."""


class PoisonMessage(Exception):
    """A message that must be dead-lettered, not retried."""


class Worker:
    def __init__(self, pg_dsn: str, amqp_url: str, redis_url: str) -> None:
        self.pg_dsn = pg_dsn
        self.amqp_url = amqp_url
        self.name = f"worker@{socket.gethostname()}:{os.getpid()}"
        self.cache = redis.Redis.from_url(redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        self._db: psycopg.Connection[Any] | None = None

    def db(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self.pg_dsn, connect_timeout=int(TIMEOUT_S))
        return self._db

    def process(self, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            raise PoisonMessage("not JSON") from None
        if not isinstance(message, dict):
            raise PoisonMessage("not a JSON object")
        payload: dict[str, Any] = message["payload"] if isinstance(message.get("payload"), dict) else {}
        if message.get("poison") or payload.get("poison"):
            raise PoisonMessage("poison payload")
        if message.get("filler") or payload.get("filler"):
            return
        task_id = message.get("task_id")
        if not isinstance(task_id, int):
            raise PoisonMessage("no task_id")
        result = {"task_id": task_id, "agent": message.get("agent"), "output": f"done by {self.name}"}
        try:
            conn = self.db()
            with conn.transaction():
                updated = conn.execute(
                    "UPDATE tasks SET status = 'done', updated_at = now() WHERE id = %s RETURNING id", (task_id,)
                ).fetchone()
                if updated is None:
                    # Deleted through the API before it ran (golive's synthetic transaction cleans up so).
                    log.warning("task %s no longer exists: skipped", task_id)
                    return
                conn.execute(
                    "INSERT INTO task_results (task_id, worker, result) VALUES (%s, %s, %s)",
                    (task_id, self.name, Jsonb(result)),
                )
        except psycopg.OperationalError:
            if self._db is not None:
                self._db.close()
            raise
        try:
            self.cache.set(f"{c.REDIS_PREFIX}result:{task_id}", json.dumps(result), ex=RESULT_TTL_S)
        except redis.RedisError as exc:
            log.warning("result of task %s not cached: %s", task_id, exc)
        log.info("task %s done", task_id)

    def on_message(
        self,
        channel: pika.channel.Channel,
        method: pika.spec.Basic.Deliver,
        properties: pika.spec.BasicProperties,
        body: bytes,
    ) -> None:
        try:
            self.process(body)
        except PoisonMessage as exc:
            log.error("rejecting message %s to the dead-letter queue: %s", method.delivery_tag, exc)
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        except (psycopg.Error, OSError) as exc:
            # Infrastructure trouble, not the message's fault: put it back and slow down.
            log.error("requeueing message %s: %s", method.delivery_tag, exc)
            channel.basic_nack(method.delivery_tag, requeue=True)
            time.sleep(RECONNECT_DELAY_S)
            return
        channel.basic_ack(method.delivery_tag)

    def run(self) -> None:
        params = pika.URLParameters(self.amqp_url)
        params.socket_timeout = TIMEOUT_S
        params.stack_timeout = TIMEOUT_S * 2
        params.connection_attempts = 1
        params.heartbeat = 30
        while True:
            connection: pika.BlockingConnection | None = None
            try:
                connection = pika.BlockingConnection(params)
                channel = connection.channel()
                channel.basic_qos(prefetch_count=PREFETCH)
                # The manager declares the queues with their dead-letter arguments; passive keeps one owner.
                channel.queue_declare(c.TASK_QUEUE, passive=True)
                channel.basic_consume(c.TASK_QUEUE, self.on_message)
                log.info("consuming %s as %s", c.TASK_QUEUE, self.name)
                channel.start_consuming()
            except Stop:
                log.info("stopping")
                if connection is not None and connection.is_open:
                    connection.close()
                return
            except pika.exceptions.AMQPError as exc:
                log.error("RabbitMQ connection lost (%r); reconnecting in %.0f s", exc, RECONNECT_DELAY_S)
                time.sleep(RECONNECT_DELAY_S)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m golive.sandbox.worker", description=__doc__)
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker = Worker(
        os.environ.get(c.ENV_PG_DSN, c.PRIMARY_DSN),
        os.environ.get(c.ENV_AMQP_URL, c.AMQP_URL),
        os.environ.get(c.ENV_REDIS_URL, c.REDIS_URL),
    )
    with contextlib.suppress(Stop):
        worker.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
