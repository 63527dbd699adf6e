"""Redis probe: bounded connections and the cache hit rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

from golive.masking import Masker, mask_url, password_of
from golive.probes.errors import ProbeError, not_asked_again, remember_unanswered


def endpoint(url: str) -> str:
    """Where a Redis URL points, as host:port/db (or path/db for unix:// URLs; no credentials)."""
    try:
        return _describe_target(parse_url(url))
    except ValueError:
        return mask_url(url)


def connect(url: str, timeout_s: float) -> redis.Redis:
    """A client whose connect and every reply are bounded by timeout_s, checked with a PING."""
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        # One attempt: retries would multiply the time a dead server costs.
        retry=Retry(NoBackoff(), 0),
    )
    where = endpoint(url)
    service = f"redis://{where.rsplit('/', 1)[0]}"
    not_asked_again("redis", service, where)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        error = _probe_error(where, exc, timeout_s, Masker([password_of(url) or ""]))
        if isinstance(exc, redis.TimeoutError):
            remember_unanswered(service, f"{where}: {error.detail}")
        raise error from None
    return client


def hit_rate(client: redis.Redis) -> float | None:
    """The share of key lookups that found their key since the statistics were last reset.

    None when there were no lookups at all (hits and misses both zero): no traffic, not a bad cache.
    """
    where = _endpoint_of(client)
    stats = _info(client, "stats")
    try:
        hits = int(stats["keyspace_hits"])
        misses = int(stats["keyspace_misses"])
    except (KeyError, TypeError, ValueError):
        raise ProbeError("redis", where, "INFO stats has no usable keyspace_hits / keyspace_misses") from None
    if hits + misses == 0:
        return None
    return hits / (hits + misses)


@dataclass(frozen=True)
class Memory:
    """What the server uses against its limit (``maxmemory`` 0: no limit)."""

    used_bytes: int
    max_bytes: int
    policy: str

    @property
    def ratio(self) -> float | None:
        return self.used_bytes / self.max_bytes if self.max_bytes else None


def memory(client: redis.Redis) -> Memory:
    """used_memory, maxmemory and maxmemory_policy from INFO memory."""
    info = _info(client, "memory")
    try:
        return Memory(int(info["used_memory"]), int(info["maxmemory"]), str(info.get("maxmemory_policy", "")))
    except (KeyError, TypeError, ValueError):
        raise ProbeError("redis", _endpoint_of(client), "INFO memory has no usable used_memory / maxmemory") from None


def evicted_keys(client: redis.Redis) -> int:
    """Keys evicted to honour maxmemory since the server started (or CONFIG RESETSTAT)."""
    try:
        return int(_info(client, "stats")["evicted_keys"])
    except (KeyError, TypeError, ValueError):
        raise ProbeError("redis", _endpoint_of(client), "INFO stats has no usable evicted_keys") from None


@dataclass(frozen=True)
class Replication:
    """The server's place in replication: its role, its replicas' states, its link to its primary."""

    role: str  # "master" or "slave", as Redis says
    replicas: tuple[tuple[str, str], ...]  # (ip:port, state) of each connected replica
    primary_link: str | None  # a replica's master_link_status ("up", "down"); None on a primary


def replication(client: redis.Redis) -> Replication:
    """INFO replication, read: a primary's replicas (``slaveN`` lines) and a replica's link to its primary."""
    info = _info(client, "replication")
    role = str(info.get("role", ""))
    if role not in ("master", "slave"):
        raise ProbeError("redis", _endpoint_of(client), f"INFO replication reports role {role!r}")
    replicas = []
    for key, value in sorted(info.items()):
        if key.startswith("slave") and key[5:].isdigit() and isinstance(value, dict):
            replicas.append((f"{value.get('ip')}:{value.get('port')}", str(value.get("state", "unknown"))))
    link = info.get("master_link_status")
    return Replication(role=role, replicas=tuple(replicas), primary_link=str(link) if link is not None else None)


def _info(client: redis.Redis, section: str) -> dict[str, Any]:
    try:
        return dict(client.info(section))
    except redis.RedisError as exc:
        raise _probe_error(_endpoint_of(client), exc, _timeout_of(client), Masker()) from None


def _probe_error(where: str, exc: redis.RedisError, timeout_s: float | None, masker: Masker) -> ProbeError:
    if isinstance(exc, redis.TimeoutError) and timeout_s:
        detail = f"no answer within {timeout_s:g}s"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return ProbeError("redis", where, masker(detail))


def _endpoint_of(client: redis.Redis) -> str:
    return _describe_target(client.connection_pool.connection_kwargs)


def _describe_target(kwargs: dict[str, Any]) -> str:
    """host:port/db (or path/db) from redis-py's connection keywords, with redis-py's defaults."""
    db = kwargs.get("db") or 0
    if kwargs.get("path"):
        return f"{kwargs['path']}/{db}"
    return f"{kwargs.get('host') or 'localhost'}:{kwargs.get('port') or 6379}/{db}"


def _timeout_of(client: redis.Redis) -> float | None:
    value = client.connection_pool.connection_kwargs.get("socket_timeout")
    return float(value) if value else None
