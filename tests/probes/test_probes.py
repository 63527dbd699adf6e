"""The probe layer against this machine's real services, a refusing port, a silent port and canned answers.

Boundedness is proven without timing assertions: each probe against a silent peer runs in a thread that must
finish within a generous multiple of its timeout and must end in a ProbeError naming the endpoint.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pika
import psycopg
import pytest

from golive.config import HaproxyLoadBalancer, Http
from golive.probes import aws, haproxy_socket, http, load_balancer, postgres, prometheus, rabbitmq
from golive.probes import redis as redis_probe
from golive.probes.errors import ProbeError
from tests.canned_http import CannedHTTP
from tests.support.gates import stop_process
from tests.support.polling import wait_for

PASSWORD = "s3cr3t-pw"
TIMEOUT_S = 0.5

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
REDIS_URL = "redis://127.0.0.1:6379/0"
MANAGEMENT_URL = "http://127.0.0.1:15672"


# --- helpers -------------------------------------------------------------------------------------------


def probe_error(probe: Callable[[], object], timeout_s: float = TIMEOUT_S) -> ProbeError:
    """Run a probe in a thread; it must finish within 10 * timeout_s + 5 s by raising ProbeError."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = probe()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=10 * timeout_s + 5)
    assert not thread.is_alive(), f"probe still waiting after {10 * timeout_s + 5}s"
    error = outcome.get("error")
    assert isinstance(error, ProbeError), f"expected ProbeError, got {outcome!r}"
    return error


def assert_names(error: ProbeError, component: str, endpoint: str, *fragments: str) -> None:
    message = str(error)
    assert message.startswith(f"{component} at "), message
    assert endpoint in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert PASSWORD not in message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class FreezableProxy:
    """A TCP proxy to a real service that can stop forwarding: a server that connected, then went silent."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.frozen = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        while not self._closed.is_set():
            if self.frozen.is_set():
                self._closed.wait(0.05)
                continue
            try:
                readable, _, _ = select.select([a, b], [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)
            except (OSError, ValueError):
                return

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for sock in self._sockets:
            sock.close()


@pytest.fixture
def proxy_factory() -> Iterator[Callable[[int], FreezableProxy]]:
    proxies: list[FreezableProxy] = []

    def make(upstream_port: int) -> FreezableProxy:
        proxies.append(FreezableProxy(upstream_port))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


# --- http ------------------------------------------------------------------------------------------------


def test_make_client_bounds_every_phase_and_does_not_follow_redirects() -> None:
    with http.make_client("http://127.0.0.1:1", 2.5, verify_tls=False) as client:
        assert (client.timeout.connect, client.timeout.read, client.timeout.write, client.timeout.pool) == (
            2.5,
            2.5,
            2.5,
            2.5,
        )
        assert client.follow_redirects is False


def test_get_health_reads_status_version_uptime_and_dependencies(canned_http: CannedHTTP) -> None:
    canned_http.answer(
        "/health",
        {"status": "ok", "version": "2.1.0", "uptime": 12, "database": "ok", "rabbitmq": "ok", "redis": "ok"},
    )
    with http.make_client(canned_http.url, TIMEOUT_S) as client:
        health = http.get_health(client, Http())
    assert (health.state, health.status, health.status_code, health.version, health.uptime, health.dialect) == (
        "healthy", "ok", 200, "2.1.0", 12.0, "golive"
    )
    assert {name: d.text for name, d in health.dependencies.items()} == {"database": "ok", "rabbitmq": "ok",
                                                                          "redis": "ok"}  # fmt: skip
    assert health.ok and health.endpoints == {"health": f"{canned_http.url}/health"}


def test_get_health_returns_a_503_with_json_so_checks_can_report_it(canned_http: CannedHTTP) -> None:
    canned_http.answer(
        "/status",
        {"status": "degraded", "dependencies": {"database": "ok", "redis": {"status": "error", "error": "refused"}}},
        status=503,
    )
    with http.make_client(canned_http.url, TIMEOUT_S) as client:
        health = http.get_health(client, Http(health_path="/status"))
    assert (health.status_code, health.status, health.version, health.uptime) == (503, "degraded", None, None)
    assert {name: d.text for name, d in health.dependencies.items()} == {"database": "ok", "redis": "error: refused"}
    assert health.state == "unhealthy" and not health.ok


def test_get_health_reads_readiness_and_version_endpoints(canned_http: CannedHTTP) -> None:
    canned_http.answer("/actuator/health", {"status": "UP"})
    canned_http.answer("/ready", {"postgres": {"connected": False}, "redis": {"connected": True}}, status=503)
    canned_http.answer("/actuator/info", {"build": {"version": "2.1.0", "artifact": "orchestrator"}})
    settings = Http(health={"path": "/actuator/health", "ready_path": "/ready", "version_path": "/actuator/info"})
    with http.make_client(canned_http.url, TIMEOUT_S) as client:
        health = http.get_health(client, settings)
    assert (health.dialect, health.status, health.version, health.state) == ("spring", "UP", "2.1.0", "unhealthy")
    assert not health.dependencies["database"].ok and health.dependencies["redis"].ok
    assert set(health.endpoints) == {"health", "ready", "version"}


def test_a_readiness_endpoint_that_retries_for_long_is_bounded_by_the_timeout(canned_http: CannedHTTP) -> None:
    """Readiness endpoints that retry each dependency for seconds before answering cannot hold a gate."""
    canned_http.answer("*", {"status": "healthy"})
    canned_http.answer("/ready", {"status": "healthy"}, behaviour="late", delay_s=5)  # retrying its database
    with http.make_client(canned_http.url, TIMEOUT_S) as client:
        started = time.monotonic()
        error = probe_error(lambda: http.get_health(client, Http(health={"ready_path": "/ready"})))
        assert time.monotonic() - started < 3
    assert_names(error, "http", f"{canned_http.url}/ready", "no answer within 0.5s")


def test_get_health_reads_kubernetes_plain_text_probes(canned_http: CannedHTTP) -> None:
    canned_http.answer("/livez", "ok")
    canned_http.answer("/readyz", "[+]ping ok\n[-]postgres failed: reason withheld\nreadyz check failed\n", status=500)
    settings = Http(health={"path": "/livez", "ready_path": "/readyz?verbose"})
    with http.make_client(canned_http.url, TIMEOUT_S) as client:
        health = http.get_health(client, settings)
    assert canned_http.paths()[-1] == "/readyz?verbose"
    assert (health.dialect, health.live_state, health.state) == ("kubernetes", "healthy", "unhealthy")
    assert health.dependencies["database"].text == "failed: reason withheld"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("<html>502 Bad Gateway</html>", "neither JSON nor a Kubernetes-style probe text"),
        ("[1, 2]", "not an object"),
        ('{"version": "2.1.0", "uptime": 3}', "(top-level fields: uptime, version); set http.health.status"),
    ],
)
def test_get_health_refuses_unusable_answers(canned_http: CannedHTTP, body: str, fragment: str) -> None:
    canned_http.answer("/health", body)
    with http.make_client(canned_http.url, TIMEOUT_S) as client, pytest.raises(ProbeError) as caught:
        http.get_health(client, Http())
    assert_names(caught.value, "http", f"{canned_http.url}/health", fragment)


def test_request_returns_any_answer_without_following_redirects(canned_http: CannedHTTP) -> None:
    canned_http.answer("/old", "", status=302, headers={"Location": "/elsewhere"})
    with http.make_client(canned_http.url, TIMEOUT_S) as client:
        assert http.request(client, "GET", "/old").status_code == 302
        assert http.request(client, "GET", "/missing").status_code == 404


def test_http_closed_port_raises_with_masked_endpoint(closed_port: int) -> None:
    with http.make_client(f"http://user:{PASSWORD}@127.0.0.1:{closed_port}", TIMEOUT_S) as client:
        error = probe_error(lambda: http.get_health(client, Http()))
    assert_names(error, "http", f"http://user:***@127.0.0.1:{closed_port}/health", "cannot connect")


def test_http_hanging_port_is_bounded(hanging_port: int) -> None:
    with http.make_client(f"http://127.0.0.1:{hanging_port}", TIMEOUT_S) as client:
        error = probe_error(lambda: http.get_health(client, Http()))
    assert_names(error, "http", f"127.0.0.1:{hanging_port}/health", "no answer within 0.5s")


# --- postgres --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (f"postgresql://golive:{PASSWORD}@db.internal:5433/orchestrator", "db.internal:5433/orchestrator"),
        (
            f"host=127.0.0.1 port=5432 dbname=orchestrator user=golive password={PASSWORD}",
            "127.0.0.1:5432/orchestrator",
        ),
        ("postgresql://golive@127.0.0.1/orchestrator", "127.0.0.1:5432/orchestrator"),
    ],
)
def test_postgres_endpoint(dsn: str, expected: str) -> None:
    assert postgres.endpoint(dsn) == expected


@pytest.fixture
def pg() -> Iterator[psycopg.Connection[Any]]:
    conn = postgres.connect(POSTGRES_DSN, TIMEOUT_S)
    yield conn
    conn.close()


def test_postgres_session_is_autocommit_read_only_and_bounded(pg: psycopg.Connection[Any]) -> None:
    assert pg.autocommit
    assert postgres.scalar(pg, "SELECT 1") == 1
    settings = postgres.rows(
        pg,
        "SELECT current_setting('default_transaction_read_only'), current_setting('statement_timeout'),"
        " current_setting('application_name')",
    )
    assert settings == [("on", "500ms", "golive")]


def test_postgres_session_refuses_writes(pg: psycopg.Connection[Any]) -> None:
    table = f"golive_probe_test_{uuid.uuid4().hex[:12]}"
    with pytest.raises(ProbeError) as caught:
        postgres.scalar(pg, f"CREATE TABLE {table} (id int)")
    assert_names(caught.value, "postgres", "127.0.0.1:5432/postgres", "read-only transaction")

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as writer:
        writer.execute(f"CREATE TABLE {table} (id int)")
        try:
            with pytest.raises(ProbeError, match="cannot execute INSERT in a read-only transaction"):
                postgres.rows(pg, f"INSERT INTO {table} VALUES (1)")
            assert writer.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        finally:
            writer.execute(f"DROP TABLE {table}")


def test_postgres_scalar_fails_on_no_row_bad_sql_and_slow_statements(pg: psycopg.Connection[Any]) -> None:
    with pytest.raises(ProbeError, match="query returned no row"):
        postgres.scalar(pg, "SELECT 1 WHERE false")
    with pytest.raises(ProbeError, match='UndefinedTable: relation "golive_no_such_table" does not exist'):
        postgres.scalar(pg, "SELECT * FROM golive_no_such_table")
    with pytest.raises(ProbeError, match="statement timeout"):
        postgres.scalar(pg, "SELECT pg_sleep(5)")
    assert postgres.scalar(pg, "SELECT %s::int + 1", (41,)) == 42  # the session survives all three


def test_postgres_closed_connection_raises() -> None:
    conn = postgres.connect(POSTGRES_DSN, TIMEOUT_S)
    conn.close()
    with pytest.raises(ProbeError) as caught:
        postgres.scalar(conn, "SELECT 1")
    assert_names(caught.value, "postgres", "127.0.0.1:5432/postgres", "connection is closed")


def test_postgres_replication_probes_on_a_server_without_standbys(pg: psycopg.Connection[Any]) -> None:
    assert isinstance(postgres.replication_lag_bytes(pg), dict)
    with pytest.raises(ProbeError, match="not in recovery"):
        postgres.standby_lag_bytes(pg)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://postgres:{pw}@127.0.0.1:{port}/postgres",
        "host=127.0.0.1 port={port} user=postgres password={pw} dbname=postgres",
    ],
)
def test_postgres_closed_port_raises_with_masked_endpoint(closed_port: int, dsn: str) -> None:
    url = dsn.format(pw=PASSWORD, port=closed_port)
    error = probe_error(lambda: postgres.connect(url, TIMEOUT_S))
    assert_names(error, "postgres", f"127.0.0.1:{closed_port}/postgres", "Connection refused")


def test_postgres_server_error_keeps_password_out() -> None:
    with pytest.raises(ProbeError) as caught:
        postgres.connect(f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/golive_no_such_db", TIMEOUT_S)
    assert_names(caught.value, "postgres", "127.0.0.1:5432/golive_no_such_db", "does not exist")


def test_postgres_hanging_port_is_bounded(hanging_port: int) -> None:
    # libpq's connect_timeout has a 2 s floor: a 0.5 s probe timeout waits 2 s here.
    error = probe_error(lambda: postgres.connect(f"postgresql://postgres@127.0.0.1:{hanging_port}/db", TIMEOUT_S))
    assert_names(error, "postgres", f"127.0.0.1:{hanging_port}/db", "no answer within 2s")


def test_postgres_server_that_goes_silent_mid_session_is_bounded(
    proxy_factory: Callable[[int], FreezableProxy],
) -> None:
    proxy = proxy_factory(5432)
    conn = postgres.connect(f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres", TIMEOUT_S)
    try:
        assert postgres.scalar(conn, "SELECT 1") == 1
        proxy.frozen.set()
        error = probe_error(lambda: postgres.scalar(conn, "SELECT 1"))
        assert_names(error, "postgres", f"127.0.0.1:{proxy.port}/postgres", "no answer within 1s")
    finally:
        conn.close()


# A throwaway primary and streaming standby of our own: the shared server allows no replication connections.


def _pg_bin(name: str) -> str:
    path = Path("/usr/lib/postgresql/15/bin") / name
    return str(path) if path.exists() else (shutil.which(name) or name)


@pytest.fixture(scope="module")
def replication_pair() -> Iterator[tuple[str, str]]:
    if not Path(_pg_bin("initdb")).exists() and shutil.which("initdb") is None:
        pytest.skip("PostgreSQL server binaries not installed")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="golive-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    started: list[Path] = []

    def run(*args: str) -> None:
        subprocess.run([*as_postgres, *args], check=True, capture_output=True, timeout=60)

    def start(data: Path, port: int) -> None:
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / f"{data.name}.log"), "-w", "start")
        started.append(data)

    try:
        primary_port, standby_port = free_port(), free_port()
        run(_pg_bin("initdb"), "-D", str(base / "primary"), "-U", "postgres", "--auth=trust", "-N")
        start(base / "primary", primary_port)
        run(
            _pg_bin("pg_basebackup"), "-D", str(base / "standby"), "-R", "-X", "stream", "-c", "fast",
            "-d", f"host=127.0.0.1 port={primary_port} user=postgres application_name=standby1",
        )  # fmt: skip
        start(base / "standby", standby_port)
        primary = f"postgresql://postgres@127.0.0.1:{primary_port}/postgres"
        standby = f"postgresql://postgres@127.0.0.1:{standby_port}/postgres"
        with psycopg.connect(primary, autocommit=True) as conn:
            wait_for(
                "standby reporting its replay position",
                lambda: conn.execute("SELECT count(*) FROM pg_stat_replication WHERE replay_lsn IS NOT NULL")
                .fetchone() == (1,),
                10,
            )  # fmt: skip
        yield primary, standby
    finally:
        for data in reversed(started):
            subprocess.run([*as_postgres, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=30)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def test_replication_lag_is_measured_in_bytes_on_both_sides(replication_pair: tuple[str, str]) -> None:
    primary_dsn, standby_dsn = replication_pair
    primary = postgres.connect(primary_dsn, 2.0)
    standby = postgres.connect(standby_dsn, 2.0)
    try:
        assert set(postgres.replication_lag_bytes(primary)) == {"standby1"}
        assert postgres.standby_lag_bytes(standby) >= 0
        with pytest.raises(ProbeError, match="not in recovery"):
            postgres.standby_lag_bytes(primary)

        # Pause replay, write on the primary: the lag shows up on both sides.
        with psycopg.connect(standby_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_wal_replay_pause()")
            try:
                with psycopg.connect(primary_dsn, autocommit=True) as writer:
                    writer.execute("CREATE TABLE golive_lag AS SELECT generate_series(1, 20000) AS n")
                wait_for("standby lag", lambda: postgres.standby_lag_bytes(standby) > 0, 10)
                wait_for("primary view", lambda: postgres.replication_lag_bytes(primary)["standby1"] > 0, 10)
            finally:
                admin.execute("SELECT pg_wal_replay_resume()")
        wait_for("standby catch-up", lambda: postgres.standby_lag_bytes(standby) == 0, 10)
    finally:
        primary.close()
        standby.close()


def test_replay_progress_tells_a_standby_that_does_not_replay(replication_pair: tuple[str, str]) -> None:
    """Paused replay is known from the first look; replay held back while WAL waits is seen over an interval; a
    standby that replays what it receives (WAL written during the watch) passes."""
    primary_dsn, standby_dsn = replication_pair
    standby = postgres.connect(standby_dsn, 2.0)
    with (psycopg.connect(primary_dsn, autocommit=True) as writer,
          psycopg.connect(standby_dsn, autocommit=True) as admin):  # fmt: skip
        try:
            writer.execute("SELECT txid_current()")  # a commit to replay
            healthy = postgres.replay_progress(standby, 0.2)
            assert healthy.replaying and healthy.pause_state == "not paused" and not healthy.stalled

            # Held back, not paused: every commit waits an hour before it is replayed.
            admin.execute("ALTER SYSTEM SET recovery_min_apply_delay = '1h'")
            admin.execute("SELECT pg_reload_conf()")

            seen: list[postgres.ReplayProgress] = []

            def held() -> bool:
                writer.execute("SELECT txid_current()")
                seen.append(postgres.replay_progress(standby, 0.2))
                return seen[-1].stalled

            wait_for("replay held back while WAL waits", held, 20)
            stalled = seen[-1]
            assert stalled.pause_state == "not paused" and not stalled.replaying
            assert stalled.last.waiting_bytes > 0 and stalled.last.min_apply_delay == "1h"
            assert stalled.last.replayed == stalled.first.replayed
        finally:
            admin.execute("ALTER SYSTEM RESET recovery_min_apply_delay")
            admin.execute("SELECT pg_reload_conf()")
        wait_for("standby catch-up", lambda: postgres.replay_position(standby).waiting_bytes == 0, 20)

        admin.execute("SELECT pg_wal_replay_pause()")
        try:
            wait_for("replay paused", lambda: postgres.replay_position(standby).pause_state == "paused", 10)
            paused = postgres.replay_progress(standby, 0.2)
            assert paused.pause_state == "paused" and not paused.replaying
            assert admin.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() == ("paused",)  # only looked
        finally:
            admin.execute("SELECT pg_wal_replay_resume()")
    with pytest.raises(ProbeError, match="not in recovery"):
        postgres.replay_position(postgres.connect(primary_dsn, 2.0))
    standby.close()


# --- rabbitmq --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"amqp://guest:{PASSWORD}@127.0.0.1:5672/%2F", "127.0.0.1:5672/%2F"),
        ("amqp://mq.internal/orders", "mq.internal:5672/orders"),
        ("amqps://mq.internal:5671/%2F", "mq.internal:5671/%2F"),
    ],
)
def test_rabbitmq_endpoint(url: str, expected: str) -> None:
    assert rabbitmq.endpoint(url) == expected


@pytest.fixture
def amqp() -> Iterator[pika.BlockingConnection]:
    connection = rabbitmq.connect(AMQP_URL, 2.0)
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture
def temporary_queue() -> Iterator[str]:
    """A golive-owned queue on the real broker, deleted afterwards."""
    name = f"golive.test.{uuid.uuid4()}"
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.queue_declare(queue=name)
    try:
        yield name
    finally:
        if not connection.is_open:
            connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        connection.channel().queue_delete(queue=name)
        connection.close()


def test_rabbitmq_queue_state_counts_messages_and_consumers(
    amqp: pika.BlockingConnection, temporary_queue: str
) -> None:
    assert rabbitmq.queue_state(amqp, temporary_queue) == rabbitmq.QueueState(messages=0, consumers=0)

    publisher = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = publisher.channel()
        channel.confirm_delivery()  # each publish returns once the queue holds the message
        for body in (b"one", b"two"):
            channel.basic_publish(exchange="", routing_key=temporary_queue, body=body)
        assert rabbitmq.queue_state(amqp, temporary_queue) == rabbitmq.QueueState(messages=2, consumers=0)

        consumer = publisher.channel()
        consumer.basic_qos(prefetch_count=0)
        consumer.basic_consume(temporary_queue, lambda *args: None, auto_ack=False)
        assert rabbitmq.queue_state(amqp, temporary_queue).consumers == 1
    finally:
        publisher.close()


def test_rabbitmq_missing_queue_raises_and_connection_survives(
    amqp: pika.BlockingConnection, temporary_queue: str
) -> None:
    missing = f"golive.test.missing.{uuid.uuid4()}"
    with pytest.raises(ProbeError) as caught:
        rabbitmq.queue_state(amqp, missing)
    assert_names(caught.value, "rabbitmq", "127.0.0.1:5672/%2F", f"queue {missing} does not exist")
    assert rabbitmq.queue_state(amqp, temporary_queue).messages == 0


def test_rabbitmq_closed_connection_raises(temporary_queue: str) -> None:
    connection = rabbitmq.connect(AMQP_URL, 2.0)
    connection.close()
    error = probe_error(lambda: rabbitmq.queue_state(connection, temporary_queue))
    assert_names(error, "rabbitmq", "127.0.0.1:5672/%2F", f"queue {temporary_queue}")


def test_rabbitmq_closed_port_raises_with_masked_endpoint(closed_port: int) -> None:
    error = probe_error(lambda: rabbitmq.connect(f"amqp://guest:{PASSWORD}@127.0.0.1:{closed_port}/%2F", TIMEOUT_S))
    assert_names(error, "rabbitmq", f"127.0.0.1:{closed_port}/%2F", "connection refused")


def test_rabbitmq_wrong_password_keeps_password_out() -> None:
    with pytest.raises(ProbeError) as caught:
        rabbitmq.connect(f"amqp://guest:{PASSWORD}@127.0.0.1:5672/%2F", 2.0)
    assert_names(caught.value, "rabbitmq", "127.0.0.1:5672/%2F", "login refused")


def test_rabbitmq_hanging_port_is_bounded(hanging_port: int) -> None:
    error = probe_error(lambda: rabbitmq.connect(f"amqp://guest:guest@127.0.0.1:{hanging_port}/%2F", TIMEOUT_S))
    assert_names(error, "rabbitmq", f"127.0.0.1:{hanging_port}/%2F", "no AMQP handshake within 0.5s")


def test_rabbitmq_broker_that_goes_silent_mid_session_is_bounded(
    proxy_factory: Callable[[int], FreezableProxy], temporary_queue: str
) -> None:
    proxy = proxy_factory(5672)
    # 2 s, not 0.5: the handshake through the proxy must succeed even on a busy machine.
    connection = rabbitmq.connect(f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F", 2.0)
    try:
        assert rabbitmq.queue_state(connection, temporary_queue).messages == 0
        proxy.frozen.set()
        error = probe_error(lambda: rabbitmq.queue_state(connection, temporary_queue), 2.0)
        assert_names(error, "rabbitmq", f"127.0.0.1:{proxy.port}/%2F", "no answer within 2s")
    finally:
        if connection.is_open:
            connection.close()


@pytest.fixture
def management() -> Iterator[rabbitmq.Management]:
    # scripts/ensure-services (run by `make test`) enables the plugin: its absence is a failure, not a skip.
    assert answers_tcp(15672), "RabbitMQ management not answering on 15672: run scripts/ensure-services"
    with rabbitmq.Management(MANAGEMENT_URL, "guest", "guest", 2.0) as api:
        yield api


def test_management_overview_queue_and_alarms(management: rabbitmq.Management, temporary_queue: str) -> None:
    assert "rabbitmq_version" in management.overview()
    details = management.queue("/", temporary_queue)
    assert (details["name"], details["vhost"]) == (temporary_queue, "/")
    assert management.alarms_ok() is True
    with pytest.raises(ProbeError, match=r"queue golive\.test\.missing does not exist"):
        management.queue("/", "golive.test.missing")


def test_management_wrong_password_keeps_password_out(management: rabbitmq.Management) -> None:
    with rabbitmq.Management(MANAGEMENT_URL, "guest", PASSWORD, 2.0) as api, pytest.raises(ProbeError) as caught:
        api.overview()
    assert_names(caught.value, "rabbitmq", f"{MANAGEMENT_URL}/api/overview", "HTTP 401")


@pytest.mark.parametrize(("status", "expected"), [(200, True), (503, False)])
def test_management_alarms_reads_200_and_503(canned_http: CannedHTTP, status: int, expected: bool) -> None:
    canned_http.answer("/api/health/checks/alarms", {"status": "ok" if expected else "failed"}, status=status)
    with rabbitmq.Management(canned_http.url, "guest", "guest", TIMEOUT_S) as api:
        assert api.alarms_ok() is expected


def test_management_alarms_other_status_raises(canned_http: CannedHTTP) -> None:
    canned_http.answer("/api/health/checks/alarms", "oops", status=500)
    with (
        rabbitmq.Management(canned_http.url, "guest", "guest", TIMEOUT_S) as api,
        pytest.raises(ProbeError, match="HTTP 500"),
    ):
        api.alarms_ok()


def test_management_closed_port_raises(closed_port: int) -> None:
    with rabbitmq.Management(f"http://127.0.0.1:{closed_port}", "guest", PASSWORD, TIMEOUT_S) as api:
        error = probe_error(api.overview)
    assert_names(error, "rabbitmq", f"127.0.0.1:{closed_port}/api/overview", "cannot connect")


def test_management_hanging_port_is_bounded(hanging_port: int) -> None:
    with rabbitmq.Management(f"http://127.0.0.1:{hanging_port}", "guest", PASSWORD, TIMEOUT_S) as api:
        error = probe_error(api.alarms_ok)
    assert_names(error, "rabbitmq", f"127.0.0.1:{hanging_port}/api/health/checks/alarms", "no answer within 0.5s")


# --- redis -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"redis://:{PASSWORD}@127.0.0.1:6379/2", "127.0.0.1:6379/2"),
        ("redis://cache.internal", "cache.internal:6379/0"),
        ("redis://cache.internal/?db=4", "cache.internal:6379/4"),
        ("unix:///run/redis.sock", "/run/redis.sock/0"),
    ],
)
def test_redis_endpoint(url: str, expected: str) -> None:
    assert redis_probe.endpoint(url) == expected


def test_redis_connect_and_hit_rate_on_the_real_server() -> None:
    client = redis_probe.connect(REDIS_URL, 2.0)
    try:
        rate = redis_probe.hit_rate(client)  # shared server: any value, but a valid one
        assert rate is None or 0.0 <= rate <= 1.0
    finally:
        client.close()


@pytest.fixture
def private_redis() -> Iterator[str]:
    """A redis-server of our own, so statistics can be reset without disturbing anyone."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("redis-server", lambda: answers_tcp(port), 10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


def test_redis_hit_rate_is_hits_over_lookups(private_redis: str) -> None:
    client = redis_probe.connect(private_redis, TIMEOUT_S)
    try:
        client.config_resetstat()
        assert redis_probe.hit_rate(client) is None  # no lookups: no rate
        client.set("golive:test:present", "1")
        client.get("golive:test:present")
        for _ in range(3):
            client.get("golive:test:absent")
        assert redis_probe.hit_rate(client) == 0.25
    finally:
        client.close()


def test_redis_closed_port_raises_with_masked_endpoint(closed_port: int) -> None:
    error = probe_error(lambda: redis_probe.connect(f"redis://:{PASSWORD}@127.0.0.1:{closed_port}/0", TIMEOUT_S))
    assert_names(error, "redis", f"127.0.0.1:{closed_port}/0", "Connection refused")


def test_redis_wrong_password_keeps_password_out() -> None:
    with pytest.raises(ProbeError) as caught:
        redis_probe.connect(f"redis://golive:{PASSWORD}@127.0.0.1:6379/0", TIMEOUT_S)
    assert_names(caught.value, "redis", "127.0.0.1:6379/0")


def test_redis_hanging_port_is_bounded(hanging_port: int) -> None:
    error = probe_error(lambda: redis_probe.connect(f"redis://127.0.0.1:{hanging_port}/0", TIMEOUT_S))
    assert_names(error, "redis", f"127.0.0.1:{hanging_port}/0", "no answer within 0.5s")


def test_redis_hit_rate_on_a_dead_client_raises(private_redis: str) -> None:
    client = redis_probe.connect(private_redis, TIMEOUT_S)
    client.shutdown(nosave=True)
    try:
        with pytest.raises(ProbeError) as caught:
            redis_probe.hit_rate(client)
        assert_names(caught.value, "redis", private_redis.removeprefix("redis://"))
    finally:
        client.close()


# --- aws -------------------------------------------------------------------------------------------------


def test_aws_client_is_bounded_and_retries_once(aws_credentials: None) -> None:
    s3 = aws.client("s3", "eu-west-1", "http://127.0.0.1:1", 3.0)
    config = s3.meta.config
    assert (config.connect_timeout, config.read_timeout, s3.meta.region_name) == (3.0, 3.0, "eu-west-1")
    assert config.retries == {"total_max_attempts": 2, "mode": "standard"}


def test_aws_call_returns_the_response(aws_credentials: None, moto_url: str) -> None:
    s3 = aws.client("s3", "us-east-1", moto_url, 2.0)
    assert isinstance(aws.call(s3, "list_buckets")["Buckets"], list)


def test_aws_client_error_becomes_probe_error(aws_credentials: None, moto_url: str) -> None:
    s3 = aws.client("s3", "us-east-1", moto_url, 2.0)
    with pytest.raises(ProbeError) as caught:
        aws.call(s3, "head_bucket", Bucket=f"golive-test-missing-{uuid.uuid4().hex[:8]}")
    assert_names(caught.value, "aws", moto_url, "s3 head_bucket: 404")
    with pytest.raises(ProbeError, match="secretsmanager describe_secret: ResourceNotFoundException"):
        aws.call(aws.client("secretsmanager", "us-east-1", moto_url, 2.0), "describe_secret", SecretId="golive/none")


def test_aws_closed_port_raises(aws_credentials: None, closed_port: int) -> None:
    s3 = aws.client("s3", "us-east-1", f"http://127.0.0.1:{closed_port}", TIMEOUT_S)
    error = probe_error(lambda: aws.call(s3, "list_buckets"))
    assert_names(error, "aws", f"127.0.0.1:{closed_port}", "EndpointConnectionError")


def test_aws_hanging_port_is_bounded(aws_credentials: None, hanging_port: int) -> None:
    s3 = aws.client("s3", "us-east-1", f"http://127.0.0.1:{hanging_port}", TIMEOUT_S)
    error = probe_error(lambda: aws.call(s3, "list_buckets"))
    assert_names(error, "aws", f"127.0.0.1:{hanging_port}", "no answer within 0.5s (2 attempts)")


# --- prometheus --------------------------------------------------------------------------------------------


def _vector(*samples: tuple[dict[str, str], str]) -> dict[str, Any]:
    result = [{"metric": labels, "value": [1700000000.0, value]} for labels, value in samples]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_prometheus_query_parses_vectors_and_scalars(canned_http: CannedHTTP) -> None:
    canned_http.answer("/api/v1/query", _vector(({"job": "blue"}, "0.25"), ({"job": "green"}, "NaN")))
    with prometheus.Prometheus(canned_http.url, TIMEOUT_S) as prom:
        samples = prom.query('sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))')
        assert samples[0] == prometheus.Sample(labels={"job": "blue"}, value=0.25)
        assert samples[1].labels == {"job": "green"} and samples[1].value != samples[1].value  # NaN
        canned_http.answer("/api/v1/query", {"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}})
        assert prom.scalar("scalar(up)") == 3.0
    sent = httpx.URL(canned_http.paths()[0]).params["query"]
    assert sent == 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))'


def test_prometheus_scalar_needs_exactly_one_series(canned_http: CannedHTTP) -> None:
    with prometheus.Prometheus(canned_http.url, TIMEOUT_S) as prom:
        canned_http.answer("/api/v1/query", _vector())
        with pytest.raises(ProbeError) as caught:
            prom.scalar("up{job='blue'}")
        assert_names(caught.value, "prometheus", f"{canned_http.url}/api/v1/query", "query returned no data")
        canned_http.answer("/api/v1/query", _vector(({"job": "a"}, "1"), ({"job": "b"}, "1")))
        with pytest.raises(ProbeError, match="returned 2 series, expected one"):
            prom.scalar("up")
        canned_http.answer("/api/v1/query", _vector(({"job": "a"}, "1")))
        assert prom.scalar("up") == 1.0


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}, "bad_data: parse error"),
        (200, {"status": "error"}, "status 'error': no error text"),
        (200, "<html>proxy login</html>", "not JSON"),
        (200, {"status": "success", "data": {"resultType": "matrix", "result": []}}, "unusable matrix result"),
        (200, {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}, "unusable"),
        (200, {"status": "success"}, "no data object"),
    ],
)
def test_prometheus_query_refuses_unusable_answers(
    canned_http: CannedHTTP, status: int, body: object, fragment: str
) -> None:
    canned_http.answer("/api/v1/query", body, status=status)
    with prometheus.Prometheus(canned_http.url, TIMEOUT_S) as prom, pytest.raises(ProbeError) as caught:
        prom.query("up")
    assert_names(caught.value, "prometheus", f"{canned_http.url}/api/v1/query", fragment)


def test_prometheus_targets_and_rule_names(canned_http: CannedHTTP) -> None:
    canned_http.answer(
        "/api/v1/targets",
        {
            "status": "success",
            "data": {
                "activeTargets": [
                    {"labels": {"job": "blue", "instance": "127.0.0.1:18001"}, "health": "up", "lastError": "",
                     "scrapeUrl": "http://127.0.0.1:18001/metrics", "lastScrape": "2026-12-02T01:08:39.425050222Z",
                     "scrapeInterval": "1m30s"},
                    {"labels": {"job": "green", "instance": "127.0.0.1:18002"}, "health": "down",
                     "lastError": "connection refused", "lastScrape": "0001-01-01T00:00:00Z"},
                ],
                "droppedTargets": [],
            },
        },
    )  # fmt: skip
    canned_http.answer(
        "/api/v1/rules",
        {
            "status": "success",
            "data": {
                "groups": [
                    {"name": "slo", "rules": [{"name": "HighErrorRate", "type": "alerting"},
                                              {"name": "job:errors:rate5m", "type": "recording"}]},
                    {"name": "empty", "rules": []},
                ]
            },
        },
    )  # fmt: skip
    with prometheus.Prometheus(canned_http.url, TIMEOUT_S) as prom:
        # lastScrape as Unix seconds (RFC 3339 with nanoseconds in the answer); Go's zero time is never.
        assert prom.targets() == [
            {"job": "blue", "instance": "127.0.0.1:18001", "scrapeUrl": "http://127.0.0.1:18001/metrics",
             "health": "up", "lastError": "", "lastScrape": pytest.approx(1796173719.425050), "scrapeInterval": 90.0},
            {"job": "green", "instance": "127.0.0.1:18002", "scrapeUrl": "", "health": "down",
             "lastError": "connection refused", "lastScrape": None, "scrapeInterval": None},
        ]  # fmt: skip
        assert prom.rule_names() == {"HighErrorRate", "job:errors:rate5m"}
    assert "state=active" in canned_http.paths()[0]


def test_prometheus_closed_port_raises(closed_port: int) -> None:
    with prometheus.Prometheus(f"http://admin:{PASSWORD}@127.0.0.1:{closed_port}", TIMEOUT_S) as prom:
        error = probe_error(lambda: prom.scalar("up"))
    assert_names(error, "prometheus", f"http://admin:***@127.0.0.1:{closed_port}/api/v1/query", "cannot connect")


def test_prometheus_hanging_port_is_bounded(hanging_port: int) -> None:
    with prometheus.Prometheus(f"http://127.0.0.1:{hanging_port}", TIMEOUT_S) as prom:
        error = probe_error(prom.targets)
    assert_names(error, "prometheus", f"127.0.0.1:{hanging_port}/api/v1/targets", "no answer within 0.5s")


# --- the same promise everywhere ---------------------------------------------------------------------------


def test_probe_errors_never_chain_the_unmasked_original(closed_port: int) -> None:
    """A traceback printer shows __cause__ and __context__: they must not carry the raw exception."""
    with pytest.raises(ProbeError) as caught:
        postgres.connect(f"postgresql://postgres:{PASSWORD}@127.0.0.1:{closed_port}/postgres", TIMEOUT_S)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- haproxy admin socket ------------------------------------------------------------------------------


class UnixSocketServer:
    """A unix socket that records each command it is sent and answers it with ``answer`` (None: stays silent,
    holding the connection open until closed)."""

    def __init__(self, path: Path, answer: str | None) -> None:
        self.path = path
        self.answer = answer
        self.commands: list[str] = []
        self.held: list[socket.socket] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if self.answer is None:
                self.held.append(conn)
                continue
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.commands.append(data.decode().strip())
                conn.sendall(self.answer.encode())

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory with a short path: a unix socket's path must fit in 107 bytes."""
    directory = Path(tempfile.mkdtemp(prefix="golive-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def haproxy_probe(socket_path: Path) -> load_balancer.Haproxy:
    section = HaproxyLoadBalancer(
        kind="haproxy", admin_socket=str(socket_path), backend="be", servers={"blue": "blue", "green": "green"}
    )
    return load_balancer.Haproxy(section, TIMEOUT_S)


def test_haproxy_probe_reads_through_the_shared_client_and_never_sends_a_write(short_tmp: Path) -> None:
    server = UnixSocketServer(short_tmp / "admin.sock", "100 (initial 100)\n")
    try:
        probe = haproxy_probe(server.path)
        assert probe.weights() == {"blue": 100, "green": 100}
        assert haproxy_socket.command(server.path, "get weight be/blue", TIMEOUT_S) == "100 (initial 100)\n"
        sent = list(server.commands)
        assert sent == ["get weight be/blue", "get weight be/green", "get weight be/blue"]
        for write in ("set server be/blue weight 0", "disable health be/green", "shutdown sessions server be/blue"):
            assert_names(probe_error(lambda write=write: probe.command(write)), "load_balancer", str(server.path),
                         "not a read-only command")  # fmt: skip
        assert server.commands == sent  # refused before anything reached the socket
    finally:
        server.close()


def test_haproxy_silent_admin_socket_is_bounded(short_tmp: Path) -> None:
    server = UnixSocketServer(short_tmp / "admin.sock", None)
    try:
        error = probe_error(lambda: haproxy_probe(server.path).weights())
        assert_names(error, "load_balancer", str(server.path), "no answer within 0.5s")
    finally:
        server.close()


def test_haproxy_missing_admin_socket_raises(short_tmp: Path) -> None:
    error = probe_error(lambda: haproxy_probe(short_tmp / "absent.sock").weights())
    assert_names(error, "load_balancer", str(short_tmp / "absent.sock"), "admin socket: FileNotFoundError")
