"""RabbitMQ probe: bounded AMQP connections, queue depth and consumers, and the management HTTP API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import pika
import pika.exceptions
from pika.adapters.utils.connection_workflow import AMQPConnectorException, AMQPConnectorStackTimeout

from golive.masking import Masker, clip, mask_url, password_of
from golive.probes import http
from golive.probes.errors import ProbeError, not_asked_again, remember_unanswered

# pika logs a full traceback at ERROR for every failed connect; the ProbeError already says what happened,
# and those tracebacks would fill the captured log of every failing check.
logging.getLogger("pika").setLevel(logging.CRITICAL)

_NOT_FOUND = 404
# The management plugin's HTTP API listens on the node's host at 15672 (15671 with TLS) unless told otherwise
# (RabbitMQ's networking guide: "15672: HTTP API clients, management UI and rabbitmqadmin").
MANAGEMENT_PORT = 15672
MANAGEMENT_TLS_PORT = 15671


@dataclass(frozen=True)
class QueueState:
    """How many messages wait in a queue and how many consumers read it."""

    messages: int
    consumers: int


class _NoAnswer(Exception):
    """The broker stopped answering in the middle of an operation."""


def endpoint(url: str) -> str:
    """Where an AMQP URL points, as host:port/vhost (vhost percent-encoded, no credentials)."""
    try:
        params = pika.URLParameters(url)
    except Exception:  # pika raises assorted types for malformed URLs; this is only a label
        return mask_url(url)
    return f"{params.host}:{params.port}/{quote(params.virtual_host, safe='')}"


def vhost_of(url: str) -> str:
    """The virtual host an AMQP URL names (``/`` when it names none), decoded, as the management API wants it."""
    try:
        return str(pika.URLParameters(url).virtual_host)
    except Exception:  # pika raises assorted types for malformed URLs; the config already validated it
        raise ProbeError("rabbitmq", mask_url(url), "cannot read the virtual host from the AMQP URL") from None


def connect(url: str, timeout_s: float) -> pika.BlockingConnection:
    """An AMQP connection whose socket connect, handshake and blocked state are bounded by timeout_s."""
    where = endpoint(url)
    service = f"amqp://{where.split('/', 1)[0]}"
    not_asked_again("rabbitmq", service, where)
    params = pika.URLParameters(url)
    params.socket_timeout = timeout_s
    params.stack_timeout = timeout_s
    params.blocked_connection_timeout = timeout_s
    params.connection_attempts = 1
    # No heartbeats: a BlockingConnection only sends them while a call is running, so a connection held
    # idle across a long gate would be closed by the broker. Every call is bounded by _deadline instead.
    params.heartbeat = 0
    try:
        return pika.BlockingConnection(params)
    except AMQPConnectorStackTimeout:
        detail = f"no AMQP handshake within {timeout_s:g}s"
        remember_unanswered(service, f"{where}: {detail}")
    except (pika.exceptions.AMQPError, AMQPConnectorException, OSError) as exc:
        detail = _describe(exc)
    raise ProbeError("rabbitmq", where, Masker([password_of(url) or ""])(detail)) from None


def queue_state(connection: pika.BlockingConnection, queue: str) -> QueueState:
    """The message count and consumer count of a queue, read with a passive declare on a fresh channel.

    A missing queue raises ProbeError (the passive declare never creates one). The wait for the broker is
    bounded by the timeout the connection was opened with.
    """
    where = _endpoint_of(connection)
    timeout_s = _timeout_of(connection)
    if not connection.is_open:
        raise ProbeError("rabbitmq", where, f"queue {queue}: the connection is closed")
    try:
        with _deadline(connection, timeout_s):
            channel = connection.channel()
            try:
                declared = channel.queue_declare(queue=queue, passive=True)
            finally:
                if channel.is_open:
                    channel.close()
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == _NOT_FOUND:
            raise ProbeError("rabbitmq", where, f"queue {queue} does not exist") from None
        raise ProbeError("rabbitmq", where, f"queue {queue}: {exc.reply_text}") from None
    except _NoAnswer:
        raise ProbeError("rabbitmq", where, f"no answer within {timeout_s:g}s (connection dropped)") from None
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise ProbeError("rabbitmq", where, f"queue {queue}: {_describe(exc)}") from None
    return QueueState(messages=declared.method.message_count, consumers=declared.method.consumer_count)


def management_url(amqp_url: str, configured: str | None) -> tuple[str, str | None]:
    """The management API's base URL, and how golive found it when the configuration does not give it.

    ``rabbitmq.management_url`` when set; else the AMQP URL's host on the management plugin's default port,
    https on 15671 for ``amqps://``, http on 15672 otherwise (None: configured).
    """
    if configured:
        return configured, None
    parts = urlsplit(amqp_url)
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    scheme, port = ("https", MANAGEMENT_TLS_PORT) if parts.scheme == "amqps" else ("http", MANAGEMENT_PORT)
    return f"{scheme}://{host}:{port}", f"the host of rabbitmq.url on the management plugin's default port {port}"


def management(amqp_url: str, configured: str | None, timeout_s: float) -> Management:
    """The management API of the broker at ``amqp_url``, with the broker's credentials (guest when it has none)."""
    url, found = management_url(amqp_url, configured)
    parts = urlsplit(amqp_url)
    return Management(url, unquote(parts.username or "guest"), unquote(parts.password or "guest"), timeout_s,
                      found=found)


class Management:
    """The RabbitMQ management HTTP API, with basic auth and every request bounded by timeout_s.

    ``found`` says how golive found the URL when the configuration does not give it: a failure then says so,
    and which key to set.
    """

    def __init__(self, url: str, username: str, password: str, timeout_s: float, found: str | None = None) -> None:
        self.url = url
        self.found = found
        self._client = http.make_client(url, timeout_s)
        self._client.auth = httpx.BasicAuth(username, password)
        self._masker = Masker([password])

    def overview(self) -> dict[str, Any]:
        """The cluster overview: versions, object totals, message rates."""
        return self._get_object("/api/overview")

    def queue(self, vhost: str, name: str) -> dict[str, Any]:
        """One queue's details (messages, consumers, state, rates); a missing queue raises ProbeError."""
        path = f"/api/queues/{quote(vhost, safe='')}/{quote(name, safe='')}"
        response = self._request(path)
        if response.status_code == _NOT_FOUND:
            raise ProbeError("rabbitmq", http.url_of(self._client, path), f"queue {name} does not exist")
        return self._object_of(response, path)

    def alarms_ok(self) -> bool:
        """Whether the node is free of resource alarms (memory, disk): True on 200, False on 503."""
        path = "/api/health/checks/alarms"
        response = self._request(path)
        if response.status_code == 200:
            return True
        if response.status_code == 503:
            return False
        raise self._unexpected(response, path)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Management:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get_object(self, path: str) -> dict[str, Any]:
        return self._object_of(self._request(path), path)

    def _request(self, path: str) -> httpx.Response:
        try:
            return http.request(self._client, "GET", path, component="rabbitmq")
        except ProbeError as error:
            raise self._explained(error) from None

    def _explained(self, error: ProbeError) -> ProbeError:
        if self.found is None:
            return error
        return ProbeError(error.component, error.endpoint,
                          f"{error.detail} (URL from {self.found}; set rabbitmq.management_url if the management "
                          "API is elsewhere)")

    def _object_of(self, response: httpx.Response, path: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise self._unexpected(response, path)
        body = http.json_body(response, "rabbitmq")
        if not isinstance(body, dict):
            raise ProbeError("rabbitmq", http.url_of(self._client, path), "answer is not a JSON object")
        return body

    def _unexpected(self, response: httpx.Response, path: str) -> ProbeError:
        hint = " (check the management credentials)" if response.status_code in (401, 403) else ""
        sample = self._masker(clip(response.text, 80))
        return self._explained(
            ProbeError("rabbitmq", http.url_of(self._client, path), f"HTTP {response.status_code}{hint}: {sample!r}"))


@contextmanager
def _deadline(connection: pika.BlockingConnection, timeout_s: float) -> Iterator[None]:
    """Close the connection if the broker leaves a blocking call unanswered for timeout_s.

    BlockingConnection waits for replies without a limit, and its public timers only fire inside
    process_data_events, so this uses the connection's own ioloop timer, the way pika enforces
    blocked_connection_timeout.
    """
    impl = connection._impl
    timer = impl._adapter_call_later(timeout_s, lambda: impl._terminate_stream(_NoAnswer()))
    try:
        yield
    finally:
        with suppress(Exception):
            impl._adapter_remove_timeout(timer)


def _timeout_of(connection: pika.BlockingConnection) -> float:
    return float(connection._impl.params.stack_timeout or connection._impl.params.socket_timeout or 10.0)


def _endpoint_of(connection: pika.BlockingConnection) -> str:
    params = connection._impl.params
    return f"{params.host}:{params.port}/{quote(params.virtual_host, safe='')}"


def _describe(exc: BaseException) -> str:
    """One line for a pika failure, unwrapping the nested errors pika wraps connect failures in."""
    while True:
        inner = getattr(exc, "exception", None) or (exc.args[0] if exc.args else None)
        if not isinstance(inner, BaseException):
            break
        exc = inner
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, pika.exceptions.ProbableAuthenticationError):
        return "login refused (check the user and password)"
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"
