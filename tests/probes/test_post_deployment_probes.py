"""Probes Gate 3 adds, against this machine's real PostgreSQL and private Redis servers and a canned front door."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from golive.probes import load_balancer, postgres
from golive.probes import redis as redis_probe
from golive.probes.errors import ProbeError
from tests.canned_http import CannedHTTP
from tests.support.polling import wait_for

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TIMEOUT_S = 5.0


@pytest.fixture
def scratch_table() -> Iterator[tuple[str, psycopg.Connection[Any]]]:
    """A table of our own (dropped afterwards) and a writing connection to it; the probes only read it."""
    name = f"golive_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=5) as writer:
        writer.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, label text)".encode())
        try:
            yield name, writer
        finally:
            writer.execute(f"DROP TABLE IF EXISTS {name}".encode())


@pytest.fixture
def reader() -> Iterator[postgres.ProbeConnection]:
    conn = postgres.connect(POSTGRES_DSN, TIMEOUT_S)
    yield conn
    conn.close()


def test_first_rows_counts_all_and_shows_a_few(scratch_table, reader) -> None:
    name, writer = scratch_table
    writer.execute(f"INSERT INTO {name} SELECT n, 'row ' || n || '%' FROM generate_series(1, 7) n".encode())
    found = postgres.first_rows(reader, f"SELECT id, label FROM {name} WHERE label LIKE '%\\%' ORDER BY id;  ", 3)
    assert (found.total, found.columns) == (7, ("id", "label"))
    assert found.rows == ((1, "row 1%"), (2, "row 2%"), (3, "row 3%"))
    assert postgres.first_rows(reader, f"SELECT id FROM {name} WHERE false").total == 0


def test_table_checksum_follows_content_not_order(scratch_table, reader) -> None:
    name, writer = scratch_table
    writer.execute(f"INSERT INTO {name} VALUES (2, 'b'), (1, 'a')".encode())
    first = postgres.table_checksum(reader, name)
    writer.execute(f"DELETE FROM {name}; INSERT INTO {name} VALUES (1, 'a'), (2, 'b')".encode())
    assert postgres.table_checksum(reader, name) == first
    writer.execute(f"UPDATE {name} SET label = 'B' WHERE id = 2".encode())
    assert postgres.table_checksum(reader, name) != first
    writer.execute(f"DELETE FROM {name}".encode())
    assert postgres.table_checksum(reader, name) == "d41d8cd98f00b204e9800998ecf8427e"  # md5 of nothing


def test_lock_waits_name_the_waiter_and_its_blocker(scratch_table, reader) -> None:
    name, _writer = scratch_table
    with psycopg.connect(POSTGRES_DSN, connect_timeout=5) as holder:
        holder.execute(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE".encode())  # held until rollback
        waiter = psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=5, options="-c statement_timeout=10s")
        waiting = threading.Thread(target=lambda: waiter.execute(f"SELECT count(*) FROM {name}".encode()), daemon=True)
        waiting.start()
        try:
            waits = wait_for("a lock wait longer than 0.3 s", lambda: postgres.lock_waits(reader, 0.3), 8)
            assert [(w.pid, w.lock, w.blocked_by) for w in waits] == [
                (waiter.info.backend_pid, f"AccessShareLock on {name}", (holder.info.backend_pid,))
            ]
            assert waits[0].waited_s > 0.3
            assert postgres.lock_waits(reader, 3600) == []
        finally:
            holder.rollback()
            waiting.join(timeout=10)
            waiter.close()


def test_extension_and_number_probes(reader) -> None:
    assert postgres.has_extension(reader, "plpgsql")
    assert not postgres.has_extension(reader, "no_such_extension")
    assert postgres.number(reader, "SELECT 42::bigint") == 42.0
    assert postgres.number(reader, "SELECT NULL::int") is None
    with pytest.raises(ProbeError, match=r"not a number \('forty-two'\): SELECT 'forty-two'"):
        postgres.number(reader, "SELECT 'forty-two'")


# --- Redis -------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_server(workdir: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of our own on a free port, working in ``workdir`` (a replica writes the RDB it receives)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir),
         *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            redis_probe.connect(url, 0.5).close()
        except ProbeError:
            return False
        return True

    wait_for(f"redis-server on {port}", answers, 10)
    return process, url


@pytest.fixture
def redis_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A private primary and its replica (diskless sync without delay: linked in well under a second)."""
    primary, primary_url = _redis_server(tmp_path, "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
    port = primary_url.rsplit(":", 1)[1].split("/")[0]
    (tmp_path / "replica").mkdir()
    replica, replica_url = _redis_server(tmp_path / "replica", "--replicaof", "127.0.0.1", port)
    try:
        yield primary_url, replica_url
    finally:
        for process in (replica, primary):
            process.terminate()
            process.wait(timeout=10)


def test_redis_replication_seen_from_both_sides(redis_pair) -> None:
    primary_url, replica_url = redis_pair
    primary = redis_probe.connect(primary_url, TIMEOUT_S)
    replica = redis_probe.connect(replica_url, TIMEOUT_S)
    try:
        linked = wait_for("the replica links", lambda: redis_probe.replication(replica).primary_link == "up", 10)
        assert linked
        seen = wait_for("the primary sees it online", lambda: redis_probe.replication(primary).replicas, 10)
        assert [state for _address, state in seen] == ["online"]
        assert redis_probe.replication(primary).role == "master"
        assert redis_probe.replication(replica).role == "slave"
    finally:
        primary.close()
        replica.close()


def test_redis_memory_and_evictions(redis_pair) -> None:
    primary_url, _replica_url = redis_pair
    client = redis_probe.connect(primary_url, TIMEOUT_S)
    try:
        unlimited = redis_probe.memory(client)
        assert unlimited.max_bytes == 0 and unlimited.ratio is None and unlimited.used_bytes > 0
        client.config_set("maxmemory-policy", "allkeys-lru")
        client.config_set("maxmemory", str(unlimited.used_bytes + 2_000_000))
        assert redis_probe.evicted_keys(client) == 0
        for index in range(60):
            client.set(f"golive:test:{index}", "x" * 100_000)
        assert redis_probe.evicted_keys(client) > 0
        limited = redis_probe.memory(client)
        # used_memory may sit above maxmemory: it counts the replica's output buffer, which eviction leaves out.
        assert limited.policy == "allkeys-lru" and limited.ratio is not None and limited.ratio > 0.5
        assert limited.max_bytes == unlimited.used_bytes + 2_000_000
    finally:
        client.close()


# --- the front door -----------------------------------------------------------------------------------------


def test_front_door_versions_count_each_answer() -> None:
    with CannedHTTP.everywhere({"status": "ok", "version": "2.1.0"}) as server:
        url = server.url
        sample = load_balancer.front_door_versions(url, "/health", 5, TIMEOUT_S, 10)
    assert (sample.answers, sample.completed, sample.share("2.1.0"), sample.describe()) == (
        {"2.1.0": 5}, 5, 1.0, "2.1.0: 5"
    )  # fmt: skip
    with CannedHTTP.everywhere({"error": "boom"}, status=500) as server:
        url = server.url
        assert load_balancer.front_door_versions(url, "/health", 2, TIMEOUT_S, 10).answers == {
            "HTTP 500 without a version": 2
        }  # fmt: skip


def test_front_door_versions_bounded_and_failing_closed(closed_port: int) -> None:
    started = time.monotonic()
    sample = load_balancer.front_door_versions(f"http://127.0.0.1:{closed_port}", "/health", 1000, TIMEOUT_S, 0.5)
    assert time.monotonic() - started < 5
    assert set(sample.answers) == {"no answer"} and sample.share("2.1.0") == 0.0
