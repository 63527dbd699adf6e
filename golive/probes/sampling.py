"""Active latency sampling: N requests at concurrency C against a few paths, bounded in time.

C worker threads, each with its own keep-alive ``http.client`` connection (the standard library's, not httpx:
at a few milliseconds per request, a shared httpx client's own overhead under the GIL showed up as 2-3x the
p95 that ``hey`` measured on the same endpoint; see benchmarks/p95_vs_hey.py). Each worker first sends one
unmeasured warm-up request (a connection's first request measures connection set-up, not the service). Every
request is bounded by ``timeout_s`` as a whole (not per read: a trickling answer is cut off) and no request
starts after ``max_duration_s``; a sample takes at most ``max_duration_s`` plus two timeouts (the warm-up and
the last request), after which requests still in flight are cut off (their sockets shut) and counted as errors.
An origin that gave golive no answer in time earlier in the run (golive.probes.http) is not sampled again.
An error is a transport failure (refused, reset, timed out) or an HTTP 5xx answer; 4xx answers are the
service working as designed (401 on an endpoint that needs credentials) and count as successes.
"""

from __future__ import annotations

import contextlib
import gc
import http.client
import math
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

from golive.config import MAX_BODY_BYTES
from golive.masking import mask_url
from golive.probes.http import remember_unanswered, unanswered

_SERVER_ERROR = 500
_CHUNK = 65536


@dataclass(frozen=True)
class Sample:
    """What a sampling run saw: latencies of answered requests, errors, and whether it ran to the end."""

    url: str
    paths: tuple[str, ...]
    requested: int
    concurrency: int
    completed: int  # requests that got an answer or failed (not those cut off by max_duration_s)
    errors: int
    duration_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_examples: tuple[str, ...] = field(default_factory=tuple)

    @property
    def error_ratio(self) -> float:
        """Errors over completed requests (1.0 when nothing completed: a sample with no answer is all errors)."""
        return self.errors / self.completed if self.completed else 1.0

    @property
    def truncated(self) -> bool:
        """Whether max_duration_s stopped the run before every request was sent."""
        return self.completed < self.requested

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["paths"] = list(self.paths)
        data["error_examples"] = list(self.error_examples)
        data["error_ratio"] = self.error_ratio
        data["truncated"] = self.truncated
        return data


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values (None for no values)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class _Connection:
    """One worker's keep-alive connection; reopened when the server closed it between two requests."""

    def __init__(self, base: SplitResult, timeout_s: float, verify_tls: bool, max_body_bytes: int) -> None:
        self.base = base
        self.timeout_s = timeout_s
        self.verify_tls = verify_tls
        self.max_body_bytes = max_body_bytes
        self.prefix = base.path.rstrip("/")
        self.connection: http.client.HTTPConnection | None = None

    def _open(self) -> http.client.HTTPConnection:
        host, port = self.base.hostname or "localhost", self.base.port
        if self.base.scheme == "https":
            context = ssl.create_default_context()
            if not self.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=context)
        return http.client.HTTPConnection(host, port, timeout=self.timeout_s)

    def status(self, method: str, path: str) -> int:
        """Send one request, read the whole answer (so the connection can be reused), return its status."""
        reused = self.connection is not None
        if self.connection is None:
            self.connection = self._open()
        try:
            deadline = time.monotonic() + self.timeout_s
            self.connection.request(method, self.prefix + path, headers={"User-Agent": "golive-sampler"})
            response = self.connection.getresponse()
            received = 0
            while chunk := response.read1(_CHUNK):  # one read at a time, so a trickle cannot outlast the deadline
                received += len(chunk)
                if received > self.max_body_bytes:
                    raise _TooLarge(f"HTTP {response.status} answer larger than {self.max_body_bytes} bytes "
                                    "(http.max_body_bytes); golive stopped reading")  # fmt: skip
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"answer not complete within {self.timeout_s:g}s")
            # read1 leaves a fully read answer open; read() at its end closes it, so the connection can be reused.
            response.read()
            if response.will_close:
                self.close()
            return response.status
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused:
                raise
            # The server closed an idle keep-alive connection: that is not the service failing. Once more, fresh.
            return self.status(method, path)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError):
                self.connection.close()
            self.connection = None

    def cut_off(self) -> None:
        """From another thread: end the request in flight now (shutting the socket wakes a blocked read)."""
        connection = self.connection
        sock = getattr(connection, "sock", None) if connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _TooLarge(http.client.HTTPException):
    """An answer past the body cap: not read further (an endless body would hold a worker to its deadline)."""


def _describe(error: BaseException, timeout_s: float) -> str:
    if isinstance(error, _TooLarge):
        return str(error)
    if isinstance(error, socket.timeout | TimeoutError):
        return str(error) if str(error).startswith("answer not complete") else f"no answer within {timeout_s:g}s"
    if isinstance(error, ConnectionRefusedError | socket.gaierror):
        return f"cannot connect ({error.strerror or type(error).__name__})"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def sample(
    base_url: str,
    paths: Sequence[str],
    requests: int,
    concurrency: int,
    max_duration_s: float,
    timeout_s: float,
    verify_tls: bool = True,
    method: str = "GET",
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Sample:
    """Send ``requests`` requests round-robin over ``paths`` with ``concurrency`` threads; measure each."""
    if not paths:
        raise ValueError("sampling needs at least one path")
    base = urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.hostname:
        raise ValueError(f"not an http(s) URL: {mask_url(base_url)}")
    workers = max(1, min(concurrency, requests))
    earlier = unanswered(base_url)
    if earlier is not None:
        return Sample(url=mask_url(base_url), paths=tuple(paths), requested=requests, concurrency=workers,
                      completed=0, errors=0, duration_s=0.0, p50_ms=None, p95_ms=None, p99_ms=None,
                      error_examples=(mask_url(f"{earlier} (earlier in this run; not sampled)"),))  # fmt: skip
    lock = threading.Lock()
    connections: list[_Connection] = []
    next_index = 0
    latencies_ms: list[float] = []
    errors: list[str] = []
    completed = 0
    started = deadline = 0.0  # set once collection is over, just before the workers start

    warm = threading.Barrier(workers)
    warm_failures: list[str] = []

    def worker() -> None:
        nonlocal next_index, completed
        connection = _Connection(base, timeout_s, verify_tls, max_body_bytes)
        with lock:
            connections.append(connection)
        try:
            # One unmeasured request per worker opens its connection and warms the code paths: at 100 requests
            # and concurrency 10, ten cold first requests would otherwise be the slowest 10 % (the p95).
            try:
                connection.status(method, paths[0])
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                if isinstance(exc, socket.timeout | TimeoutError | _TooLarge):
                    with lock:
                        warm_failures.append(f"{method} {paths[0]}: {_describe(exc, timeout_s)}")
            # Measure only once every worker is warm: a cold request in flight slows the measured ones beside it.
            with contextlib.suppress(threading.BrokenBarrierError):
                warm.wait(timeout=max(0.0, deadline - time.monotonic()))
            with lock:
                if len(warm_failures) == workers:
                    # Not one connection got a usable answer (none in time, or none within the body cap): the
                    # service hangs or answers without end; measuring would only wait or read more of the same.
                    return
            while True:
                with lock:
                    if next_index >= requests or time.monotonic() >= deadline:
                        return
                    index = next_index
                    next_index += 1
                path = paths[index % len(paths)]
                began = time.perf_counter()
                problem: str | None = None
                elapsed_ms: float | None
                try:
                    status = connection.status(method, path)
                    elapsed_ms = (time.perf_counter() - began) * 1000
                    if status >= _SERVER_ERROR:
                        problem = f"{method} {path}: HTTP {status}"
                except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                    elapsed_ms = None
                    problem = f"{method} {path}: {_describe(exc, timeout_s)}"
                with lock:
                    completed += 1
                    if elapsed_ms is not None:
                        latencies_ms.append(elapsed_ms)
                    if problem is not None:
                        errors.append(problem)
        finally:
            connection.close()

    # A garbage collection pass stops every worker thread mid-request (tens of ms in a process as large as a
    # pytest session): collect first, then keep the collector out of the measured seconds.
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    started = time.monotonic()
    deadline = started + max_duration_s
    threads = [threading.Thread(target=worker, name="golive-sampling", daemon=True) for _ in range(workers)]
    try:
        for thread in threads:
            thread.start()
        # The warm-up, then no start after the deadline, then one request's timeout: past that, cut off.
        cut_off_at = deadline + 2 * timeout_s
        for thread in threads:
            thread.join(max(0.0, cut_off_at - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            with lock:
                for connection in connections:
                    connection.cut_off()
            for thread in threads:
                thread.join(timeout_s)
    finally:
        if collecting:
            gc.enable()
    with lock:
        latencies_ms.sort()
        examples = list(dict.fromkeys(errors))
        if len(warm_failures) == workers and not completed:
            examples.insert(0, f"{warm_failures[0]} (every connection's first request; none measured)")
        if examples and not latencies_ms and all(_timed_out(example) for example in examples):
            # Not one answer, every request timed out: the service hangs; later checks need not wait for it.
            remember_unanswered(base_url, f"{mask_url(base_url)} {examples[0]}")
    return Sample(
        url=mask_url(base_url),
        paths=tuple(paths),
        requested=requests,
        concurrency=workers,
        completed=completed,
        errors=len(errors),
        duration_s=round(time.monotonic() - started, 3),
        p50_ms=_rounded(percentile(latencies_ms, 0.50)),
        p95_ms=_rounded(percentile(latencies_ms, 0.95)),
        p99_ms=_rounded(percentile(latencies_ms, 0.99)),
        # A few distinct examples are enough to say what went wrong.
        error_examples=tuple(mask_url(e) for e in examples)[:3],
    )


def _timed_out(error: str) -> bool:
    return "no answer within" in error or "answer not complete within" in error


def _rounded(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
