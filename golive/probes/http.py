"""HTTP probe: one httpx client per target, health payloads, and transport errors as ProbeError."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from golive.probes.errors import ProbeError

# The dependency fields a health payload may carry (top level, or under "dependencies" / "checks").
DEPENDENCIES = ("database", "rabbitmq", "redis")

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
        sample = response.text[:_BODY_SAMPLE]
        raise ProbeError(
            component,
            str(response.request.url.copy_with(query=None)),
            f"HTTP {response.status_code} with a body that is not JSON: {sample!r}",
        ) from None


@dataclass(frozen=True)
class Health:
    """What a health endpoint answered."""

    status_code: int
    status: str
    version: str | None
    uptime: float | None
    dependencies: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the service says it is healthy: HTTP 200 and status "ok"."""
        return self.status_code == 200 and self.status == "ok"


def get_health(client: httpx.Client, path: str = "/health") -> Health:
    """The status, version, uptime and dependency states a service reports on its health endpoint.

    A valid JSON answer is returned whatever its HTTP status (a 503 is the service saying it is unhealthy,
    which checks report); an unreachable, silent or unparsable endpoint raises ProbeError.
    """
    response = request(client, "GET", path)
    body = json_body(response)
    where = url_of(client, path)

    def unusable(what: str) -> ProbeError:
        return ProbeError("http", where, f"HTTP {response.status_code} health answer {what}")

    if not isinstance(body, dict):
        raise unusable(f"is JSON but not an object: {type(body).__name__}")
    status = body.get("status")
    if not isinstance(status, str):
        raise unusable("has no string field 'status'")
    version = body.get("version")
    if version is not None and not isinstance(version, str):
        raise unusable(f"has a 'version' that is not a string: {version!r}")
    uptime = body.get("uptime")
    if uptime is not None and (isinstance(uptime, bool) or not isinstance(uptime, int | float)):
        raise unusable(f"has an 'uptime' that is not a number: {uptime!r}")
    return Health(
        status_code=response.status_code,
        status=status,
        version=version,
        uptime=float(uptime) if uptime is not None else None,
        dependencies=_dependencies(body),
    )


def _dependencies(body: dict[str, Any]) -> dict[str, str]:
    """Each known dependency's state: "ok" or the text the service gave instead."""
    nested = body.get("dependencies") or body.get("checks")
    sources = [body, nested] if isinstance(nested, dict) else [body]
    found: dict[str, str] = {}
    for name in DEPENDENCIES:
        for source in sources:
            if name in source:
                found[name] = _state_text(source[name])
                break
    return found


def _state_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("status"), str):
        # {"status": "error", "error": "connection refused"} reads better as the error itself.
        status: str = value["status"]
        error = value.get("error") or value.get("detail")
        return status if status == "ok" or not error else f"{status}: {error}"
    return repr(value)


def _seconds(value: float | None) -> str:
    return f"{value:g}s" if value is not None else "the configured time"
