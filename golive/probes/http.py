"""HTTP probe: one httpx client per target, health answers (read by golive.health), transport errors as ProbeError.

Every request is bounded as a whole, not per read: httpx's timeouts apply to each network read, so an endpoint
that trickles a byte a second would never time out. ``request`` gives each request one total deadline (the
client's timeout), reads at most ``max_body_bytes`` of its answer, and remembers, for the rest of the run, an
origin that gave no answer in time: later requests to it fail at once with the first failure's message, so a
hung service costs a gate one timeout, not one per check. Long-lived commands (the dashboard, watch) forget
at each frame or interval (``forget_unanswered``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import httpx

from golive import facts, health
from golive.config import MAX_BODY_BYTES
from golive.masking import clip
from golive.probes import errors
from golive.probes.errors import ProbeError

if TYPE_CHECKING:
    from golive.config import Http

_BODY_SAMPLE = 80


class Client(httpx.Client):
    """An httpx client that carries golive's bounds: each request's total deadline and its answer's size cap."""

    def __init__(self, *, total_timeout_s: float, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.total_timeout_s = total_timeout_s
        self.max_body_bytes = max_body_bytes


def make_client(
    base_url: str,
    timeout_s: float,
    verify_tls: bool = True,
    max_connections: int = 10,
    max_keepalive: int = 5,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Client:
    """A keep-alive client for one target: each request through ``request`` ends within ``timeout_s`` in all
    (connect, send, wait and read together) and reads at most ``max_body_bytes`` of the answer."""
    return Client(
        total_timeout_s=timeout_s,
        max_body_bytes=max_body_bytes,
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s),
        verify=verify_tls,
        follow_redirects=False,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive, keepalive_expiry=30.0
        ),
    )


def client_for(url: str, settings: Http, **limits: int) -> Client:
    """A client for ``url`` bounded as the ``http`` section says (timeout, TLS verification, body cap)."""
    return make_client(url, settings.timeout_s, settings.verify_tls, max_body_bytes=settings.max_body_bytes, **limits)


def origin_of(url: str | httpx.URL) -> str:
    """``scheme://host:port`` of a URL: what a hung service is remembered by."""
    parsed = httpx.URL(str(url))
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme, 0)
    return f"{parsed.scheme}://{parsed.host}:{port}"


def unanswered(url: str | httpx.URL) -> str | None:
    """The first failure's message when the origin of ``url`` already gave no answer in time in this run."""
    return errors.unanswered(origin_of(url))


def remember_unanswered(url: str | httpx.URL, message: str) -> None:
    """Note that the origin of ``url`` gave no answer in time (``message`` says what happened, where)."""
    errors.remember_unanswered(origin_of(url), message)


forget_unanswered = errors.forget_unanswered


def url_of(client: httpx.Client, path: str) -> str:
    """The absolute URL a path on this client points at (for messages; ProbeError masks credentials)."""
    # httpx appends a relative path to the base URL's path (a prefix such as /rabbitmq/ is kept).
    return str(client.base_url).rstrip("/") + "/" + path.lstrip("/")


def request(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    component: str = "http",
    params: dict[str, str] | None = None,
    json: Any = None,
) -> httpx.Response:
    """Send one request (``json``: a body to send as JSON); whatever answer arrives is returned, a transport
    failure, an answer not complete within the client's total timeout, or one larger than its body cap raises
    ProbeError. An origin that gave no answer in time earlier in the run is not asked again."""
    url = url_of(client, path)
    errors.not_asked_again(component, origin_of(url), url)
    total_s = getattr(client, "total_timeout_s", None) or client.timeout.read or 30.0
    cap = getattr(client, "max_body_bytes", MAX_BODY_BYTES)
    fetch = _Fetch(client, method, path, params, json, cap)
    worker = threading.Thread(target=fetch.run, name="golive-http", daemon=True)
    worker.start()
    # The worker's own timeouts end most failures; the join ends the rest (a trickle, a slow huge body) on time.
    worker.join(total_s)
    if worker.is_alive():
        fetch.cancelled.set()  # it stops at its next chunk; a daemon, it never holds the process
        detail = (f"answer not complete within {_seconds(total_s)} ({fetch.received} bytes received)"
                  if fetch.answered else f"no answer within {_seconds(total_s)}")  # fmt: skip
    elif fetch.response is not None:
        return fetch.response
    else:
        detail = fetch.failure or "no answer"
    if fetch.timed_out or worker.is_alive():
        remember_unanswered(url, f"{method} {url}: {detail}")
    raise ProbeError(component, url, detail) from None


class _Fetch:
    """One request on a worker thread: the answer read whole (up to the cap), or what went wrong."""

    def __init__(
        self, client: httpx.Client, method: str, path: str, params: Any, json: Any, cap: int
    ) -> None:
        self.client, self.method, self.path, self.params, self.json, self.cap = client, method, path, params, json, cap
        self.cancelled = threading.Event()
        self.answered = False
        self.received = 0
        self.response: httpx.Response | None = None
        self.failure: str | None = None
        self.timed_out = False

    def run(self) -> None:
        try:
            self.response = self._fetch()
        except httpx.ConnectTimeout:
            self.timed_out = True
            self.failure = f"no connection within {_seconds(self.client.timeout.connect)}"
        except httpx.TimeoutException:
            self.timed_out = True
            self.failure = f"no answer within {_seconds(self.client.timeout.read)}"
        except httpx.ConnectError as exc:
            self.failure = f"cannot connect: {exc}"
        except httpx.TransportError as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
        except httpx.DecodingError as exc:
            self.failure = f"an answer golive cannot decode: {exc}"
        except _TooLarge as exc:
            self.failure = str(exc)

    def _fetch(self) -> httpx.Response | None:
        with self.client.stream(self.method, self.path, params=self.params, json=self.json) as streamed:
            self.answered = True
            body = bytearray()
            for chunk in streamed.iter_bytes():
                if self.cancelled.is_set():
                    return None
                body += chunk
                self.received = len(body)
                if len(body) > self.cap:
                    raise _TooLarge(
                        f"HTTP {streamed.status_code} answer larger than {self.cap} bytes (http.max_body_bytes); "
                        "golive stopped reading"
                    )
            # The body is decoded already: the copy must not claim an encoding it no longer has.
            headers = httpx.Headers([(k, v) for k, v in streamed.headers.multi_items()
                                     if k.lower() not in ("content-encoding", "content-length")])  # fmt: skip
            return httpx.Response(streamed.status_code, headers=headers, content=bytes(body),
                                  request=streamed.request, extensions=streamed.extensions)  # fmt: skip


class _TooLarge(Exception):
    pass


def json_body(response: httpx.Response, component: str = "http") -> Any:
    """The decoded JSON body of a response; a body that is not JSON raises ProbeError."""
    try:
        return response.json()
    except ValueError:
        sample = clip(response.text, _BODY_SAMPLE)
        raise ProbeError(
            component,
            str(response.request.url.copy_with(query=None)),
            f"HTTP {response.status_code} with a body that is not JSON: {sample!r}",
        ) from None


def health_spec(settings: Http) -> health.Spec:
    """How to read this service's health answers: ``http.health`` over golive's defaults."""
    answers = settings.health
    return health.Spec.build(
        dialect=answers.dialect, status=answers.status, version=answers.version, dependencies=answers.dependencies,
        healthy=answers.healthy, degraded=answers.degraded, unhealthy=answers.unhealthy,
        names=answers.dependency_names,
    )  # fmt: skip


def get_health(client: httpx.Client, settings: Http) -> health.HealthReading:
    """What the service says about its health: its liveness answer (``http.health_path``) and, when configured,
    its readiness (``http.health.ready_path``) and version (``http.health.version_path``) answers, read in
    whichever dialect they speak (golive.health).

    Any answer that arrives is read whatever its HTTP status (a 503 is the service saying it is unhealthy,
    which checks report). An unreachable or silent endpoint, or one whose answer golive cannot read, raises
    ProbeError; each request is bounded by the client's timeout (``http.timeout_s``), so a readiness endpoint
    that retries its dependencies for long cannot hold a gate. The check's record notes the dialect and
    endpoints read.
    """
    spec = health_spec(settings)
    paths = {"health": settings.health_path, "ready": settings.health.ready_path,
             "version": settings.health.version_path}  # fmt: skip
    answers = {role: _answer(client, path) for role, path in paths.items() if path is not None}
    try:
        reading = health.interpret(answers["health"], spec, answers.get("ready"), answers.get("version"))
    except health.Unreadable as error:
        raise ProbeError("http", error.endpoint, str(error)) from None
    facts.note("health", reading.facts())
    return reading


def version_in(response: httpx.Response, settings: Http) -> str | None:
    """The version one answer of the version (else health) endpoint reports, in its dialect."""
    return health.version_in(response.text, health_spec(settings), response.headers.get("content-type", ""))


def version_path(settings: Http) -> str:
    """Where the service reports its version: ``http.health.version_path``, else the health path."""
    return settings.health.version_path or settings.health_path


def _answer(client: httpx.Client, path: str) -> health.Answer:
    response = request(client, "GET", path)
    return health.Answer(url_of(client, path), response.status_code, response.headers.get("content-type", ""),
                         response.text)  # fmt: skip


def _seconds(value: float | None) -> str:
    return f"{value:g}s" if value is not None else "the configured time"
