"""Bounded whatever the endpoint does (issue 12, item 1): hung, trickling and huge answers from small servers
of our own. Each probe must end (checked with a generous liveness bound on a thread, never a timed assertion
of speed: benchmarks/hung_endpoints.py prints the times), fail closed and say why."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from golive.probes import http, sampling
from golive.probes.bounded import Overdue, side_by_side
from golive.probes.errors import ProbeError
from tests.canned_http import CannedHTTP

TIMEOUT_S = 0.5
LIVENESS_S = 15.0  # far beyond any bound: a probe still running then would have run for ever


def ends(call: Callable[[], Any]) -> Any:
    """Run ``call`` on a thread; it must end (returning or raising) within LIVENESS_S. Returns what it
    returned, or the exception it raised."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:
            outcome["value"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(LIVENESS_S)
    assert not thread.is_alive(), f"still running after {LIVENESS_S} s: not bounded"
    return outcome["value"]


class SilentPeer:
    """A loopback TCP server for the non-HTTP protocols (PostgreSQL, Redis, AMQP): it accepts each connection,
    reads what the client sends and never answers until closed; counts the connections. (HTTP services that hang
    are the shared canned server's ``hang`` behaviour.)"""

    def __init__(self) -> None:
        self.connections = 0
        self.closing = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
            except OSError:
                return
            self.closing.wait()

    def close(self) -> None:
        self.closing.set()
        self.sock.close()


@contextmanager
def silent_peer() -> Iterator[SilentPeer]:
    peer = SilentPeer()
    try:
        yield peer
    finally:
        peer.close()


def test_a_trickling_body_ends_at_the_total_deadline(canned_http: CannedHTTP) -> None:
    canned_http.answer("*", behaviour="trickle-body")  # Content-Length 100000, a byte at a time
    with http.make_client(canned_http.url, TIMEOUT_S) as c:
        error = ends(lambda: http.request(c, "GET", "/health"))
    assert isinstance(error, ProbeError), error
    assert error.detail.startswith("answer not complete within 0.5s ("), error.detail
    assert error.endpoint.endswith("/health")


def test_trickling_headers_end_at_the_total_deadline(canned_http: CannedHTTP) -> None:
    canned_http.answer("*", behaviour="trickle-headers")
    with http.make_client(canned_http.url, TIMEOUT_S) as c:
        error = ends(lambda: http.get_health(c, http_settings()))
    assert isinstance(error, ProbeError) and error.detail == "no answer within 0.5s", error


def test_a_huge_answer_is_cut_at_the_body_cap(canned_http: CannedHTTP) -> None:
    canned_http.answer("*", behaviour="endless")  # chunks of 64 KiB for ever
    server = canned_http
    with http.make_client(server.url, 5.0, max_body_bytes=1_000_000) as client:
        error = ends(lambda: http.request(client, "GET", "/health"))
    assert isinstance(error, ProbeError), error
    assert error.detail == (
        "HTTP 200 answer larger than 1000000 bytes (http.max_body_bytes); golive stopped reading"
    )  # fmt: skip
    # Not a hang: the next request to the same service is asked (a cap is not a timeout).
    assert http.unanswered(server.url) is None


def test_sampling_an_endless_body_stops_at_the_body_cap(canned_http: CannedHTTP) -> None:
    """The sampler reads at most http.max_body_bytes of an answer, and does not measure a service whose every
    connection's first answer was past it (an endless body held each worker to its deadline)."""
    canned_http.answer("*", behaviour="endless")
    server = canned_http
    sample = ends(lambda: sampling.sample(server.url, ["/api"], 40, 4, 30.0, 30.0, max_body_bytes=1_000_000))
    assert not isinstance(sample, BaseException), sample
    assert (sample.completed, sample.p95_ms, sample.error_ratio) == (0, None, 1.0)
    assert sample.error_examples == (
        "GET /api: HTTP 200 answer larger than 1000000 bytes (http.max_body_bytes); golive stopped reading "
        "(every connection's first request; none measured)",
    )  # fmt: skip
    assert server.connections == 4  # one warm-up per worker, then nothing measured
    assert http.unanswered(server.url) is None  # it answered: not a hang


def test_an_origin_that_hung_is_not_asked_again_in_the_run(canned_http: CannedHTTP) -> None:
    canned_http.answer("*", behaviour="hang")
    server = canned_http
    with http.make_client(server.url, TIMEOUT_S) as client, \
            http.make_client(server.url + "/api", TIMEOUT_S) as other:  # fmt: skip
        first = ends(lambda: http.request(client, "GET", "/health"))
        assert isinstance(first, ProbeError) and first.detail == "no answer within 0.5s", first
        # Another check, another path, another client: fails at once with the first failure's message.
        again = ends(lambda: http.request(other, "GET", "/items"))
        assert isinstance(again, ProbeError), again
        assert again.detail == (
            f"GET {server.url}/health: no answer within 0.5s (earlier in this run; not asked again)"
        )  # fmt: skip
        assert again.endpoint == f"{server.url}/api/items"
        sample = ends(lambda: sampling.sample(server.url, ["/health"], 10, 2, 1.0, TIMEOUT_S))
        assert (sample.completed, sample.error_examples) == (
            0, (f"GET {server.url}/health: no answer within 0.5s (earlier in this run; not sampled)",)
        )  # fmt: skip
        assert server.connections == 1  # one timeout in all, not one per check
        # A dashboard frame or a watch reading starts afresh: asked again.
        http.forget_unanswered()
        ends(lambda: http.request(client, "GET", "/health"))
        assert server.connections == 2


def test_sampling_a_trickling_service_is_cut_off_and_counted_as_errors(canned_http: CannedHTTP) -> None:
    canned_http.answer("*", behaviour="trickle-body")
    server = canned_http
    sample = ends(lambda: sampling.sample(server.url, ["/health"], 20, 4, 1.0, TIMEOUT_S))
    assert not isinstance(sample, BaseException), sample
    assert sample.p95_ms is None and sample.error_ratio == 1.0
    assert any("answer not complete within 0.5s" in example for example in sample.error_examples), sample
    # Every request it sent timed out: the service hangs, and later checks of the run know it.
    assert http.unanswered(server.url) is not None


def test_sampling_a_service_that_trickles_headers_is_cut_off(canned_http: CannedHTTP) -> None:
    canned_http.answer("*", behaviour="trickle-headers")
    sample = ends(lambda: sampling.sample(canned_http.url, ["/health"], 4, 2, 0.5, TIMEOUT_S))
    assert not isinstance(sample, BaseException), sample
    assert sample.p95_ms is None and sample.error_ratio == 1.0


def test_side_by_side_stops_waiting_at_its_bound() -> None:
    release = threading.Event()

    def fails() -> None:
        raise ProbeError("redis", "127.0.0.1:6379/0", "cannot connect")

    try:
        results = ends(lambda: side_by_side({"quick": lambda: 42, "stuck": release.wait, "fails": fails}, 0.3))
    finally:
        release.set()
    assert results["quick"] == 42
    assert results["stuck"] == Overdue(0.3)
    assert isinstance(results["fails"], ProbeError)


def http_settings() -> Any:
    from golive.config import Http

    return Http()


@pytest.mark.parametrize("component", ["postgres", "redis", "rabbitmq"])
def test_a_service_that_hung_is_not_connected_to_again_in_the_run(component: str) -> None:
    from golive.probes import postgres, rabbitmq
    from golive.probes import redis as redis_probe

    with silent_peer() as server:
        port = server.port
        connect, where = {
            "postgres": (lambda: postgres.connect(f"postgresql://golive:s3cret@127.0.0.1:{port}/app", 1.0),
                         f"127.0.0.1:{port}/app"),
            "redis": (lambda: redis_probe.connect(f"redis://:s3cret@127.0.0.1:{port}/0", 1.0), f"127.0.0.1:{port}/0"),
            "rabbitmq": (lambda: rabbitmq.connect(f"amqp://guest:s3cret@127.0.0.1:{port}/%2F", 1.0),
                         f"127.0.0.1:{port}/%2F"),
        }[component]  # fmt: skip
        first = ends(connect)
        assert isinstance(first, ProbeError) and "within" in first.detail, first  # libpq waits 2 s at least
        again = ends(connect)
        assert isinstance(again, ProbeError), again
        assert again.detail == f"{where}: {first.detail} (earlier in this run; not asked again)"
        assert "s3cret" not in str(again)
        assert server.connections == 1


def test_a_locked_integrity_table_is_named_and_the_wait_bounded() -> None:
    import uuid

    import psycopg

    from golive.probes import postgres

    schema = f"golive_lock_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=5)
    try:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(f"CREATE TABLE {schema}.messages (id int)")
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=5) as holder:
            holder.execute(f"LOCK TABLE {schema}.messages IN ACCESS EXCLUSIVE MODE")  # held until rollback
            reader = postgres.connect("postgresql://postgres@127.0.0.1:5432/postgres", 1.0)
            try:
                error = ends(lambda: postgres.row_counts(reader, [f"{schema}.messages"]))
                checksum = ends(lambda: postgres.table_checksum(reader, f"{schema}.messages"))
            finally:
                reader.close()
            holder.rollback()
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.close()
    for failure in (error, checksum):
        assert isinstance(failure, ProbeError), failure
        assert failure.detail.startswith(f"table {schema}.messages: LockNotAvailable: "), failure.detail
        assert "lock timeout" in failure.detail


def test_sampling_stops_when_no_connection_gets_an_answer(canned_http: CannedHTTP) -> None:
    """A hung service is not sampled for the whole sampling window: when every connection's first request
    timed out, no request is measured (one timeout, not the window), and the run remembers the service."""
    canned_http.answer("*", behaviour="hang")
    server = canned_http
    sample = ends(lambda: sampling.sample(server.url, ["/health"], 100, 4, 30.0, TIMEOUT_S))
    assert server.connections == 4  # the four warm-ups; nothing after them
    assert (sample.completed, sample.p95_ms, sample.error_ratio) == (0, None, 1.0)
    assert sample.error_examples == (
        "GET /health: no answer within 0.5s (every connection's first request; none measured)",
    )  # fmt: skip
    assert http.unanswered(server.url) is not None


def test_sampling_reuses_keep_alive_connections(canned_http: CannedHTTP) -> None:
    """Reading answers chunk by chunk (for the deadline) still ends each one, so a keep-alive connection carries
    the next request: every request of a healthy HTTP/1.1 service succeeds, on one connection per worker."""
    canned_http.answer("*", '{"status": "ok"}' * 100)
    sample = ends(lambda: sampling.sample(canned_http.url, ["/health", "/api"], 60, 3, 10.0, 2.0))
    assert (sample.completed, sample.errors, sample.error_examples) == (60, 0, ())
    assert len({request.client_port for request in canned_http.requests}) == 3
