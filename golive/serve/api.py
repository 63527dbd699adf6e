"""The HTTP API of ``golive serve`` (docs/ENGINES.md has each engine's side):

- ``GET|POST /v1/gates/{gate}?env=NAME``: runs the gate (or joins its open run) and answers, status 200, the run:
  ``{"verdict": "GO|REVIEW|NO-GO", "exit_code": N, "record": {...}, "failed": [...], ...}``. For Argo
  Rollouts' web metric provider: ``successCondition: result.verdict == "GO"``,
  ``failureCondition: result.verdict == "NO-GO"``, so a REVIEW is Inconclusive (the rollout pauses).
- ``POST /v1/flagger/{gate}[?env=NAME]``: Flagger's webhook payload (``name``, ``namespace``, ``phase``,
  ``checksum``, ``metadata``; the environment from ``?env=`` or ``metadata.env``); 200 for GO, 409 for REVIEW,
  412 for NO-GO (Flagger fails a webhook whose status is above 202), the reasons in the body.
- ``GET /v1/runs/{id}``: a run asked for earlier, running or decided.

Every request needs ``Authorization: Bearer TOKEN`` (compared in constant time; on ``/v1/flagger/`` also
``metadata.token`` when ``serve.flagger_token_in_metadata`` is true, since Flagger sends no headers); a request
without it gets 401 and runs nothing. Gate and environment names are looked up among the configured ones
(404 otherwise), never used as paths or commands. Bodies above ``serve.max_body_bytes`` get 413; a body that ends
before its ``Content-Length`` gets 400 and runs nothing; a body is read as JSON only through ``golive.inputs``
(size and depth capped: 400). Every refusal, down to a request line the HTTP parser cannot read and a method
the API has no use for (405 with ``Allow``), is one JSON line ``{"error": "..."}``. Every answer is masked; every
request and decision goes to the timeline.
"""

from __future__ import annotations

import hmac
import json
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from golive import gates
from golive.gates import Gate
from golive.inputs import InputError, json_object, parse_json
from golive.masking import Masker, clip
from golive.serve.runs import STOP_GRACE_S, Run, RunBook

FLAGGER_STATUS = {"GO": 200, "REVIEW": 409, "NO-GO": 412}
_SOCKET_TIMEOUT_S = 30.0  # a client that stops sending its request mid-way is dropped
# Connections the kernel holds for accept(). Python's default of 5 left some of 150 simultaneous connections
# unanswered for 15 s; the kernel caps the value at net.core.somaxconn (4096 on this kind of machine).
MIN_ACCEPT_QUEUE = 128
ACCEPT_QUEUE = max(MIN_ACCEPT_QUEUE, socket.SOMAXCONN)
METHODS = ("GET", "POST")  # what any route accepts; every other method is a 405
BODY = "the request body"  # how refusals of a body name it


@dataclass(frozen=True)
class Answer:
    status: int
    document: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _refusal(status: int, line: str, **headers: str) -> Answer:
    return Answer(status, {"error": line}, dict(headers))


@dataclass
class Service:
    """What the API does, apart from HTTP framing: the routes, authentication, names, runs."""

    book: RunBook
    token: str
    gates_allowed: dict[str, Gate]  # request spelling (number, name, alias) -> gate
    environments: tuple[str, ...]
    masker: Masker
    max_body_bytes: int
    flagger_token_in_metadata: bool
    announce: Callable[[str, str], None]  # (timeline kind, message)
    wait_s: float  # the longest a request waits for its run (every run ahead of it on that environment, bounded)
    request_timeout_s: float = _SOCKET_TIMEOUT_S  # serve.request_timeout_s: a request that stops arriving is dropped

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes, client: str) -> Answer:
        answer = self._route(method, target, headers, body, client)
        return Answer(answer.status, self.masker.deep(answer.document), answer.headers)

    def _route(self, method: str, target: str, headers: Mapping[str, str], body: bytes, client: str) -> Answer:
        parts = urlsplit(target)
        segments = [unquote(segment) for segment in parts.path.strip("/").split("/")]
        query = parse_qs(parts.query, keep_blank_values=True)
        what = f"{clip(method, 20)} {clip(parts.path, 80)} from {client}"
        if len(segments) != 3 or segments[0] != "v1" or segments[1] not in ("gates", "flagger", "runs"):
            if method not in METHODS:
                return _not_allowed(method, METHODS)
            return _refusal(404, f"no such endpoint: {clip(parts.path, 80)} (see docs/ENGINES.md)")
        kind, name = segments[1], segments[2]
        allowed = {"gates": METHODS, "flagger": ("POST",), "runs": ("GET",)}[kind]
        if method not in allowed:
            return _not_allowed(method, allowed, f" on /v1/{kind}/")
        payload: dict[str, Any] | None = None
        if kind == "flagger":
            payload, problem = _flagger_payload(body, self.max_body_bytes)
            if problem:
                if not self._authorized(headers, None):
                    return self._unauthorized(what)
                return _refusal(400, problem)
        if not self._authorized(headers, payload if kind == "flagger" else None):
            return self._unauthorized(what)
        if kind != "flagger" and body.strip():  # the body says nothing here, but it is read as JSON or refused
            try:
                parse_json(body, BODY, max_bytes=self.max_body_bytes)
            except InputError as error:
                return _refusal(400, str(error))
        if kind == "runs":
            run = self.book.get(name)
            if run is None:
                return _refusal(404, f"no run {clip(name, 40)!r} (finished runs are kept up to serve.keep_runs)")
            return Answer(200, run.answer())
        gate = self.gates_allowed.get(name)
        if gate is None:
            return _refusal(404, f"no gate {clip(name, 40)!r} here (have: {', '.join(self._gate_names())})")
        environment, refused = self._environment(query, payload)
        if refused is not None:
            return refused
        assert environment is not None
        context = ""
        if payload is not None:
            context = (f" for Flagger canary {clip(str(payload.get('namespace')), 63)}/"
                       f"{clip(str(payload.get('name')), 63)} phase {clip(str(payload.get('phase', '?')), 40)}")
        try:
            run, joined = self.book.request(gate, environment)
        except RuntimeError as error:
            return _refusal(503, str(error))
        self.announce("event", f"serve: {what}{context}: gate {gate.name} on {environment}: "
                               f"{'joined' if joined else 'queued'} run {run.id}")
        if not run.done.wait(self.wait_s):
            return _refusal(504, f"run {run.id} has not finished within {self.wait_s:g} s; GET /v1/runs/{run.id}")
        if kind == "flagger":
            return self._flagger_answer(run)
        return Answer(200, run.answer())

    def refuse_body(self, method: str, target: str, client: str, status: int, line: str) -> Answer:
        """A body that did not arrive whole (shorter than its Content-Length, or too slow): nothing runs."""
        self.announce("warning", f"serve: {clip(method, 20)} {clip(urlsplit(target).path, 80)} from {client}: "
                                 f"refused ({status}: {line})")
        return _refusal(status, line)

    def _authorized(self, headers: Mapping[str, str], payload: dict[str, Any] | None) -> bool:
        expected = self.token.encode()
        scheme, _, credential = (headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), expected):
            return True
        if self.flagger_token_in_metadata and payload is not None:
            metadata = payload.get("metadata") or {}
            given = metadata.get("token") if isinstance(metadata, dict) else None
            if isinstance(given, str) and hmac.compare_digest(given.encode(), expected):
                return True
        return False

    def _unauthorized(self, what: str) -> Answer:
        self.announce("warning", f"serve: {what}: refused (401: no valid bearer token); nothing run")
        return _refusal(401, "a valid bearer token is required (Authorization: Bearer TOKEN)",
                        **{"WWW-Authenticate": 'Bearer realm="golive"'})

    def _environment(self, query: Mapping[str, list[str]], payload: dict[str, Any] | None
                     ) -> tuple[str | None, Answer | None]:
        given = query.get("env", [])
        metadata = (payload or {}).get("metadata") or {}
        if isinstance(metadata, dict) and isinstance(metadata.get("env"), str):
            given = [*given, metadata["env"]]
        if not given:
            return None, _refusal(400, "say which environment: ?env=NAME"
                                       + (" or metadata.env" if payload is not None else ""))
        if len(set(given)) > 1:
            return None, _refusal(400, "the environment is given twice, differently (?env= and metadata.env)")
        if given[0] not in self.environments:
            return None, _refusal(404, f"no environment {clip(given[0], 40)!r} here "
                                       f"(have: {', '.join(self.environments)})")
        return given[0], None

    def _flagger_answer(self, run: Run) -> Answer:
        # Flagger puts the body of a failed webhook in its events and logs: the decision without the record.
        document = {key: value for key, value in run.answer().items() if key != "record"}
        document["failed"] = [check["id"] for check in document["failed"]]
        return Answer(FLAGGER_STATUS.get(run.verdict or "NO-GO", 412), document)

    def _gate_names(self) -> list[str]:
        names = {gate.name: gate.number or gate.name for gate in self.gates_allowed.values()}
        return sorted(names.values())


def _not_allowed(method: str, allowed: tuple[str, ...], where: str = "") -> Answer:
    return _refusal(405, f"{clip(method, 20)} is not accepted{where} (use {' or '.join(allowed)})",
                    Allow=", ".join(allowed))


def _flagger_payload(body: bytes, max_bytes: int) -> tuple[dict[str, Any] | None, str | None]:
    """Flagger's webhook payload, or the one line saying what is wrong with it."""
    try:
        payload = json_object(body, BODY, max_bytes=max_bytes)
    except InputError as error:
        return None, f"{error} (Flagger sends {{name, namespace, phase, checksum, metadata}})"
    for key in ("name", "namespace"):
        if not isinstance(payload.get(key), str) or not payload[key]:
            return None, f"Flagger's payload lacks {key!r}"
    metadata = payload.get("metadata")
    if metadata is not None and not (isinstance(metadata, dict)
                                     and all(isinstance(v, str) for v in metadata.values())):
        return None, "Flagger's metadata must map names to strings"
    return payload, None


def gate_spellings(configured: list[str] | None) -> dict[str, Gate]:
    """Every spelling of every gate the service accepts (``serve.gates``, else every gate)."""
    chosen = [gates.BY_ARGUMENT[name] for name in configured] if configured else list(gates.GATES)
    return {spelling: gate for gate in chosen for spelling in gate.arguments}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = ACCEPT_QUEUE

    def __init__(self, address: tuple[str, int], service: Service) -> None:
        self.service = service
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.service.request_timeout_s)  # StreamRequestHandler's own timeout is per class
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (reset mid-line or mid-body, say): one line in the log, no traceback."""
        error = sys.exc_info()[1]
        line = self.service.masker(f"{client_address[0]}: connection dropped ({type(error).__name__}: "
                                   f"{clip(str(error), 200)})")
        sys.stderr.write(f"golive serve: {line}\n")


class _Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "golive-serve"

    def parse_request(self) -> bool:
        """Every method goes to ``_serve`` (the base class would answer one without a ``do_`` method with a 501
        HTML page); an HTTP/0.9 request, which would get an answer without a status line, is refused."""
        if not super().parse_request():
            return False  # send_error has answered
        if self.request_version == "HTTP/0.9":
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not served; send HTTP/1.0 or 1.1")
        else:
            self._serve(self.command)
        return False  # answered: handle_one_request dispatches nothing more

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the base class refuses (a request line, version or headers it cannot read) as golive's JSON line."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # the version was not read: answer with a status line all the same
            self.request_version = "HTTP/1.0"
        try:
            line = message or HTTPStatus(code).phrase
        except ValueError:
            line = f"error {code}"
        self._send(_refusal(code, self.server.service.masker(clip(line, 200))))

    def _serve(self, method: str) -> None:
        service = self.server.service
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True  # the body is not read
            return self._send(_refusal(411, "send the body with a Content-Length"))
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return self._send(_refusal(400, "Content-Length is not a number"))
        if length < 0:
            self.close_connection = True
            return self._send(_refusal(400, "Content-Length is negative"))
        if length > service.max_body_bytes:
            self.close_connection = True  # the body is not read
            return self._send(_refusal(413, f"the body is {length} bytes; at most {service.max_body_bytes} "
                                            "(serve.max_body_bytes)"))
        client = self.client_address[0]
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            self.close_connection = True
            return self._send(service.refuse_body(method, self.path, client, 408, "the body did not arrive within "
                                                  f"{service.request_timeout_s:g} s (serve.request_timeout_s); "
                                                  "nothing run"))
        if len(body) < length:  # the client hung up mid-body: what arrived is not the request it announced
            self.close_connection = True
            return self._send(service.refuse_body(method, self.path, client, 400, f"the body ended after "
                                                  f"{len(body)} of {length} bytes (Content-Length); nothing run"))
        headers = {key: value for key, value in self.headers.items()}
        try:
            answer = service.handle(method, self.path, headers, body, client)
        except Exception as error:  # golive's own fault: a 500 that fails closed, one line in the log
            self.log_error("internal error: %s: %s", type(error).__name__, clip(str(error), 200))
            answer = _refusal(500, "golive serve failed on this request (its log says why); nothing decided")
        self._send(answer)

    def _send(self, answer: Answer) -> None:
        data = (json.dumps(answer.document, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for key, value in answer.headers.items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:  # the engine hung up (its own timeout); the run stays retrievable by id
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        line = self.server.service.masker(clip(f"{self.address_string()} {format % args}", 500))
        sys.stderr.write(f"golive serve: {line}\n")


def longest_wait_s(timeout_s: float, gates_per_environment: int) -> float:
    """How long a request may wait: every gate of its environment ahead of it, each to its bound and the stop."""
    return (timeout_s + STOP_GRACE_S + 10) * (gates_per_environment + 1)
