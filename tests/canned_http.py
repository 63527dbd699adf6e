"""The one small HTTP server golive's tests point probes at: each path answers what the test says.

A route is an :class:`Answer` (status, body, headers) or a function of the :class:`Request` returning one, so
stateful stand-ins (an app exposing what it answered, a server echoing what it was sent) are routes too. The
answers a bounded probe must survive are behaviours of an Answer: ``hang`` (accept, read the request, never
answer), ``trickle-headers`` and ``trickle-body`` (a byte at a time, for ever), ``endless`` (a chunked body
with no end) and ``late`` (the answer after ``delay_s``, as a readiness endpoint retrying its database does).
Every behaviour, and every kept-alive connection, ends when the server closes. HTTP/1.1 with keep-alive;
``connections`` counts the TCP connections accepted and ``requests`` records what was asked. Pass
``tls=(certificate, key)`` for https (:func:`self_signed` makes a pair). The ``canned_http`` fixture in
tests/conftest.py gives one per test.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs

Behaviour = Literal["answer", "hang", "trickle-headers", "trickle-body", "endless", "late"]
TRICKLE_EVERY_S = 0.05  # how often a trickling answer sends its next byte


@dataclass(frozen=True)
class Request:
    """What the server was asked: ``path`` with its query string, ``route`` without."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    client_port: int  # tells the connections apart

    @property
    def route(self) -> str:
        return self.path.partition("?")[0]

    def query(self, name: str) -> str:
        """The query parameter ``name`` (its first value), or ""."""
        return parse_qs(self.path.partition("?")[2]).get(name, [""])[0]


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: a str or bytes body is sent as it is, anything else as JSON."""

    status: int = 200
    body: object = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    behaviour: Behaviour = "answer"
    delay_s: float = 0.0  # for "late"

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return (self.body if isinstance(self.body, str) else json.dumps(self.body)).encode()


Route = Answer | Callable[[Request], Answer]
NOT_FOUND = Answer(404, {"status": "error"})


class CannedHTTP:
    """A loopback HTTP(S) server answering each route as configured; ``"*"`` answers any route not given."""

    def __init__(self, routes: Mapping[str, Route] | None = None, *, tls: tuple[Path, Path] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[Request] = []
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False  # handlers that hang end on `closing`, not by being joined
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.host_port = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{'https' if tls else 'http'}://{self.host_port}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @classmethod
    def everywhere(cls, body: object = "", status: int = 200, *, tls: tuple[Path, Path] | None = None,
                   **options: Any) -> CannedHTTP:
        """A server answering every route with this body and status."""
        return cls({"*": Answer(status, body, **options)}, tls=tls)

    def answer(self, route: str, body: object = "", status: int = 200, **options: Any) -> None:
        """Answer ``route`` (a path without query, or ``"*"``) with this body and status from now on."""
        self.routes[route] = Answer(status, body, **options)

    def answer_for(self, request: Request) -> Answer:
        route = self.routes.get(request.route) or self.routes.get("*") or NOT_FOUND
        return route(request) if callable(route) else route

    def paths(self) -> list[str]:
        """The paths asked so far (with query strings), in order."""
        with self._lock:
            return [request.path for request in self.requests]

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def connected(self, connection: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._sockets.append(connection)

    def close(self) -> None:
        """Stop answering (connections are refused from now on, as a crashed service's are)."""
        if not self.closing.is_set():
            self.closing.set()
            self._server.shutdown()
            self._server.server_close()
            with self._lock:  # kept-alive connections end too: nothing answers after a close
                for connection in self._sockets:
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> CannedHTTP:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _handler(canned: CannedHTTP) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            canned.connected(self.connection)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, self.path, dict(self.headers.items()), self.rfile.read(length),
                              self.client_address[1])
            canned.record(request)
            answer = canned.answer_for(request)
            if answer.behaviour == "hang":
                canned.closing.wait()
                self.close_connection = True
                return
            if answer.behaviour == "late" and canned.closing.wait(answer.delay_s):
                return
            if answer.behaviour == "trickle-headers":
                self._trickle(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                return
            if answer.behaviour == "trickle-body":
                self._trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                return
            if answer.behaviour == "endless":
                self._endless()
                return
            data = answer.payload()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _trickle(self, head: bytes) -> None:
            self.close_connection = True
            self.wfile.write(head)
            while not canned.closing.wait(TRICKLE_EVERY_S):
                self.wfile.write(b"x")

        def _endless(self) -> None:
            self.close_connection = True
            chunk = b"x" * 65536
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            while not canned.closing.is_set():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except OSError:
                self.close_connection = True  # the client went away: what a bound does

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def self_signed(directory: Path, valid_days: float) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 expiring in ``valid_days``, and its key: (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "golive-test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"cert-{valid_days}.pem", directory / f"key-{valid_days}.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file
