"""The sandbox's own small clients of its world: TCP, HTTP, PostgreSQL, RabbitMQ, Redis, HAProxy.

Why the sandbox does not look through golive's probes: the sandbox is what golive's probes and checks are tested
against. If `up` decided "ready" through a probe, a bug in that probe (a status misread, an unknown answer
taken as healthy) would make the sandbox agree with it, and the tests meant to catch the bug would run against
a world built to its mistake. So the sandbox asks each piece directly, in the fewest lines that can answer, and
golive's probes are checked against what these independent answers say. Only the HAProxy admin-socket transport
is shared (golive.probes.haproxy_socket): it sends bytes and reads the answer, it judges nothing.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pika
import pika.exceptions
import psycopg
import redis

from golive.probes import haproxy_socket
from golive.sandbox import constants as c
from golive.sandbox.state import SandboxError

HTTP_TIMEOUT = httpx.Timeout(3.0)
HAPROXY_TIMEOUT_S = 3.0


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def tcp_open(port: int, host: str = c.HOST, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_status(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        return one_line(exc) or type(exc).__name__
    return None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text[:200]}"


def pg_connect(port: int, dbname: str = "postgres", **extra: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=c.HOST, port=port, user="postgres", dbname=dbname, connect_timeout=3, autocommit=True, **extra
    )


def preloads_pg_stat_statements(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    return "pg_stat_statements" in str(row[0] if row else "").replace(" ", "").split(",")


def pika_parameters(url: str = c.AMQP_URL) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.socket_timeout = 3
    params.stack_timeout = 5
    params.blocked_connection_timeout = 5
    params.connection_attempts = 1
    return params


@contextlib.contextmanager
def amqp_channel(url: str = c.AMQP_URL) -> Iterator[Any]:
    connection = pika.BlockingConnection(pika_parameters(url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def queue_counts(queue: str) -> tuple[int, int]:
    """(messages, consumers) of a queue, by a passive declare."""
    with amqp_channel() as channel:
        result = channel.queue_declare(queue, passive=True)
        return int(result.method.message_count), int(result.method.consumer_count)


def haproxy_command(sock_path: Path, command: str) -> str:
    """HAProxy's answer to one runtime API command (reads, and the fault helpers' writes)."""
    return haproxy_socket.command(sock_path, command, HAPROXY_TIMEOUT_S)


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(c.REDIS_URL, socket_timeout=3, socket_connect_timeout=3)


def management(method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{c.MANAGEMENT_URL}{path}", auth=("guest", "guest"), timeout=HTTP_TIMEOUT, **kwargs)


def rabbitmqctl(*args: str) -> str:
    try:
        done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        raise SandboxError("rabbitmqctl not found: run `apt-get install -y rabbitmq-server`") from None
    except subprocess.TimeoutExpired:
        raise SandboxError(f"`rabbitmqctl {' '.join(args)}` did not finish within 30 s") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise SandboxError(f"`rabbitmqctl {' '.join(args)}` failed: {last[0]}")
    return done.stdout.strip()


def require_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SandboxError(f"{name} not found: run `apt-get install -y {name}`")
    return found
