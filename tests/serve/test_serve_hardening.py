"""`golive serve` against rough clients (issue 22): 150 connections at once are all answered; a body shorter than
its Content-Length runs nothing; a 200,000-deep JSON body is a 400, not a traceback; every refusal, for any
method and for a request line the HTTP parser refuses, is the same one-line JSON."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gates import minimal_config
from tests.support.polling import wait_for
from tests.support.serve import TOKEN, TOKEN_VARIABLE, Serving, flagger_payload, running_serve

SERVE = {"serve.token_env": TOKEN_VARIABLE, "serve.gates": ["2"], "serve.environments": ["blue"],
         "serve.max_body_bytes": 1_048_576}
AUTHORIZATION = f"Authorization: Bearer {TOKEN}\r\n"


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Serving]:
    config = minimal_config(tmp_path / "golive.yaml", SERVE)
    with running_serve(config, tmp_path / "reports") as serving:
        yield serving


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serving]:
    """One server for the refusals that change nothing (each test still checks that nothing ever ran)."""
    folder = tmp_path_factory.mktemp("shared")
    with running_serve(minimal_config(folder / "golive.yaml", SERVE), folder / "reports") as serving:
        yield serving


def _address(serving: Serving) -> tuple[str, int]:
    host, port = serving.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _exchange(serving: Serving, request: bytes, shut: bool = True, timeout_s: float = 10) -> bytes:
    """Send raw bytes (then end the sending side), and read the answer until the server closes or the bound."""
    with socket.create_connection(_address(serving), timeout=timeout_s) as connection:
        connection.sendall(request)
        if shut:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        return received


def _json_refusal(answer: bytes) -> tuple[int, dict[str, str], dict]:
    """(status, headers, document) of an answer that must be golive's one-line JSON refusal."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    assert status_line.startswith("HTTP/1."), answer[:300]
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    assert headers.get("content-type") == "application/json", answer[:300]
    assert body.count(b"\n") == 1 and body.endswith(b"\n"), answer[:300]
    document = json.loads(body)
    assert list(document) == ["error"] and isinstance(document["error"], str) and document["error"], document
    assert int(headers["content-length"]) == len(body)
    return int(status_line.split()[1]), headers, document


def _stderr_after(serving: Serving) -> str:
    """What the server wrote to its standard error, once it has stopped."""
    serving.process.terminate()
    serving.process.wait(timeout=90)
    assert serving.process.stderr is not None
    return serving.process.stderr.read()


def _nothing_ran(serving: Serving) -> None:
    assert list((serving.reports / "serve").iterdir()) == [], "a refused request started a gate run"
    assert serving.records() == []
    assert "queued run" not in (serving.reports / "timeline.jsonl").read_text()


def test_150_connections_at_once_are_all_answered(serving):
    """The accept queue holds a burst: with Python's default of 5, some of 150 waited 15 s for an answer."""
    connections = 150
    start = threading.Barrier(connections)
    answers: dict[int, tuple[bytes, float]] = {}
    request = b"GET /v1/gates/2?env=blue HTTP/1.1\r\nHost: golive\r\nConnection: close\r\n\r\n"

    def client(number: int) -> None:
        start.wait()
        began = time.monotonic()
        try:
            answers[number] = (_exchange(serving, request, shut=False, timeout_s=8)[:12], time.monotonic() - began)
        except OSError as error:
            answers[number] = (repr(error).encode(), time.monotonic() - began)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    late = {number: answer for number, answer in answers.items()
            if answer[0] != b"HTTP/1.0 401" or answer[1] > 5}
    assert len(answers) == connections and not late, f"{len(late)} of {connections} not answered 401 within 5 s"


@pytest.mark.parametrize(("target", "body"), [
    ("/v1/gates/2?env=blue", b'{"a": "bcde"}'),  # 13 bytes
    ("/v1/flagger/2?env=blue", json.dumps(flagger_payload("blue")).encode()),  # a whole payload, announced longer
])
@pytest.mark.parametrize("hang_up", [False, True], ids=["shut-write", "close"])
def test_a_body_shorter_than_its_content_length_runs_nothing(serving, target, body, hang_up):
    request = (f"POST {target} HTTP/1.1\r\nHost: golive\r\n{AUTHORIZATION}Content-Type: application/json\r\n"
               f"Content-Length: 4096\r\n\r\n").encode() + body
    if hang_up:
        with socket.create_connection(_address(serving), timeout=10) as connection:
            connection.sendall(request)
    else:
        status, _headers, document = _json_refusal(_exchange(serving, request))
        assert status == 400, document
        assert document["error"] == (f"the body ended after {len(body)} of 4096 bytes (Content-Length); "
                                     "nothing run")
    timeline = serving.reports / "timeline.jsonl"
    wait_for("the refusal in the timeline", lambda: "bytes (Content-Length); nothing run" in timeline.read_text(),
             15)
    _nothing_ran(serving)


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[Serving]:
    """A server that drops a request which stops arriving after 2 s (serve.request_timeout_s; default 30)."""
    config = minimal_config(tmp_path / "golive.yaml", {**SERVE, "serve.request_timeout_s": 2})
    with running_serve(config, tmp_path / "reports") as serving:
        yield serving


def test_a_body_that_stops_arriving_is_408_and_runs_nothing(impatient):
    """A client that sends part of its body and then nothing: dropped at serve.request_timeout_s, nothing run."""
    serving = impatient
    request = (f"POST /v1/gates/2?env=blue HTTP/1.1\r\nHost: golive\r\n{AUTHORIZATION}"
               "Content-Length: 4096\r\n\r\n").encode() + b'{"a": "bcde"}'
    status, _headers, document = _json_refusal(_exchange(serving, request, shut=False, timeout_s=45))
    assert status == 408 and document["error"] == ("the body did not arrive within 2 s (serve.request_timeout_s); "
                                                   "nothing run"), document
    assert "refused (408: the body did not arrive" in (serving.reports / "timeline.jsonl").read_text()
    _nothing_ran(serving)


@pytest.mark.parametrize("target", ["/v1/gates/2?env=blue", "/v1/flagger/2?env=blue"])
def test_a_deep_json_body_is_one_line_400(serving, target):
    deep = b"[" * 200_000
    request = (f"POST {target} HTTP/1.1\r\nHost: golive\r\n{AUTHORIZATION}Content-Type: application/json\r\n"
               f"Content-Length: {len(deep)}\r\n\r\n").encode() + deep
    status, _headers, document = _json_refusal(_exchange(serving, request, timeout_s=20))
    assert status == 400, document
    assert document["error"].startswith("the request body: nested deeper than 64 levels; not read"), document
    _nothing_ran(serving)
    stderr = _stderr_after(serving)
    assert "Traceback" not in stderr and "RecursionError" not in stderr, stderr[-2000:]
    assert stderr.count("\n") <= 1, stderr[-2000:]


def test_a_body_that_is_not_json_is_refused_on_the_gates_route(shared):
    answer = shared.post("/v1/gates/2?env=blue", content=b"run it")
    assert answer.status_code == 400 and answer.json()["error"].startswith("the request body: not JSON"), answer.text
    _nothing_ran(shared)


@pytest.mark.parametrize(("method", "target", "allow"), [
    ("PATCH", "/v1/gates/2?env=blue", "GET, POST"),
    ("OPTIONS", "/v1/gates/2?env=blue", "GET, POST"),
    ("PUT", "/v1/gates/2?env=blue", "GET, POST"),
    ("DELETE", "/v1/runs/0123456789abcdef", "GET"),
    ("PUT", "/v1/flagger/2", "POST"),
    ("GET", "/v1/flagger/2", "POST"),
    ("BREW", "/v1/gates/2?env=blue", "GET, POST"),
    ("PATCH", "/elsewhere", "GET, POST"),
    ("OPTIONS", "*", "GET, POST"),
])
def test_other_methods_are_405_with_allow(shared, method, target, allow):
    request = f"{method} {target} HTTP/1.1\r\nHost: golive\r\n{AUTHORIZATION}Content-Length: 0\r\n\r\n".encode()
    status, headers, document = _json_refusal(_exchange(shared, request))
    assert status == 405 and headers["allow"] == allow, (headers, document)
    assert document["error"].startswith(f"{method} is not accepted"), document
    _nothing_ran(shared)


def test_head_is_405_without_a_body(shared):
    request = f"HEAD /v1/gates/2?env=blue HTTP/1.1\r\nHost: golive\r\n{AUTHORIZATION}\r\n".encode()
    answer = _exchange(shared, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 405") and b"\r\nAllow: GET, POST" in head and body == b"", answer
    assert b"Content-Type: application/json" in head
    _nothing_ran(shared)


@pytest.mark.parametrize(("request_line", "status", "says"), [
    (b"GET /v1/gates/2?env=blue HTTP/2.0\r\n", 505, "Invalid HTTP version"),
    (b"GET /v1/gates/2?env=blue HTTP/x.y\r\n", 400, "Bad request version"),
    (b"GET /v1/gates/2 ?env=blue HTTP/1.1\r\n", 400, "Bad request syntax"),
    (b"GET\r\n", 400, "Bad request syntax"),
    (b"GET /v1/gates/2?env=blue\r\n", 400, "HTTP/0.9 requests are not served"),
    (b"GET /" + b"x" * 70_000 + b" HTTP/1.1\r\n", 414, "Request-URI Too Long"),
])
def test_a_request_the_parser_refuses_is_one_line_json(shared, request_line, status, says):
    answer = _exchange(shared, request_line + b"Host: golive\r\n" + AUTHORIZATION.encode() + b"\r\n")
    seen, _headers, document = _json_refusal(answer)
    assert seen == status and document["error"].startswith(says), document
    _nothing_ran(shared)


def test_too_many_headers_is_one_line_json(shared):
    headers = "".join(f"X-Filler-{number}: {number}\r\n" for number in range(120))
    request = f"GET /v1/gates/2?env=blue HTTP/1.1\r\nHost: golive\r\n{headers}{AUTHORIZATION}\r\n".encode()
    status, _headers, document = _json_refusal(_exchange(shared, request))
    assert status == 431 and document["error"].startswith("Too many headers"), document
    _nothing_ran(shared)


def test_the_kernel_cap_on_the_accept_queue_is_read_where_it_can_be(tmp_path):
    """`golive serve` warns at start when net.core.somaxconn would cut its queue below 128."""
    from golive.serve.api import ACCEPT_QUEUE, MIN_ACCEPT_QUEUE, Server
    from golive.serve.cli import accept_queue_cap

    cap = tmp_path / "somaxconn"
    cap.write_text("64\n")
    assert accept_queue_cap(cap) == 64
    cap.write_text("lots")
    assert accept_queue_cap(cap) is None
    assert accept_queue_cap(tmp_path / "absent") is None
    assert Server.request_queue_size == ACCEPT_QUEUE >= MIN_ACCEPT_QUEUE == 128
