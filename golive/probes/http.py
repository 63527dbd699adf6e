"""HTTP probe: one httpx client per target, health answers (read by golive.health), transport errors as ProbeError."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from golive import facts, health
from golive.masking import clip
from golive.probes.errors import ProbeError

if TYPE_CHECKING:
    from golive.config import Http

_BODY_SAMPLE = 80


def make_client(
    base_url: str, timeout_s: float, verify_tls: bool = True, max_connections: int = 10, max_keepalive: int = 5
) -> httpx.Client:
    """A keep-alive client for one target whose every connect, read, write and pool wait is bounded."""
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s),
        verify=verify_tls,
        follow_redirects=False,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive, keepalive_expiry=30.0
        ),
    )


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
    failure raises ProbeError."""
    try:
        return client.request(method, path, params=params, json=json)
    except httpx.ConnectTimeout:
        detail = f"no connection within {_seconds(client.timeout.connect)}"
    except httpx.TimeoutException:
        detail = f"no answer within {_seconds(client.timeout.read)}"
    except httpx.ConnectError as exc:
        detail = f"cannot connect: {exc}"
    except httpx.TransportError as exc:
        detail = f"{type(exc).__name__}: {exc}"
    raise ProbeError(component, url_of(client, path), detail) from None


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
