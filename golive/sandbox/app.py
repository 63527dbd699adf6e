"""The reference AI Agent Orchestrator: one ASGI app, run once per environment (blue, green) by uvicorn.

Configuration comes from environment variables (``GOLIVE_SANDBOX_VERSION``, ``_ENV``, ``_PG_DSN``,
``_AMQP_URL``, ``_REDIS_URL``, ``_FAULT_FILE``, ``_DIALECT``). Faults come from a small JSON file
(``{"error_rate": 0.5, "latency_ms": 300, "dependency_down": ["redis"]}``) re-read whenever its modification
time changes, so a fault is switched without a restart. Error rate and latency apply to the health endpoints
and ``/api/*``: the latency is added first, then that fraction of requests answers 500 (spread evenly, so 0.25
fails exactly every fourth request). A dependency listed as down is reported down by the health endpoints, as
if the app had lost its connection to it.

``GOLIVE_SANDBOX_DIALECT`` picks how health is answered (see golive.health for the formats):
- ``golive`` (default): ``/health`` ``{"status": "ok", "version", "uptime", "database": "ok", ...}``, 503 when a
  dependency fails.
- ``ietf``: ``/health`` as ``application/health+json`` (draft-inadarei-api-health-check-06): ``status``
  pass/fail, ``releaseId``, ``checks`` keyed ``component:measurement``; 503 on fail.
- ``spring``: Spring Boot Actuator's ``/actuator/health`` (UP/DOWN, ``components.db|rabbit|redis``, 503 when
  DOWN) and ``/actuator/info`` (``build.version``).
- ``flags``: ``/health`` ``{"status": "healthy", "version"}`` (liveness only) and ``/ready``
  ``{"postgres": {"connected": true}, "rabbitmq": {...}, "redis": {...}}``, 503 when one is not connected.

Run: ``python -m golive.sandbox.app --env blue --port 18001`` (uvicorn inside).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio.to_thread
import pika
import psycopg
import redis.asyncio as aioredis
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from golive.sandbox import constants as c
from golive.sandbox.app_faults import Faults, error_text
from golive.sandbox.app_metrics import KNOWN_PATHS, Metrics

log = logging.getLogger("golive.sandbox.app")

PROBE_TIMEOUT_S = 2.0
QUERY_TIMEOUT_S = 3.0
POOL_SIZE = 8
AGENTS_CACHE_TTL_S = 5

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class AppConfig:
    version: str
    environment: str
    pg_dsn: str
    amqp_url: str
    redis_url: str
    fault_file: Path | None
    dialect: str = c.DEFAULT_DIALECT
    metrics: str = c.DEFAULT_METRICS  # the metric naming (METRIC_NAMINGS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppConfig:
        env = os.environ if environ is None else environ
        fault_file = env.get(c.ENV_FAULT_FILE)
        return cls(
            version=env.get(c.ENV_VERSION, c.BLUE_VERSION),
            environment=env.get(c.ENV_NAME, "blue"),
            pg_dsn=env.get(c.ENV_PG_DSN, c.PRIMARY_DSN),
            amqp_url=env.get(c.ENV_AMQP_URL, c.AMQP_URL),
            redis_url=env.get(c.ENV_REDIS_URL, c.REDIS_URL),
            fault_file=Path(fault_file) if fault_file else None,
            dialect=env.get(c.ENV_DIALECT) or c.DEFAULT_DIALECT,
            metrics=env.get(c.ENV_METRICS) or c.DEFAULT_METRICS,
        )


class ConnectionPool:
    """A few reusable PostgreSQL connections; a connection that saw an error is dropped, not reused."""

    def __init__(self, dsn: str, size: int = POOL_SIZE) -> None:
        self.dsn = dsn
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(size)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, connect_timeout=int(PROBE_TIMEOUT_S), row_factory=dict_row
        )

    async def fetch(self, query: Any, params: Any = None) -> list[dict[str, Any]]:
        """Run one statement and return its rows (none for statements without a result)."""
        return await asyncio.wait_for(self._fetch(query, params), QUERY_TIMEOUT_S)

    async def _fetch(self, query: Any, params: Any) -> list[dict[str, Any]]:
        async with self._slots:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._connect()
            try:
                rows = await self._run(conn, query, params)
            except psycopg.OperationalError:
                await conn.close()
                if not reused:
                    raise
                # An idle connection may have died with a server restart: one fresh try.
                conn = await self._connect()
                try:
                    rows = await self._run(conn, query, params)
                except BaseException:
                    await conn.close()
                    raise
            except BaseException:
                await conn.close()
                raise
            self._idle.append(conn)
            return rows

    @staticmethod
    async def _run(conn: psycopg.AsyncConnection[Any], query: Any, params: Any) -> list[dict[str, Any]]:
        cursor = await conn.execute(query, params)
        return list(await cursor.fetchall()) if cursor.description else []

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()


def _pika_parameters(url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.socket_timeout = PROBE_TIMEOUT_S
    params.stack_timeout = PROBE_TIMEOUT_S + 1
    params.blocked_connection_timeout = PROBE_TIMEOUT_S + 1
    params.connection_attempts = 1
    return params


# A fresh AMQP connection per /health costs a handshake; HAProxy, Prometheus-driven checks and golive's own
# checks ask several times a second, and on a loaded machine the handshake alone can pass the probe's bound.
# A success is trusted for a moment (a failure never is), as production health endpoints commonly do, and one
# request at a time does the handshake: the others waiting meanwhile take its answer instead of each opening a
# connection of their own (a burst of concurrent requests used to set the p95 with a burst of handshakes).
_RABBITMQ_OK_FOR_S = 2.0
_rabbitmq_ok_until = 0.0
_rabbitmq_failure: tuple[float, Exception] | None = None  # when the last probe failed, and how
_rabbitmq_lock = threading.Lock()


def _rabbitmq_probe(url: str) -> None:
    global _rabbitmq_ok_until, _rabbitmq_failure
    asked = time.monotonic()
    if asked < _rabbitmq_ok_until:
        return
    with _rabbitmq_lock:
        if time.monotonic() < _rabbitmq_ok_until:
            return  # a probe that finished while this request waited succeeded
        if _rabbitmq_failure is not None and _rabbitmq_failure[0] >= asked:
            raise _rabbitmq_failure[1]  # one that failed after this request asked: the same answer
        try:
            connection = pika.BlockingConnection(_pika_parameters(url))
            try:
                connection.channel().queue_declare(c.TASK_QUEUE, passive=True)
            finally:
                if connection.is_open:
                    connection.close()
        except Exception as exc:
            _rabbitmq_failure = (time.monotonic(), exc)
            raise
        _rabbitmq_ok_until = time.monotonic() + _RABBITMQ_OK_FOR_S


def _rabbitmq_publish(url: str, body: bytes) -> None:
    connection = pika.BlockingConnection(_pika_parameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange="",
            routing_key=c.TASK_QUEUE,
            body=body,
            properties=pika.BasicProperties(delivery_mode=2, content_type="application/json"),
            mandatory=True,
        )
    finally:
        if connection.is_open:
            connection.close()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


# How each dialect names the dependencies (c.DEPENDENCIES): IETF component and type, Spring indicator and
# its details, the flags family's keys.
_IETF_COMPONENTS = {"database": ("postgres", "datastore"), "rabbitmq": ("rabbitmq", "component"),
                    "redis": ("redis", "datastore")}  # fmt: skip
_SPRING_COMPONENTS: dict[str, tuple[str, dict[str, str]]] = {
    "database": ("db", {"database": "PostgreSQL", "validationQuery": "isValid()"}),
    "rabbitmq": ("rabbit", {"version": "3.10"}),
    "redis": ("redis", {"version": "7.0"}),
}
_FLAGS_NAMES = {"database": "postgres", "rabbitmq": "rabbitmq", "redis": "redis"}


class Orchestrator:
    """The endpoints and their dependencies."""

    def __init__(self, config: AppConfig, faults: Faults | None = None) -> None:
        self.config = config
        self.faults = faults or Faults(None)
        self.started = time.monotonic()
        self.db = ConnectionPool(config.pg_dsn)
        self.cache = aioredis.Redis.from_url(
            config.redis_url, socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S
        )
        self.has_priority = c.version_tuple(config.version) >= c.version_tuple("2.1.0")

    async def close(self) -> None:
        await self.db.close()
        await self.cache.aclose()

    # --- dependency probes -------------------------------------------------------------------------------

    async def _probe(self, probe: Awaitable[Any]) -> str:
        try:
            await asyncio.wait_for(probe, PROBE_TIMEOUT_S + 0.5)
        except Exception as exc:
            return error_text(exc)
        return "ok"

    async def _timed(self, name: str, probe: Awaitable[Any]) -> tuple[str, float]:
        started = time.perf_counter()
        text = await self._probe(probe)
        self.faults.refresh()
        if name in self.faults.dependencies_down:
            text = f"injected fault: {name} unreachable (connection refused)"
        return text, (time.perf_counter() - started) * 1000

    async def dependencies(self) -> dict[str, tuple[str, float]]:
        """Each dependency (c.DEPENDENCIES) as the app sees it: "ok" or what went wrong, and the ms it took."""
        results = await asyncio.gather(
            self._timed("database", self.db.fetch("SELECT 1")),
            self._timed("rabbitmq", anyio.to_thread.run_sync(_rabbitmq_probe, self.config.amqp_url)),
            self._timed("redis", self.cache.ping()),
        )
        return dict(zip(c.DEPENDENCIES, results, strict=True))

    def uptime_s(self) -> float:
        return round(time.monotonic() - self.started, 3)

    async def health_body(self) -> tuple[dict[str, Any], int]:
        states = {name: text for name, (text, _ms) in (await self.dependencies()).items()}
        healthy = all(text == "ok" for text in states.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "version": self.config.version,
            "environment": self.config.environment,
            "uptime": self.uptime_s(),
            **states,
        }
        return body, 200 if healthy else 503

    # --- endpoints ---------------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        body, status = await self.health_body()
        return JSONResponse(body, status_code=status)

    async def ready(self, request: Request) -> Response:
        database = await self._probe(self.db.fetch("SELECT 1"))
        ready = database == "ok"
        return JSONResponse({"ready": ready, "database": database}, status_code=200 if ready else 503)

    # --- the other health dialects (golive.health reads them; see the module docstring) -------------------

    async def health_ietf(self, request: Request) -> Response:
        """draft-inadarei-api-health-check-06: status, version (of the API), releaseId, checks."""
        dependencies = await self.dependencies()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        checks: dict[str, list[dict[str, Any]]] = {}
        for name, (text, ms) in dependencies.items():
            component, kind = _IETF_COMPONENTS[name]
            entry: dict[str, Any] = {"componentId": f"{self.config.environment}-{component}", "componentType": kind,
                                     "observedValue": round(ms, 3), "observedUnit": "ms",
                                     "status": "pass" if text == "ok" else "fail", "time": now}  # fmt: skip
            if text != "ok":
                entry["output"] = text
            checks[f"{component}:responseTime"] = [entry]
        checks["uptime"] = [{"componentType": "system", "observedValue": self.uptime_s(), "observedUnit": "s",
                             "status": "pass", "time": now}]  # fmt: skip
        healthy = all(text == "ok" for text, _ms in dependencies.values())
        body = {"status": "pass" if healthy else "fail", "version": self.config.version.split(".")[0],
                "releaseId": self.config.version, "serviceId": f"orchestrator-{self.config.environment}",
                "description": "AI Agent Orchestrator", "checks": checks}  # fmt: skip
        return Response(json.dumps(body), status_code=200 if healthy else 503, media_type="application/health+json")

    async def health_spring(self, request: Request) -> Response:
        """Spring Boot Actuator's /actuator/health with show-details: UP/DOWN and components; 503 when DOWN."""
        components: dict[str, Any] = {}
        for name, (text, _ms) in (await self.dependencies()).items():
            component, details = _SPRING_COMPONENTS[name]
            if text == "ok":
                components[component] = {"status": "UP", "details": dict(details)}
            else:
                components[component] = {"status": "DOWN", "details": {**details, "error": text}}
        components["ping"] = {"status": "UP"}
        healthy = all(item["status"] == "UP" for item in components.values())
        body = {"status": "UP" if healthy else "DOWN", "components": dict(sorted(components.items()))}
        return JSONResponse(body, status_code=200 if healthy else 503,
                            media_type="application/vnd.spring-boot.actuator.v3+json")  # fmt: skip

    async def info_spring(self, request: Request) -> Response:
        """Spring Boot Actuator's /actuator/info with build-info: the release in build.version."""
        return JSONResponse({"build": {"artifact": "orchestrator", "name": "orchestrator", "group": "sandbox.golive",
                                       "version": self.config.version},
                             "app": {"environment": self.config.environment}})  # fmt: skip

    async def health_flags(self, request: Request) -> Response:
        """Liveness only, as the status-word family answers it: healthy and the version."""
        return JSONResponse({"status": "healthy", "version": self.config.version, "uptime": self.uptime_s()})

    async def ready_flags(self, request: Request) -> Response:
        """Readiness: each dependency as {connected: ...}; 503 when one is not."""
        body: dict[str, Any] = {}
        for name, (text, ms) in (await self.dependencies()).items():
            entry: dict[str, Any] = {"connected": text == "ok", "latency_ms": round(ms, 1)}
            if text != "ok":
                entry["error"] = text
            body[_FLAGS_NAMES[name]] = entry
        ready = all(entry["connected"] for entry in body.values())
        return JSONResponse(body, status_code=200 if ready else 503)

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": self.config.version, "environment": self.config.environment})

    async def agents(self, request: Request) -> Response:
        key = f"{c.REDIS_PREFIX}agents"
        try:
            cached = await self.cache.get(key)
        except Exception as exc:
            log.warning("agents cache unavailable: %s", error_text(exc))
            cached = None
        if cached is not None:
            return Response(cached, media_type="application/json")
        rows = await self.db.fetch("SELECT id, name, kind, status, created_at FROM agents ORDER BY id")
        payload = json.dumps({"agents": _jsonable(rows)})
        try:
            await self.cache.set(key, payload, ex=AGENTS_CACHE_TTL_S)
        except Exception as exc:
            log.warning("agents cache unavailable: %s", error_text(exc))
        return Response(payload, media_type="application/json")

    async def messages(self, request: Request) -> Response:
        rows = await self.db.fetch(
            "SELECT m.id, a.name AS agent, m.role, m.content, m.created_at FROM messages m "
            "LEFT JOIN agents a ON a.id = m.agent_id ORDER BY m.id DESC LIMIT 50"
        )
        return JSONResponse({"messages": _jsonable(rows)})

    async def status(self, request: Request) -> Response:
        tasks = await self.db.fetch("SELECT status, count(*) AS n FROM tasks GROUP BY status ORDER BY status")
        results = await self.db.fetch("SELECT count(*) AS n FROM task_results")
        agents = await self.db.fetch("SELECT count(*) AS n FROM agents")
        schema = await self.db.fetch("SELECT max(version) AS v FROM schema_versions")
        return JSONResponse(
            {
                "environment": self.config.environment,
                "version": self.config.version,
                "schema_version": schema[0]["v"],
                "agents": agents[0]["n"],
                "tasks": {row["status"]: row["n"] for row in tasks},
                "results": results[0]["n"],
            }
        )

    async def create_task(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        agent = body.get("agent", "planner")
        payload = body.get("payload", {})
        if self.has_priority:
            rows = await self.db.fetch(
                "INSERT INTO tasks (agent_id, payload, priority) "
                "SELECT id, %s, %s FROM agents WHERE name = %s RETURNING id",
                (Jsonb(payload), int(body.get("priority", 0)), agent),
            )
        else:
            rows = await self.db.fetch(
                "INSERT INTO tasks (agent_id, payload) SELECT id, %s FROM agents WHERE name = %s RETURNING id",
                (Jsonb(payload), agent),
            )
        if not rows:
            return JSONResponse({"error": f"unknown agent {agent!r}"}, status_code=400)
        task_id = rows[0]["id"]
        message = {
            "task_id": task_id,
            "agent": agent,
            "payload": payload,
            "submitted_by": f"{self.config.environment}/{self.config.version}",
            "trace_id": uuid.uuid4().hex,
        }
        try:
            await asyncio.wait_for(
                anyio.to_thread.run_sync(_rabbitmq_publish, self.config.amqp_url, json.dumps(message).encode()),
                PROBE_TIMEOUT_S * 3,
            )
        except Exception as exc:
            log.error("task %s not published: %s", task_id, error_text(exc))
            await self.db.fetch(
                "UPDATE tasks SET status = 'publish_failed', updated_at = now() WHERE id = %s", (task_id,)
            )
            return JSONResponse({"task_id": task_id, "error": error_text(exc)}, status_code=503)
        return JSONResponse({"task_id": task_id, "status": "queued"}, status_code=202)

    async def get_task(self, request: Request) -> Response:
        task_id = request.path_params["task_id"]
        rows = await self.db.fetch(
            "SELECT t.id AS task_id, a.name AS agent, t.status, t.payload, t.created_at, t.updated_at,"
            " r.result FROM tasks t LEFT JOIN agents a ON a.id = t.agent_id"
            " LEFT JOIN task_results r ON r.task_id = t.id WHERE t.id = %s ORDER BY r.id DESC LIMIT 1",
            (task_id,),
        )
        if not rows:
            return JSONResponse({"error": f"no task {task_id}"}, status_code=404)
        return JSONResponse(_jsonable(rows[0]))

    async def delete_task(self, request: Request) -> Response:
        """Remove a task with its results and cached result (a queued task's message is skipped by the worker)."""
        task_id = request.path_params["task_id"]
        rows = await self.db.fetch(
            "WITH results AS (DELETE FROM task_results WHERE task_id = %s)"
            " DELETE FROM tasks WHERE id = %s RETURNING id",
            (task_id, task_id),
        )
        if not rows:
            return JSONResponse({"error": f"no task {task_id}"}, status_code=404)
        try:
            await self.cache.delete(f"{c.REDIS_PREFIX}result:{task_id}")
        except Exception as exc:
            log.warning("cached result of task %s not removed: %s", task_id, error_text(exc))
        return JSONResponse({"task_id": task_id, "deleted": True})


class FaultsAndMetrics:
    """ASGI middleware: injects the configured faults and records every request in the metrics."""

    def __init__(self, app: ASGIApp, faults: Faults, metrics: Metrics, fault_paths: tuple[str, ...] = ("/health",)):
        self.app = app
        self.faults = faults
        self.metrics = metrics
        self.fault_paths = fault_paths  # besides /api/*: the dialect's health endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        method = scope["method"]
        status_seen = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = int(message["status"])
            await send(message)

        try:
            if path in self.fault_paths or path.startswith("/api/"):
                self.faults.refresh()
                if self.faults.latency_ms > 0:
                    await asyncio.sleep(self.faults.latency_ms / 1000.0)
                if self.faults.should_fail():
                    log.error("injected fault: 500 on %s %s", method, scope["path"])
                    await JSONResponse({"error": "injected fault"}, status_code=500)(scope, receive, send_and_record)
                    return
            try:
                await self.app(scope, receive, send_and_record)
            except Exception as exc:
                log.error("%s %s failed: %s", method, scope["path"], error_text(exc))
                await JSONResponse({"error": error_text(exc)}, status_code=500)(scope, receive, send_and_record)
        finally:
            self.metrics.observe(method, path, status_seen, time.perf_counter() - started)


def create_app(config: AppConfig | None = None) -> ASGIApp:
    """The orchestrator for one environment."""
    config = config or AppConfig.from_env()
    if config.dialect not in c.DIALECTS:
        raise ValueError(f"{c.ENV_DIALECT}={config.dialect!r}: choose one of {', '.join(c.DIALECTS)}")
    faults = Faults(config.fault_file)
    orchestrator = Orchestrator(config, faults)
    metrics = Metrics(config.version, config.environment, config.metrics)

    async def metrics_endpoint(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("orchestrator %s (%s) starting", config.version, config.environment)
        yield
        await orchestrator.close()

    health_routes = {
        "golive": [Route("/health", orchestrator.health), Route("/ready", orchestrator.ready)],
        "ietf": [Route("/health", orchestrator.health_ietf)],
        "spring": [Route("/actuator/health", orchestrator.health_spring),
                   Route("/actuator/info", orchestrator.info_spring)],
        "flags": [Route("/health", orchestrator.health_flags), Route("/ready", orchestrator.ready_flags)],
    }[config.dialect]  # fmt: skip
    routes = [
        *health_routes,
        Route("/version", orchestrator.version),
        Route("/metrics", metrics_endpoint),
        Route("/api/agents", orchestrator.agents),
        Route("/api/messages", orchestrator.messages),
        Route("/api/status", orchestrator.status),
        Route("/api/health", orchestrator.health),
        Route("/api/tasks", orchestrator.create_task, methods=["POST"]),
        Route("/api/tasks/{task_id:int}", orchestrator.get_task, methods=["GET"]),
        Route("/api/tasks/{task_id:int}", orchestrator.delete_task, methods=["DELETE"]),
    ]
    starlette_app = Starlette(routes=routes, lifespan=lifespan)
    # Faults reach the endpoints golive reads health from (golive's own dialect: /health only, as always).
    fault_paths = {"golive": ("/health",), "ietf": ("/health",), "spring": ("/actuator/health",),
                   "flags": ("/health", "/ready")}[config.dialect]  # fmt: skip
    return FaultsAndMetrics(starlette_app, faults, metrics, fault_paths)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m golive.sandbox.app", description=__doc__)
    parser.add_argument("--env", required=True, help="environment name (blue, green); overrides $GOLIVE_SANDBOX_ENV")
    parser.add_argument("--host", default=c.HOST)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ[c.ENV_NAME] = args.env
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
