"""Bring the sandbox up and down, report its status, switch its faults.

One sandbox per machine. Its state (PIDs, logs, configs, the standby's data directory, fault files) lives in
``$GOLIVE_SANDBOX_DIR`` (default ``/tmp/golive-sandbox``); ``state.json`` there records every process it
started (PID and start time) and every change it made to the machine's shared services, so ``down`` can stop
exactly those processes and undo exactly those changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pika
import pika.exceptions
import psycopg
import redis
import yaml
from psycopg.sql import SQL, Identifier

from golive.sandbox import aws_server, processes, schema
from golive.sandbox import constants as c
from golive.sandbox.processes import ProcessRecord

ENVIRONMENTS = {"blue": (c.BLUE_VERSION, c.BLUE_PORT), "green": (c.GREEN_VERSION, c.GREEN_PORT)}
SERVICES = ("green", "blue", "worker", "standby", "haproxy", "moto", "prometheus")
# Slowest to get ready first; the standby's base backup (about 2 s) runs while the others boot.
START_ORDER = ("prometheus", "moto", "green", "blue", "worker", "haproxy", "standby")
# How each piece is asked to stop before SIGKILL: PostgreSQL's fast shutdown, HAProxy's soft stop.
POLITE_SIGNALS = {"standby": signal.SIGINT, "haproxy": signal.SIGUSR1}
HTTP_TIMEOUT = httpx.Timeout(3.0)
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
LOCK_TIMEOUT_S = 180.0
HBA_MARK = "# added by golive sandbox"
HBA_LINE = f"host replication postgres 127.0.0.1/32 trust {HBA_MARK}"
BUCKET = "golive-sandbox-backups"
BACKUP_PREFIX = "postgres/"
SECRETS = ("orchestrator/db", "orchestrator/rabbitmq")
ALARMS = ("orchestrator-5xx", "orchestrator-p95")
REPOSITORY = "orchestrator"
LOAD_BALANCER = "orchestrator"
DEFAULT_FILL = 1500
DATA_FAULT_TABLES = ("messages",)  # delete-rows: integrity tables no foreign key points at
ALB_TARGETS = {"blue": "10.20.1.10", "green": "10.20.2.10"}
# A planned DNS switchover: weighted records for the orchestrator's public name, TTL lowered to 60 s.
DNS_ZONE = "orchestrator.sandbox."
DNS_RECORD = f"api.{DNS_ZONE}"
DNS_TTL = 60
# The ECR scan result of the sandbox's images: no critical findings (moto returns what it is given).
CLEAN_SCAN_COUNTS = {"MEDIUM": 2, "LOW": 5, "INFORMATIONAL": 3}
LOG_GROUPS = ("/orchestrator/blue", "/orchestrator/green")
# What a deployment of the orchestrator runs: pg_dump before migrating, psql to migrate, haproxy to cut over.
DEPLOY_COMMANDS = ("pg_dump", "psql", "haproxy")
# The orchestrator's own code, copied into STATE/src as the release's source tree that golive scans.
SOURCE_FILES = ("app.py", "worker.py", "schema.py")
# Prometheus scrapes every 2 s and its alert rules look 30 s back: Gate 2's figures use the same window.
PROMETHEUS_WINDOW = "30s"
# Gate 2's synthetic transaction: a task through the API, done by the worker, then deleted (golive-owned).
SYNTHETIC = {
    "post_path": "/api/tasks",
    "body": {"agent": "planner", "payload": {"synthetic": "{marker}"}, "priority": 0},
    "id_field": "task_id",
    "sql": "SELECT status FROM tasks WHERE id = %(id)s",
    "done_value": "done",
    "get_path": "/api/tasks/{id}",
    "delete_path": "/api/tasks/{id}",
}
PLANTED_SECRET_FILE = "settings_local.py"


class SandboxError(Exception):
    """Something the user can act on. ``str()`` is the one line to print."""


def state_dir() -> Path:
    return Path(os.environ.get(c.ENV_STATE_DIR) or c.DEFAULT_STATE_DIR)


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def fault_file(self, env: str) -> Path:
        return self.root / "faults" / f"{env}.json"

    @property
    def standby_data(self) -> Path:
        return self.root / "standby"

    @property
    def prometheus_data(self) -> Path:
        return self.root / "prometheus-data"

    @property
    def prometheus_config(self) -> Path:
        return self.root / "prometheus.yml"

    @property
    def prometheus_rules(self) -> Path:
        return self.root / "alert-rules.yml"

    @property
    def haproxy_config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def haproxy_socket(self) -> Path:
        return self.root / "haproxy.sock"

    def env_file(self, env: str) -> Path:
        return self.root / "env" / f"{env}.env"

    @property
    def source(self) -> Path:
        return self.root / "src"

    @property
    def release_repository(self) -> Path:
        return self.root / "release-repo"

    def deploy_script(self, name: str) -> Path:
        return self.root / "deploy" / f"{name}.sh"


@dataclass
class State:
    """What ``state.json`` holds: processes started, shared-service changes to undo, AWS identifiers."""

    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    restore: dict[str, Any] = field(default_factory=dict)
    aws: dict[str, Any] = field(default_factory=dict)
    app_options: dict[str, str] = field(default_factory=dict)  # c.APP_OPTIONS the apps run with (`up --metrics`)

    @property
    def dialect(self) -> str:
        return self.app_options.get("dialect", c.DEFAULT_DIALECT)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except ValueError as exc:
            raise SandboxError(f"{path}: unreadable sandbox state ({exc}); remove it and run `down`") from None
        return cls(
            processes={name: ProcessRecord.from_json(rec) for name, rec in data.get("processes", {}).items()},
            restore=dict(data.get("restore", {})),
            aws=dict(data.get("aws", {})),
            app_options=dict(data.get("app_options", {})),
        )

    def save(self, path: Path) -> None:
        data = {
            "processes": {name: rec.to_json() for name, rec in self.processes.items()},
            "restore": self.restore,
            "aws": self.aws,
            "app_options": self.app_options,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(path)


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    port: int | None
    ready: Callable[[], str | None]  # None when ready, else what was seen
    env: dict[str, str] | None = None
    user: str | None = None


# --- small probes ---------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _tcp_open(port: int, host: str = c.HOST, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _http_status(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        return _one_line(exc) or type(exc).__name__
    return None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text[:200]}"


def _pg_connect(port: int, dbname: str = "postgres", **extra: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=c.HOST, port=port, user="postgres", dbname=dbname, connect_timeout=3, autocommit=True, **extra
    )


def _preloads_pg_stat_statements(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    return "pg_stat_statements" in str(row[0] if row else "").replace(" ", "").split(",")


def _pika_parameters(url: str = c.AMQP_URL) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.socket_timeout = 3
    params.stack_timeout = 5
    params.blocked_connection_timeout = 5
    params.connection_attempts = 1
    return params


@contextlib.contextmanager
def _amqp_channel(url: str = c.AMQP_URL) -> Iterator[Any]:
    connection = pika.BlockingConnection(_pika_parameters(url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def _queue_counts(queue: str) -> tuple[int, int]:
    """(messages, consumers) of a queue, by a passive declare."""
    with _amqp_channel() as channel:
        result = channel.queue_declare(queue, passive=True)
        return int(result.method.message_count), int(result.method.consumer_count)


def _haproxy_command(sock_path: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3.0)
        sock.connect(str(sock_path))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode()


def _redis() -> redis.Redis:
    return redis.Redis.from_url(c.REDIS_URL, socket_timeout=3, socket_connect_timeout=3)


def _management(method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{c.MANAGEMENT_URL}{path}", auth=("guest", "guest"), timeout=HTTP_TIMEOUT, **kwargs)


def _rabbitmqctl(*args: str) -> str:
    try:
        done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        raise SandboxError("rabbitmqctl not found: run `apt-get install -y rabbitmq-server`") from None
    except subprocess.TimeoutExpired:
        raise SandboxError(f"`rabbitmqctl {' '.join(args)}` did not finish within 30 s") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise SandboxError(f"`rabbitmqctl {' '.join(args)}` failed: {last[0]}")
    return done.stdout.strip()


# --- the manager ----------------------------------------------------------------------------------------


class Manager:
    def __init__(self, root: Path | None = None, out: Callable[[str], None] = print) -> None:
        self.paths = Paths(root or state_dir())
        self.out = out
        self.state = State()
        self._pg_bindir: Path | None = None
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "golive-sandbox")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "golive-sandbox")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    # --- locking and state ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the sandbox lock (one `up`/`down`/`fault` at a time) and the loaded state."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.paths.root.chmod(0o755)  # the standby runs as postgres and must reach its data directory
        with open(self.paths.lock_file, "w") as lock:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise SandboxError(
                            f"another sandbox command holds {self.paths.lock_file} for over {LOCK_TIMEOUT_S:.0f} s"
                        ) from None
                    time.sleep(0.2)
            self.state = State.load(self.paths.state_file)
            try:
                yield
            finally:
                self.state.save(self.paths.state_file)

    def _record_alive(self, name: str) -> bool:
        record = self.state.processes.get(name)
        return record is not None and processes.is_alive(record)

    # --- service definitions ---------------------------------------------------------------------------

    def _child_env(self, extra: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        package_parent = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH", "")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        return env

    def services(self) -> dict[str, Service]:
        python = sys.executable
        common = {c.ENV_PG_DSN: c.PRIMARY_DSN, c.ENV_AMQP_URL: c.AMQP_URL, c.ENV_REDIS_URL: c.REDIS_URL}
        liveness = c.LIVENESS_PATHS[self.state.dialect]
        services: dict[str, Service] = {}
        for env_name, (_version, port) in ENVIRONMENTS.items():
            services[env_name] = Service(
                name=env_name,
                command=[python, "-m", "golive.sandbox.app", "--env", env_name, "--host", c.HOST, "--port", str(port)],
                port=port,
                ready=lambda port=port: _http_status(f"http://{c.HOST}:{port}{liveness}"),  # type: ignore[misc]
                env=self._child_env(app_variables(env_name, self.paths, self.state.app_options)),
            )
        services["worker"] = Service(
            name="worker",
            command=[python, "-m", "golive.sandbox.worker"],
            port=None,
            ready=self._worker_ready,
            env=self._child_env(common),
        )
        services["standby"] = Service(
            name="standby",
            command=[str(self.pg_bindir() / "postgres"), "-D", str(self.paths.standby_data)],
            port=c.STANDBY_PORT,
            ready=self._standby_ready,
            user=self._owner(),
        )
        services["haproxy"] = Service(
            name="haproxy",
            command=[_require_binary("haproxy"), "-W", "-db", "-f", str(self.paths.haproxy_config)],
            port=c.HAPROXY_PORT,
            ready=self._haproxy_ready,
        )
        services["moto"] = Service(
            name="moto",
            command=[python, "-m", "golive.sandbox.aws_server", "--host", c.HOST, "--port", str(c.MOTO_PORT)],
            port=c.MOTO_PORT,
            ready=lambda: _http_status(f"http://{c.HOST}:{c.MOTO_PORT}/moto-api/data.json"),
            env=self._child_env({}),
        )
        services["prometheus"] = Service(
            name="prometheus",
            command=[
                _require_binary("prometheus"),
                f"--config.file={self.paths.prometheus_config}",
                f"--storage.tsdb.path={self.paths.prometheus_data}",
                f"--web.listen-address={c.HOST}:{c.PROMETHEUS_PORT}",
                "--storage.tsdb.retention.time=1d",
            ],
            port=c.PROMETHEUS_PORT,
            ready=self._prometheus_ready,
        )
        return services

    def _worker_ready(self) -> str | None:
        try:
            _messages, consumers = _queue_counts(c.TASK_QUEUE)
        except Exception as exc:
            return _one_line(exc)
        return None if consumers >= 1 else f"{c.TASK_QUEUE} has no consumer"

    def _standby_ready(self) -> str | None:
        try:
            with _pg_connect(c.STANDBY_PORT) as conn:
                row = conn.execute("SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)").fetchone()
        except psycopg.Error as exc:
            return _one_line(exc)
        if not row or not row[0]:
            return "not in recovery (not a standby)"
        return None if row[1] == "streaming" else f"WAL receiver is {row[1] or 'not running'}"

    def _prometheus_ready(self) -> str | None:
        """Ready, and has scraped both apps once: checks that read metrics find them."""
        base = f"http://{c.HOST}:{c.PROMETHEUS_PORT}"
        seen = _http_status(f"{base}/-/ready")
        if seen is not None:
            return seen
        try:
            targets = httpx.get(f"{base}/api/v1/targets", timeout=HTTP_TIMEOUT).json()["data"]["activeTargets"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return f"targets: {_one_line(exc)}"
        health = {t["labels"].get("job"): t.get("health") for t in targets}
        wanted = {f"orchestrator-{env}" for env in ENVIRONMENTS}
        return None if all(health.get(job) == "up" for job in wanted) else f"scrape targets {health}"

    def _haproxy_ready(self, servers: tuple[str, ...] = ("green",)) -> str | None:
        """Answering on its admin socket and frontend, with ``servers`` (by default the live one, green) passing
        health checks."""
        try:
            stats = _haproxy_command(self.paths.haproxy_socket, "show stat")
        except OSError as exc:
            return f"admin socket: {_one_line(exc)}"
        if not _tcp_open(c.HAPROXY_PORT):
            return f"nothing listens on {c.HOST}:{c.HAPROXY_PORT}"
        header, *rows = stats.lstrip("# ").splitlines()
        status_column = header.split(",").index("status")
        for server in servers:
            found = [row.split(",") for row in rows if row.startswith(f"be,{server},")]
            status = found[0][status_column] if found else "missing"
            if status != "UP":
                return f"be/{server} is {status}"
        return None

    def _haproxy_sees_both(self) -> str | None:
        return self._haproxy_ready(tuple(ENVIRONMENTS))

    # --- prerequisites ---------------------------------------------------------------------------------

    def pg_bindir(self) -> Path:
        if self._pg_bindir is None:
            with _pg_connect(c.PRIMARY_PORT) as conn:
                row = conn.execute("SHOW server_version_num").fetchone()
            major = int(row[0]) // 10000 if row else 15
            self._pg_bindir = Path(f"/usr/lib/postgresql/{major}/bin")
        return self._pg_bindir

    def check_prerequisites(self) -> None:
        """Raise SandboxError naming the first missing piece and the command that provides it."""
        for binary, package in (("haproxy", "haproxy"), ("prometheus", "prometheus")):
            if shutil.which(binary) is None:
                raise SandboxError(f"{binary} not found: run `apt-get install -y {package}`")
        for module, extra in (("uvicorn", "sandbox"), ("starlette", "sandbox"), ("moto.server", "sandbox")):
            try:
                __import__(module)
            except ImportError:
                raise SandboxError(
                    f"Python module {module} not found: run `{sys.executable} -m pip install 'golive[{extra}]'`"
                ) from None
        try:
            with _pg_connect(c.PRIMARY_PORT) as conn:
                settings = dict(
                    conn.execute(
                        "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_wal_senders')"
                    ).fetchall()
                )
        except psycopg.Error:
            raise SandboxError(
                f"PostgreSQL not answering on {c.HOST}:{c.PRIMARY_PORT}: "
                "run `pg_ctlcluster --skip-systemctl-redirect 15 main start`"
            ) from None
        if settings.get("wal_level") not in ("replica", "logical"):
            raise SandboxError(
                f"PostgreSQL on {c.HOST}:{c.PRIMARY_PORT} has wal_level={settings.get('wal_level')}; the standby "
                "needs replica: set `wal_level = replica` in its postgresql.conf and restart it "
                "(`pg_ctlcluster --skip-systemctl-redirect 15 main restart`)"
            )
        if int(settings.get("max_wal_senders", 0)) < 2:
            raise SandboxError(
                f"PostgreSQL on {c.HOST}:{c.PRIMARY_PORT} has max_wal_senders={settings.get('max_wal_senders')}; "
                "the standby needs 2: set `max_wal_senders = 10` in its postgresql.conf and restart it "
                "(`pg_ctlcluster --skip-systemctl-redirect 15 main restart`)"
            )
        bindir = self.pg_bindir()
        for binary in ("postgres", "pg_basebackup", "pg_dump"):
            if not (bindir / binary).exists():
                raise SandboxError(
                    f"{bindir / binary} not found: run `apt-get install -y postgresql-{bindir.parent.name}`"
                )
        try:
            pika.BlockingConnection(_pika_parameters(f"amqp://guest:guest@{c.HOST}:{c.AMQP_PORT}/%2F")).close()
        except pika.exceptions.AMQPError:
            raise SandboxError(
                f"RabbitMQ not answering on {c.HOST}:{c.AMQP_PORT}: run `rabbitmq-server -detached`"
            ) from None
        try:
            _redis().ping()
        except redis.RedisError:
            raise SandboxError(
                f"Redis not answering on {c.HOST}:{c.REDIS_PORT}: run `redis-server --daemonize yes --bind "
                '127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis '
                "--logfile /var/log/redis/ci.log`"
            ) from None
        services = self.services()
        for name in SERVICES:
            port = services[name].port
            if port is not None and not self._record_alive(name) and _tcp_open(port):
                raise SandboxError(
                    f"port {c.HOST}:{port} (for the sandbox's {name}) is taken by another process: "
                    f"find it with `ss -ltnp 'sport = :{port}'` and stop it"
                )

    # --- shared services: database, vhost, queues, replication access ---------------------------------

    def ensure_database(self) -> list[str]:
        with _pg_connect(c.PRIMARY_PORT) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (c.DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{c.DATABASE}"'.encode())
        with _pg_connect(c.PRIMARY_PORT, c.DATABASE) as conn:
            conn.autocommit = False
            applied = schema.migrate(conn)
            if _preloads_pg_stat_statements(conn):  # what Gate 3's slow-query check reads
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            else:
                self.out(f"warning: PostgreSQL on {c.HOST}:{c.PRIMARY_PORT} does not preload pg_stat_statements, so "
                         "Gate 3's slow-query check fails (a REVIEW): run scripts/ensure-services (one restart)")
            conn.commit()
        return applied

    def ensure_reader_role(self) -> None:
        """The role golive's configuration connects as (c.READER_ROLE): it reads, it never writes. Roles are the
        server's, not the database's: it outlives `down`, like the database, and is repaired on every `up`."""
        role = Identifier(c.READER_ROLE)
        with _pg_connect(c.PRIMARY_PORT) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (c.READER_ROLE,)).fetchone():
                with contextlib.suppress(psycopg.errors.DuplicateObject):  # another server user made it meanwhile
                    conn.execute(SQL("CREATE ROLE {} LOGIN").format(role))
            conn.execute(
                SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
                .format(role)
            )
            conn.execute(SQL("GRANT pg_read_all_data, pg_monitor TO {}").format(role))

    def ensure_redis_limit(self) -> None:
        """The shared Redis has a memory limit while the sandbox runs: a cache without one is a REVIEW."""
        client = _redis()
        if int(str(client.config_get("maxmemory")["maxmemory"])) == 0:
            self.state.restore["redis_maxmemory_unset"] = "0"
            self.state.save(self.paths.state_file)
            # Well above what the shared Redis holds: its other users' writes are never refused (noeviction).
            used = int(client.info("memory")["used_memory"])
            client.config_set("maxmemory", str(max(c.REDIS_MAXMEMORY, 4 * used)))

    def ensure_management(self) -> None:
        try:
            _management("GET", "/api/overview")
            return
        except httpx.HTTPError:
            pass
        if shutil.which("rabbitmq-plugins") is None:
            raise SandboxError("rabbitmq-plugins not found: run `apt-get install -y rabbitmq-server`")
        self.out("enabling rabbitmq_management on the machine's RabbitMQ node (about 5 s)")
        done = subprocess.run(
            ["rabbitmq-plugins", "enable", "rabbitmq_management"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise SandboxError(
                "`rabbitmq-plugins enable rabbitmq_management` failed: "
                + ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]
            )
        self._wait("rabbitmq management", lambda: _http_status(f"{c.MANAGEMENT_URL}/api/overview"), None, 30.0)

    def ensure_vhost(self) -> None:
        vhost = c.VHOST
        for method, path, body in (
            ("PUT", f"/api/vhosts/{vhost}", {"description": "golive sandbox"}),
            ("PUT", f"/api/permissions/{vhost}/guest", {"configure": ".*", "write": ".*", "read": ".*"}),
        ):
            try:
                response = _management(method, path, json=body)
            except httpx.HTTPError as exc:
                raise SandboxError(f"RabbitMQ management API on {c.MANAGEMENT_URL}: {_one_line(exc)}") from None
            if response.status_code not in (200, 201, 204):
                raise SandboxError(f"RabbitMQ management {method} {path}: HTTP {response.status_code}")
        dead_letter_args = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": c.DEAD_LETTER_QUEUE}
        deadline = time.monotonic() + 10
        while True:
            try:
                with _amqp_channel() as channel:
                    channel.queue_declare(c.DEAD_LETTER_QUEUE, durable=True)
                    try:
                        channel.queue_declare(c.TASK_QUEUE, durable=True, arguments=dead_letter_args)
                    except pika.exceptions.ChannelClosedByBroker as exc:
                        if exc.reply_code != 406:
                            raise
                        # Declared earlier with other arguments: this vhost is ours, so redeclare it.
                        with _amqp_channel() as again:
                            again.queue_delete(c.TASK_QUEUE)
                            again.queue_declare(c.TASK_QUEUE, durable=True, arguments=dead_letter_args)
                return
            except pika.exceptions.AMQPError as exc:
                # A fresh vhost's permissions take a moment to apply.
                if time.monotonic() > deadline:
                    raise SandboxError(f"cannot declare the sandbox's queues in vhost {vhost}: {exc!r}") from None
                time.sleep(0.3)

    def ensure_replication_access(self) -> None:
        """Let the standby connect for replication from 127.0.0.1 (a pg_hba line and a reload, no restart)."""
        with _pg_connect(c.PRIMARY_PORT) as conn:
            row = conn.execute("SHOW hba_file").fetchone()
        hba_file = Path(row[0]) if row else None
        with contextlib.suppress(OSError):
            if hba_file is not None and HBA_LINE in hba_file.read_text().splitlines():
                self.state.restore["pg_hba_file"] = str(hba_file)  # ours (from an earlier `up`): `down` removes it
        if self._replication_allowed():
            return
        if hba_file is None or not os.access(hba_file, os.W_OK):
            raise SandboxError(
                f"PostgreSQL on {c.HOST}:{c.PRIMARY_PORT} refuses replication connections: add "
                f"`{HBA_LINE}` to {hba_file} and run `SELECT pg_reload_conf()`"
            )
        text = hba_file.read_text()
        if HBA_LINE not in text:
            hba_file.write_text(text + ("" if text.endswith("\n") else "\n") + HBA_LINE + "\n")
            self.out(f"added a replication rule for 127.0.0.1 to {hba_file} (reload, no restart)")
        self.state.restore["pg_hba_file"] = str(hba_file)
        with _pg_connect(c.PRIMARY_PORT) as conn:
            conn.execute("SELECT pg_reload_conf()")
        self._wait("replication access", lambda: None if self._replication_allowed() else "refused", None, 10.0)

    @staticmethod
    def _replication_allowed() -> bool:
        try:
            with psycopg.connect(
                host=c.HOST, port=c.PRIMARY_PORT, user="postgres", replication="true", connect_timeout=3
            ):
                return True
        except psycopg.Error:
            return False

    def restore_replication_access(self) -> None:
        hba = self.state.restore.pop("pg_hba_file", None)
        if not hba:
            return
        path = Path(hba)
        try:
            lines = path.read_text().splitlines(keepends=True)
            kept = [line for line in lines if line.strip() != HBA_LINE]
            if kept != lines:
                path.write_text("".join(kept))
                with _pg_connect(c.PRIMARY_PORT) as conn:
                    conn.execute("SELECT pg_reload_conf()")
        except (OSError, psycopg.Error) as exc:
            self.out(f"warning: could not remove the sandbox's replication rule from {path}: {_one_line(exc)}")

    # --- configuration files ---------------------------------------------------------------------------

    def write_configs(self) -> None:
        paths = self.paths
        paths.haproxy_config.write_text(
            "\n".join(
                [
                    "global",
                    f"    stats socket {paths.haproxy_socket} mode 600 level admin expose-fd listeners",
                    "    stats timeout 10s",
                    "    maxconn 2000",
                    "",
                    "defaults",
                    "    mode http",
                    "    timeout connect 2s",
                    "    timeout client 30s",
                    "    timeout server 30s",
                    "    timeout check 2s",
                    "",
                    "frontend orchestrator",
                    f"    bind {c.HOST}:{c.HAPROXY_PORT}",
                    "    default_backend be",
                    "",
                    "backend be",
                    "    balance roundrobin",
                    "    option httpchk",
                    f"    http-check send meth GET uri {c.LIVENESS_PATHS[self.state.dialect]}",
                    "    default-server inter 2s fall 2 rise 2",
                    f"    server blue {c.HOST}:{c.BLUE_PORT} weight 0 check",
                    f"    server green {c.HOST}:{c.GREEN_PORT} weight 100 check",
                    "",
                ]
            )
        )
        paths.prometheus_config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "2s", "scrape_timeout": "1s", "evaluation_interval": "2s"},
                    "rule_files": [str(paths.prometheus_rules)],
                    "scrape_configs": [
                        {
                            "job_name": f"orchestrator-{env}",
                            "static_configs": [
                                {
                                    "targets": [f"{c.HOST}:{port}"],
                                    "labels": {"environment": env, "version": version},
                                }
                            ],
                        }
                        for env, (version, port) in ENVIRONMENTS.items()
                    ],
                },
                sort_keys=False,
            )
        )
        paths.prometheus_rules.write_text(
            yaml.safe_dump(
                {
                    "groups": [
                        {
                            "name": "orchestrator",
                            "rules": [
                                {
                                    "alert": "OrchestratorDown",
                                    "expr": 'up{job=~"orchestrator-.*"} == 0',
                                    "for": "10s",
                                    "labels": {"severity": "critical"},
                                    "annotations": {"summary": "{{ $labels.job }} does not answer scrapes"},
                                },
                                {
                                    "alert": "OrchestratorHighErrorRate",
                                    "expr": 'sum by (job) (rate(http_requests_total{status=~"5.."}[30s])) '
                                    "/ sum by (job) (rate(http_requests_total[30s])) > 0.01",
                                    "for": "10s",
                                    "labels": {"severity": "critical"},
                                    "annotations": {"summary": "{{ $labels.job }} answers over 1% with 5xx"},
                                },
                                {
                                    "alert": "OrchestratorHighLatency",
                                    "expr": "histogram_quantile(0.95, sum by (job, le) "
                                    "(rate(http_request_duration_seconds_bucket[30s]))) > 0.2",
                                    "for": "10s",
                                    "labels": {"severity": "warning"},
                                    "annotations": {"summary": "{{ $labels.job }} p95 latency above 200 ms"},
                                },
                            ],
                        }
                    ]
                },
                sort_keys=False,
            )
        )

    def stage_release_files(self) -> None:
        """What a deployment leaves on the hosts: each app's env file, the release's source tree (any planted
        secret removed), the deploy and rollback scripts."""
        for env in ENVIRONMENTS:
            env_file = self.paths.env_file(env)
            env_file.parent.mkdir(parents=True, exist_ok=True)
            variables = app_variables(env, self.paths, self.state.app_options)
            env_file.write_text("".join(f"{key}={value}\n" for key, value in variables.items()))
            env_file.chmod(0o600)  # it holds credentials
        shutil.rmtree(self.paths.source, ignore_errors=True)
        (self.paths.source / "orchestrator").mkdir(parents=True)
        for name in SOURCE_FILES:
            shutil.copyfile(Path(__file__).with_name(name), self.paths.source / "orchestrator" / name)
        cli = f"{sys.executable} -m golive.sandbox.cli helper haproxy-weights"
        for name, weights in (("deploy", "--blue 100 --green 0"), ("rollback", "--clear")):
            script = self.paths.deploy_script(name)
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(f"#!/bin/sh\n# {name} the orchestrator: move HAProxy's traffic\nexec {cli} {weights}\n")
            script.chmod(0o755)

    def plant_secret(self, plant: bool) -> Path:
        """Put a hard-coded AWS key pair into the release's source tree (or take it out again)."""
        planted = self.paths.source / "orchestrator" / PLANTED_SECRET_FILE
        if not plant:
            planted.unlink(missing_ok=True)
            return planted
        # Assembled at run time so that scanning golive's own code finds no key here. AWS's documented example
        # key pair: it grants nothing.
        key_id = "AKIA" + "IOSFODNN7" + "EXAMPLE"
        secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
        planted.write_text(
            "# Local overrides.\n\n"
            f'AWS_ACCESS_KEY_ID = "{key_id}"\n'
            f'AWS_SECRET_ACCESS_KEY = "{secret}"\n'
        )
        return planted

    def start_fresh_app_logs(self) -> None:
        """Keep each app's log from before this `up` as NAME.log.1 and empty NAME.log, so errors logged under
        earlier faults do not count against the healthy sandbox. The apps append (O_APPEND): writes carry on
        at the new end."""
        for env in ENVIRONMENTS:
            log = self.paths.log(env)
            if log.exists() and log.stat().st_size:
                shutil.copyfile(log, log.with_name(log.name + ".1"))
                with open(log, "r+b") as handle:
                    handle.truncate(0)

    def ensure_release_repository(self) -> None:
        """A git repository with a tag per release (v2.0.5, v2.1.0), as the orchestrator's repository has."""
        repo = self.paths.release_repository
        git = _require_binary("git")

        def run(*args: str) -> str:
            done = subprocess.run(
                [git, "-C", str(repo), "-c", "user.name=golive sandbox", "-c", "user.email=sandbox@golive.invalid",
                 *args],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise SandboxError(f"`git {' '.join(args)}` in {repo} failed: {done.stderr.strip()[:200]}")
            return done.stdout

        if not (repo / ".git").exists():
            repo.mkdir(parents=True, exist_ok=True)
            run("init", "--quiet")
        tags = set(run("tag", "--list").split())
        for version in (c.GREEN_VERSION, c.BLUE_VERSION):
            if f"v{version}" in tags:
                continue
            (repo / "VERSION").write_text(version + "\n")
            run("add", "VERSION")
            run("commit", "--quiet", "--allow-empty", "-m", f"Release {version}")
            run("tag", "-a", f"v{version}", "-m", f"Release {version}")

    # --- the standby -----------------------------------------------------------------------------------

    def _owner(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _chown(self, path: Path) -> None:
        owner = self._owner()
        if owner:
            shutil.chown(path, owner, owner)

    def base_backup(self) -> None:
        data = self.paths.standby_data
        if data.exists():
            shutil.rmtree(data)
        data.mkdir(mode=0o700)
        self._chown(data)
        log_path = self.paths.log("standby-basebackup")
        command = [
            str(self.pg_bindir() / "pg_basebackup"),
            "-D",
            str(data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-d",
            f"host={c.HOST} port={c.PRIMARY_PORT} user=postgres application_name={c.STANDBY_APPLICATION_NAME}",
        ]
        owner = self._owner()
        extra: dict[str, Any] = {"user": owner, "group": owner, "extra_groups": []} if owner else {}
        with open(log_path, "ab") as log:
            try:
                done = subprocess.run(
                    command, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False, cwd="/", **extra
                )
            except subprocess.TimeoutExpired:
                raise SandboxError(f"pg_basebackup did not finish within 120 s; see {log_path}") from None
        if done.returncode != 0:
            raise SandboxError(f"pg_basebackup failed (exit {done.returncode}); see {log_path}")
        # Debian keeps the primary's configuration outside its data directory: give the standby its own.
        with _pg_connect(c.PRIMARY_PORT) as conn:
            primary = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', "
                    "'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', "
                    "'max_locks_per_transaction')"
                ).fetchall()
            )
        settings = {
            "listen_addresses": f"'{c.HOST}'",
            "port": str(c.STANDBY_PORT),
            "unix_socket_directories": "''",
            "cluster_name": f"'{c.STANDBY_APPLICATION_NAME}'",
            "hot_standby": "on",
            "hot_standby_feedback": "on",
            "shared_buffers": "32MB",
            "logging_collector": "off",
            **primary,  # a hot standby needs these at least as large as on its primary
        }
        files = {
            "postgresql.conf": "".join(f"{name} = {value}\n" for name, value in settings.items()),
            "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
            "pg_ident.conf": "",
        }
        for name, text in files.items():
            (data / name).write_text(text)
            self._chown(data / name)

    # --- processes -------------------------------------------------------------------------------------

    def _start(self, service: Service) -> None:
        self.state.processes[service.name] = processes.spawn(
            service.command,
            self.paths.log(service.name),
            env=service.env,
            cwd=self.paths.root,
            user=service.user,
        )
        self.state.save(self.paths.state_file)

    def _wait(
        self, what: str, ready: Callable[[], str | None], record_name: str | None, timeout_s: float = START_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout_s
        seen: str | None = "not checked"
        while time.monotonic() < deadline:
            seen = ready()
            if seen is None:
                return
            if record_name is not None and not self._record_alive(record_name):
                raise SandboxError(f"{what} exited while starting; see {self.paths.log(record_name)}")
            time.sleep(0.2)
        where = f"; see {self.paths.log(record_name)}" if record_name else ""
        raise SandboxError(f"{what} not ready within {timeout_s:.0f} s ({seen}){where}")

    def _stop_service(self, name: str) -> list[int]:
        record = self.state.processes.get(name)
        if record is None:
            return []
        survivors = processes.stop(record, POLITE_SIGNALS.get(name, signal.SIGTERM), STOP_TIMEOUT_S)
        if not survivors:
            del self.state.processes[name]
        self.state.save(self.paths.state_file)
        return survivors

    def launch(self, services: dict[str, Service], names: tuple[str, ...] = START_ORDER) -> list[str]:
        """Start every named service that is not running, without waiting. Return those started."""
        started = []
        for name in names:
            if self._record_alive(name):
                continue
            self.state.processes.pop(name, None)
            if name == "standby" and not (self.paths.standby_data / "PG_VERSION").exists():
                self.base_backup()
            self._start(services[name])
            started.append(name)
        return started

    def await_ready(self, services: dict[str, Service], names: list[str]) -> None:
        """Wait (bounded) until each named service answers."""
        for name in names:
            try:
                self._wait(name, services[name].ready, name)
            except SandboxError:
                if name != "standby":
                    raise
                # A standby that cannot resume from its old data directory: take a fresh base backup once.
                self._stop_service("standby")
                self.base_backup()
                self._start(services["standby"])
                self._wait("standby", services["standby"].ready, "standby")

    def start_missing(self, names: tuple[str, ...] = START_ORDER) -> list[str]:
        """Start every named service that is not running; wait until each answers. Return those started."""
        services = self.services()
        started = self.launch(services, names)
        self.await_ready(services, started)
        return started

    # --- AWS (moto) ------------------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=f"http://{c.HOST}:{c.MOTO_PORT}",
            config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}),
        )

    def ensure_aws(self) -> None:
        self._ensure_load_balancer()
        self._ensure_backup()
        secrets = self._client("secretsmanager")
        existing = {s["Name"] for s in secrets.list_secrets().get("SecretList", [])}
        for name in SECRETS:
            if name not in existing:
                value = {"orchestrator/db": {"dsn": c.PRIMARY_DSN}, "orchestrator/rabbitmq": {"url": c.AMQP_URL}}
                secrets.create_secret(Name=name, SecretString=json.dumps(value.get(name, {})))
        self._ensure_images()
        self._ensure_dns()
        logs = self._client("logs")
        groups = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/orchestrator/")["logGroups"]}
        for name in LOG_GROUPS:
            if name not in groups:
                logs.create_log_group(logGroupName=name)
        cloudwatch = self._client("cloudwatch")
        present = {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=list(ALARMS))["MetricAlarms"]}
        definitions: dict[str, dict[str, Any]] = {
            "orchestrator-5xx": {"MetricName": "HTTPCode_Target_5XX_Count", "Statistic": "Sum", "Threshold": 10.0},
            "orchestrator-p95": {"MetricName": "TargetResponseTime", "ExtendedStatistic": "p95", "Threshold": 0.2},
        }
        for name in ALARMS:
            if name not in present:
                cloudwatch.put_metric_alarm(
                    AlarmName=name,
                    Namespace="AWS/ApplicationELB",
                    Period=60,
                    EvaluationPeriods=1,
                    ComparisonOperator="GreaterThanThreshold",
                    Dimensions=[{"Name": "LoadBalancer", "Value": LOAD_BALANCER}],
                    **definitions[name],
                )

    def _ensure_load_balancer(self) -> None:
        elbv2 = self._client("elbv2")
        try:
            balancer = elbv2.describe_load_balancers(Names=[LOAD_BALANCER])["LoadBalancers"][0]
        except elbv2.exceptions.LoadBalancerNotFoundException:
            balancer = None
        if balancer is None:
            ec2 = self._client("ec2")
            vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{index}.0/24", AvailabilityZone=f"us-east-1{zone}")[
                    "Subnet"
                ]["SubnetId"]
                for index, zone in ((1, "a"), (2, "b"))
            ]
            balancer = elbv2.create_load_balancer(
                Name=LOAD_BALANCER, Subnets=subnets, Scheme="internal", Type="application"
            )["LoadBalancers"][0]
        vpc_id = balancer["VpcId"]
        groups: dict[str, str] = {}
        for env, (_version, port) in ENVIRONMENTS.items():
            name = f"{LOAD_BALANCER}-{env}"
            try:
                group = elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]
            except elbv2.exceptions.TargetGroupNotFoundException:
                group = elbv2.create_target_group(
                    Name=name,
                    Protocol="HTTP",
                    Port=port,
                    VpcId=vpc_id,
                    TargetType="ip",
                    HealthCheckPath="/health",
                )["TargetGroups"][0]
            groups[env] = group["TargetGroupArn"]
        listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
        if listeners:
            listener_arn = listeners[0]["ListenerArn"]
        else:
            listener_arn = elbv2.create_listener(
                LoadBalancerArn=balancer["LoadBalancerArn"],
                Protocol="HTTP",
                Port=80,
                DefaultActions=[_forward_action(groups, {"blue": 0, "green": 100})],
            )["Listeners"][0]["ListenerArn"]
        self.state.aws.update(
            listener_arn=listener_arn, target_groups=groups, load_balancer_arn=balancer["LoadBalancerArn"]
        )

    def restore_alb_targets(self) -> None:
        """Each target group has its app's target registered and is health-checked on the liveness path."""
        elbv2 = self._client("elbv2")
        liveness = c.LIVENESS_PATHS[self.state.dialect]
        for env, (_version, port) in ENVIRONMENTS.items():
            arn = self.state.aws["target_groups"][env]
            group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
            if group.get("HealthCheckPath") != liveness:
                elbv2.modify_target_group(TargetGroupArn=arn, HealthCheckPath=liveness)
            if not elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
                elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": ALB_TARGETS[env], "Port": port}])

    def break_alb_target_group(self, env: str, deregister: bool, health_check_path: str | None) -> None:
        """Deregister an environment's targets and/or point its health check elsewhere (undone by `up`)."""
        elbv2 = self._client("elbv2")
        arn = self.state.aws["target_groups"][env]
        if deregister:
            health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            targets = [description["Target"] for description in health]
            if targets:
                elbv2.deregister_targets(TargetGroupArn=arn, Targets=targets)
        if health_check_path is not None:
            elbv2.modify_target_group(TargetGroupArn=arn, HealthCheckPath=health_check_path)

    def alb_weights(self) -> dict[str, int]:
        elbv2 = self._client("elbv2")
        listener = elbv2.describe_listeners(ListenerArns=[self.state.aws["listener_arn"]])["Listeners"][0]
        by_arn = {arn: env for env, arn in self.state.aws["target_groups"].items()}
        weights: dict[str, int] = {}
        for action in listener["DefaultActions"]:
            for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
                weights[by_arn.get(group["TargetGroupArn"], group["TargetGroupArn"])] = int(group.get("Weight", 1))
        return weights

    def set_alb_weights(self, blue: int, green: int) -> None:
        if self.alb_weights() == {"blue": blue, "green": green}:
            return
        self._client("elbv2").modify_listener(
            ListenerArn=self.state.aws["listener_arn"],
            DefaultActions=[_forward_action(self.state.aws["target_groups"], {"blue": blue, "green": green})],
        )

    def _backup_objects(self) -> list[dict[str, Any]]:
        s3 = self._client("s3")
        return list(s3.list_objects_v2(Bucket=BUCKET, Prefix=BACKUP_PREFIX).get("Contents", []))

    def _ensure_backup(self, force: bool = False) -> None:
        s3 = self._client("s3")
        try:
            s3.head_bucket(Bucket=BUCKET)
        except s3.exceptions.ClientError:
            s3.create_bucket(Bucket=BUCKET)
        fresh_after = datetime.now(UTC) - timedelta(hours=12)
        if not force and any(o["LastModified"] > fresh_after and o["Size"] > 0 for o in self._backup_objects()):
            return
        try:
            dump = subprocess.run(
                [
                    str(self.pg_bindir() / "pg_dump"),
                    "-Fc",
                    "-h",
                    c.HOST,
                    "-p",
                    str(c.PRIMARY_PORT),
                    "-U",
                    "postgres",
                    c.DATABASE,
                ],
                capture_output=True,
                timeout=60,
                check=True,
            ).stdout
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"pg_dump of {c.DATABASE} for the S3 backup failed: {_one_line(exc)}") from None
        key = f"{BACKUP_PREFIX}{c.DATABASE}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.dump"
        s3.put_object(Bucket=BUCKET, Key=key, Body=dump)
        self.state.aws["backup_key"] = key

    def _ensure_images(self) -> None:
        ecr = self._client("ecr")
        try:
            ecr.describe_repositories(repositoryNames=[REPOSITORY])
        except ecr.exceptions.RepositoryNotFoundException:
            ecr.create_repository(repositoryName=REPOSITORY)
        for tag in (c.GREEN_VERSION, c.BLUE_VERSION):
            try:
                ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])
                continue
            except ecr.exceptions.ImageNotFoundException:
                pass
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": 7023,
                    "digest": "sha256:" + f"{tag}-config".encode().hex().ljust(64, "0")[:64],
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 48_000_000,
                        "digest": "sha256:" + f"{tag}-layer".encode().hex().ljust(64, "0")[:64],
                    }
                ],
            }
            ecr.put_image(repositoryName=REPOSITORY, imageManifest=json.dumps(manifest), imageTag=tag)
            self._scan_image(tag, CLEAN_SCAN_COUNTS)
        for tag in (c.GREEN_VERSION, c.BLUE_VERSION):
            try:
                ecr.describe_image_scan_findings(repositoryName=REPOSITORY, imageId={"imageTag": tag})
            except ecr.exceptions.ScanNotFoundException:  # pushed by an older sandbox without a scan
                self._scan_image(tag, CLEAN_SCAN_COUNTS)

    def _scan_image(self, tag: str, counts: dict[str, int]) -> None:
        """Start a scan of an image and give moto its result (moto's default has a made-up HIGH finding).

        moto scans an image once a day and keeps the first result it hands out, so a different result needs a
        fresh image: the helper deletes and re-pushes the same manifest first.
        """
        ecr = self._client("ecr")
        ecr.start_image_scan(repositoryName=REPOSITORY, imageId={"imageTag": tag})
        result = {
            "registryId": ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]["registryId"],
            "repositoryName": REPOSITORY,
            "imageId": {"imageTag": tag},
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindings": {"findings": [], "findingSeverityCounts": counts},
        }
        response = httpx.post(
            f"http://{c.HOST}:{c.MOTO_PORT}/moto-api/static/ecr/scan-finding-results",
            json={"results": [result], "region": "us-east-1"},
            timeout=HTTP_TIMEOUT,
        )
        if response.status_code >= 300:
            raise SandboxError(f"moto refused the scan result of {REPOSITORY}:{tag}: HTTP {response.status_code}")

    def set_image_findings(self, tag: str, counts: dict[str, int] | None) -> None:
        """Re-push an image and give its new scan these finding counts (None: the clean result)."""
        ecr = self._client("ecr")
        image = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["images"][0]
        ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])
        ecr.put_image(repositoryName=REPOSITORY, imageManifest=image["imageManifest"], imageTag=tag)
        self._scan_image(tag, counts if counts is not None else CLEAN_SCAN_COUNTS)
        if counts is None:
            self.state.restore.pop("image_findings", None)
        else:
            self.state.restore["image_findings"] = tag

    def _ensure_dns(self) -> None:
        route53 = self._client("route53")
        zones = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == DNS_ZONE]
        if zones:
            zone_id = zones[0]["Id"].rsplit("/", 1)[-1]
        else:
            zone = route53.create_hosted_zone(Name=DNS_ZONE, CallerReference=f"golive-sandbox-{time.time_ns()}")
            zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
        self.state.aws["dns_zone_id"] = zone_id
        if self.dns_ttls() != dict.fromkeys(ENVIRONMENTS, DNS_TTL):
            self.set_dns_ttl(DNS_TTL)

    def dns_ttls(self) -> dict[str, int]:
        """The TTL of each environment's weighted record of the orchestrator's public name."""
        sets = self._client("route53").list_resource_record_sets(
            HostedZoneId=self.state.aws["dns_zone_id"], StartRecordName=DNS_RECORD
        )["ResourceRecordSets"]
        return {r["SetIdentifier"]: int(r["TTL"]) for r in sets if r["Name"] == DNS_RECORD and "SetIdentifier" in r}

    def set_dns_ttl(self, ttl: int) -> None:
        """UPSERT the weighted records (blue 0, green 100) of the public name with this TTL."""
        changes = [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": DNS_RECORD,
                    "Type": "CNAME",
                    "SetIdentifier": env,
                    "Weight": 0 if env == "blue" else 100,
                    "TTL": ttl,
                    "ResourceRecords": [{"Value": f"{env}.{DNS_ZONE}"}],
                },
            }
            for env in ENVIRONMENTS
        ]
        self._client("route53").change_resource_record_sets(
            HostedZoneId=self.state.aws["dns_zone_id"], ChangeBatch={"Changes": changes}
        )

    # --- faults ----------------------------------------------------------------------------------------

    def write_fault(
        self, env: str, error_rate: float | None, latency_ms: float | None, dependency_down: str | None = None
    ) -> dict[str, Any]:
        path = self.paths.fault_file(env)
        try:
            current = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            current = {}
        if error_rate is not None:
            current["error_rate"] = error_rate
        if latency_ms is not None:
            current["latency_ms"] = latency_ms
        if dependency_down is not None:
            current["dependency_down"] = sorted({*current.get("dependency_down", []), dependency_down})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(current))
        tmp.replace(path)
        return current

    def clear_fault_files(self) -> None:
        for env in ENVIRONMENTS:
            self.paths.fault_file(env).unlink(missing_ok=True)

    def haproxy_weight(self, server: str) -> int:
        answer = _haproxy_command(self.paths.haproxy_socket, f"get weight be/{server}").strip()
        # "100 (initial 100)"
        try:
            return int(answer.split()[0])
        except (IndexError, ValueError):
            raise SandboxError(f"HAProxy answered {answer!r} to `get weight be/{server}`") from None

    def set_haproxy_weights(self, blue: int, green: int) -> None:
        for server, weight in (("blue", blue), ("green", green)):
            answer = _haproxy_command(self.paths.haproxy_socket, f"set server be/{server} weight {weight}").strip()
            if answer:
                raise SandboxError(f"HAProxy refused `set server be/{server} weight {weight}`: {answer}")

    def set_haproxy_health(self, server: str, enabled: bool) -> None:
        """Turn HAProxy's health checks of be/SERVER off (as if its `check` were missing) or back on."""
        command = f"{'enable' if enabled else 'disable'} health be/{server}"
        answer = _haproxy_command(self.paths.haproxy_socket, command).strip()
        if answer:
            raise SandboxError(f"HAProxy refused `{command}`: {answer}")

    def set_alarm(self, name: str, state_value: str) -> None:
        self._client("cloudwatch").set_alarm_state(
            AlarmName=name, StateValue=state_value, StateReason=f"set by golive sandbox helper ({state_value})"
        )

    def alarm_states(self) -> dict[str, str]:
        alarms = self._client("cloudwatch").describe_alarms(AlarmNames=list(ALARMS))["MetricAlarms"]
        return {a["AlarmName"]: a["StateValue"] for a in alarms}

    def pause_replay(self, pause: bool) -> None:
        function = "pg_wal_replay_pause" if pause else "pg_wal_replay_resume"
        with _pg_connect(c.STANDBY_PORT) as conn:
            conn.execute(f"SELECT {function}()".encode())

    def replay_paused(self) -> bool:
        with _pg_connect(c.STANDBY_PORT) as conn:
            row = conn.execute("SELECT pg_is_wal_replay_paused()").fetchone()
        return bool(row and row[0])

    def memory_alarm(self, raise_it: bool) -> None:
        if raise_it:
            if "rabbitmq_watermark" not in self.state.restore:
                self.state.restore["rabbitmq_watermark"] = _rabbitmqctl(
                    "eval", "vm_memory_monitor:get_vm_memory_high_watermark()."
                )
                self.state.save(self.paths.state_file)
            _rabbitmqctl("set_vm_memory_high_watermark", "0.0000001")
            return
        original = self.state.restore.get("rabbitmq_watermark")
        if original is None:
            return
        _rabbitmqctl("set_vm_memory_high_watermark", *_watermark_args(original))
        del self.state.restore["rabbitmq_watermark"]

    def redis_maxmemory(self, shrink: bool, limit_bytes: int | None = None) -> int:
        client = _redis()
        if shrink:
            if "redis_maxmemory" not in self.state.restore:
                self.state.restore["redis_maxmemory"] = str(client.config_get("maxmemory")["maxmemory"])
                self.state.save(self.paths.state_file)
            used = int(client.info("memory")["used_memory"])
            # Just above what is used: memory usage reads ~95 % of the limit without refusing every write
            # of the other users of this shared Redis.
            limit = limit_bytes if limit_bytes is not None else int(used / 0.95)
            client.config_set("maxmemory", str(limit))
            return limit
        original = self.state.restore.pop("redis_maxmemory", None)
        if original is not None:
            client.config_set("maxmemory", original)
            return int(original)
        return int(str(client.config_get("maxmemory")["maxmemory"]))

    def _unset_redis_limit(self) -> None:
        original = self.state.restore.pop("redis_maxmemory_unset", None)
        if original is not None:
            _redis().config_set("maxmemory", original)

    def fill_queue(self, queue: str, count: int) -> None:
        if queue == c.TASK_QUEUE and self._record_alive("worker"):
            self.stop_worker()
        self.state.restore["filled_queues"] = sorted({*self.state.restore.get("filled_queues", []), queue})
        self.state.save(self.paths.state_file)
        body = json.dumps({"filler": True, "payload": {"filler": True}}).encode()
        with _amqp_channel() as channel:
            for _ in range(count):
                channel.basic_publish(exchange="", routing_key=queue, body=body)

    def stop_worker(self) -> None:
        """Stop the agent worker and wait (bounded) until the broker has dropped its consumer: until then a new
        message could still be handed to the dead connection instead of waiting in the queue."""
        self._stop_service("worker")
        self._wait("the worker's consumer to leave agent.tasks", self._no_consumer, None, timeout_s=15)

    def _no_consumer(self) -> str | None:
        _messages, consumers = _queue_counts(c.TASK_QUEUE)
        return None if consumers == 0 else f"{c.TASK_QUEUE} still has {consumers} consumer(s)"

    def poison(self, count: int) -> None:
        body = json.dumps({"poison": True, "payload": {"poison": True}}).encode()
        with _amqp_channel() as channel:
            for _ in range(count):
                channel.basic_publish(exchange="", routing_key=c.TASK_QUEUE, body=body)
        self.state.restore["filled_queues"] = sorted(
            {*self.state.restore.get("filled_queues", []), c.TASK_QUEUE, c.DEAD_LETTER_QUEUE}
        )

    def clear_queues(self) -> None:
        queues = {*self.state.restore.pop("filled_queues", []), c.DEAD_LETTER_QUEUE}
        with _amqp_channel() as channel:
            for queue in sorted(queues):
                channel.queue_purge(queue)

    # --- data faults: sandbox-side writes that Gate 3's data-integrity checks must catch ----------------
    # Each records the statements that undo it in state.restore["data_undo"]; clear_data_faults runs them.

    def _data_change(self, change: str, params: tuple[Any, ...], undo: Callable[[list[Any]], list[list[Any]]]) -> int:
        """Run one write on the sandbox database; record the undo statements built from the rows it returns."""
        with _pg_connect(c.PRIMARY_PORT, c.DATABASE) as conn, conn.transaction():
            returned = [list(row) for row in conn.execute(change.encode(), params).fetchall()]
        undos = [statement for row in returned for statement in undo(row)]
        self.state.restore["data_undo"] = [*self.state.restore.get("data_undo", []), *undos]
        self.state.save(self.paths.state_file)
        return len(returned)

    def delete_rows(self, table: str, count: int) -> int:
        """Delete the newest ``count`` rows of an integrity table (as data lost in a cutover would be)."""
        if table not in DATA_FAULT_TABLES:
            raise SandboxError(f"delete-rows: choose a table of {', '.join(DATA_FAULT_TABLES)}")
        deleted = self._data_change(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id DESC LIMIT %s)"
            f" RETURNING row_to_json({table}.*)::text",
            (count,),
            lambda row: [[f"INSERT INTO {table} SELECT * FROM json_populate_record(NULL::{table}, %s::json)", row]],
        )
        if deleted < count:
            raise SandboxError(f"delete-rows: {table} had only {deleted} row(s) to delete")
        return deleted

    def break_invariant(self) -> None:
        """Insert a message whose agent does not exist: violates "every message belongs to a known agent"."""
        self._data_change(
            "INSERT INTO messages (agent_id, role, content)"
            " VALUES (-1, 'assistant', 'orphan written by golive sandbox') RETURNING id",
            (),
            lambda row: [["DELETE FROM messages WHERE id = %s", row]],
        )

    def change_immutable(self) -> None:
        """Change reference data that must not change across a cutover: the kind of agent ``scheduler``."""
        changed = self._data_change(
            "WITH old AS (SELECT id, kind FROM agents WHERE name = 'scheduler' FOR UPDATE)"
            " UPDATE agents SET kind = old.kind || '-changed' FROM old WHERE agents.id = old.id"
            " RETURNING agents.id, old.kind",
            (),
            lambda row: [["UPDATE agents SET kind = %s WHERE id = %s", [row[1], row[0]]]],
        )
        if not changed:
            raise SandboxError("change-immutable: agent 'scheduler' not found")

    def clear_data_faults(self) -> int:
        """Undo every data fault, newest first, in one transaction; return how many statements ran."""
        undos = self.state.restore.get("data_undo", [])
        if undos:
            with _pg_connect(c.PRIMARY_PORT, c.DATABASE) as conn, conn.transaction():
                for statement, params in reversed(undos):
                    conn.execute(statement.encode(), params)
            del self.state.restore["data_undo"]
            self.state.save(self.paths.state_file)
        return len(undos)

    def age_backup(self, hours: float) -> list[str]:
        aged = []
        for obj in self._backup_objects():
            response = httpx.post(
                f"http://{c.HOST}:{c.MOTO_PORT}{aws_server.AGE_PATH}",
                params={"bucket": BUCKET, "key": obj["Key"], "hours": str(hours)},
                timeout=HTTP_TIMEOUT,
            )
            if response.status_code != 200:
                raise SandboxError(f"could not age s3://{BUCKET}/{obj['Key']}: {response.text[:200]}")
            aged.append(obj["Key"])
        return aged

    def clear_infrastructure_faults(self) -> None:
        """Undo every helper: what `up` does after making sure everything runs."""
        self.clear_data_faults()
        if self.replay_paused():
            self.pause_replay(False)
        self.memory_alarm(False)
        self.redis_maxmemory(False)
        self.set_haproxy_weights(0, 100)
        for env in ENVIRONMENTS:
            self.set_haproxy_health(env, True)
        self.set_alb_weights(0, 100)
        for name, value in self.alarm_states().items():
            if value != "OK":
                self.set_alarm(name, "OK")
        self._ensure_backup()
        self.restore_alb_targets()
        if self.dns_ttls() != dict.fromkeys(ENVIRONMENTS, DNS_TTL):
            self.set_dns_ttl(DNS_TTL)
        if self.state.restore.get("image_findings"):
            self.set_image_findings(self.state.restore["image_findings"], None)

    # --- the commands ----------------------------------------------------------------------------------

    def use_app_options(self, requested: dict[str, str | None]) -> list[str]:
        """Record the app options ``up`` was asked for (unset: the default); stop blue and green (and HAProxy, whose
        health check follows the dialect) if they run with others, so that they start again with these. Returns
        what changed (``metrics node``)."""
        wanted = {name: requested.get(name) or default for name, (_variable, default) in c.APP_OPTIONS.items()}
        running = {name: self.state.app_options.get(name, default) for name, (_var, default) in c.APP_OPTIONS.items()}
        changed = [f"{name} {value}" for name, value in wanted.items() if running[name] != value]
        if changed:
            for name in ("haproxy", *ENVIRONMENTS):
                if self._stop_service(name):
                    raise SandboxError(f"{name} did not stop; run `golive sandbox down`")
        self.state.app_options = wanted
        self.state.save(self.paths.state_file)
        return changed

    def up(self, config_out: Path, app_options: dict[str, str | None] | None = None) -> int:
        started_at = time.monotonic()
        with self.locked():
            changed = self.use_app_options(app_options or {})
            if changed:
                self.out(f"restarting blue and green with {', '.join(changed)}")
            self.check_prerequisites()
            self.ensure_management()
            applied = self.ensure_database()
            if applied:
                self.out(f"schema migrations applied: {', '.join(applied)}")
            self.ensure_reader_role()
            self.ensure_vhost()
            self.ensure_replication_access()
            self.paths.logs.mkdir(parents=True, exist_ok=True)
            self.paths.prometheus_data.mkdir(parents=True, exist_ok=True)
            self.write_configs()
            self.stage_release_files()
            self.ensure_release_repository()
            self.clear_fault_files()
            self.clear_queues()  # before the worker starts: it would dead-letter leftover poison tasks
            services = self.services()
            started = self.launch(services)
            # Prometheus takes ~5 s to pick up its targets: create the AWS resources meanwhile.
            self.await_ready(services, [name for name in started if name != "prometheus"])
            self.ensure_aws()
            self.await_ready(services, [name for name in started if name == "prometheus"])
            self.clear_infrastructure_faults()
            self.ensure_redis_limit()
            # An app restarted just now is back in HAProxy's rotation only after two passing checks (~4 s): wait,
            # so that traffic moved right after `up` never meets a server HAProxy still marks down.
            self._wait("HAProxy's health checks of blue and green", self._haproxy_sees_both, "haproxy")
            self.start_fresh_app_logs()
            write_golive_config(config_out, self.paths, self.state)
            chosen = {key: value for key, value in self.state.app_options.items() if value != c.APP_OPTIONS[key][1]}
            if chosen:
                self.out("apps: " + ", ".join(f"{key} {value}" for key, value in sorted(chosen.items())))
            rows = self._status_rows()
        if started:
            self.out(f"started: {', '.join(started)}")
        else:
            self.out("everything was already running")
        self._print_table(rows)
        self.out(f"configuration: {config_out}  (up took {time.monotonic() - started_at:.1f} s)")
        return 0 if all(row[3] == "up" for row in rows) else 1

    def status(self) -> int:
        with self.locked():
            rows = self._status_rows()
        self._print_table(rows)
        return 0 if all(row[3] == "up" for row in rows) else 1

    def down(self) -> int:
        with self.locked():
            survivors: list[int] = []
            # Front to back: the load balancer and the apps first, the standby last; then anything recorded
            # under another name.
            order = ("haproxy", "prometheus", "blue", "green", "worker", "moto", "standby")
            watched = [
                pid
                for record in self.state.processes.values()
                if processes.is_alive(record)
                for pid in (record.pid, *processes.group_members(record.pid))
            ]
            for name in [*order, *(name for name in self.state.processes if name not in order)]:
                survivors += self._stop_service(name)
            # The trailing slash: files inside the state directory, not siblings such as a lock file beside it.
            strays = processes.wait_gone(processes.processes_mentioning(f"{self.paths.root}/"), 0)
            for pid in strays:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            survivors += processes.wait_gone(strays, 5.0)
            processes.wait_reaped(watched, 3.0)
            self.state.aws = {}  # moto keeps its resources in memory: they went with it
            self.state.app_options = {}
            self._restore_shared_services()
            self.clear_fault_files()
        if survivors:
            raise SandboxError(f"processes still running after SIGKILL: {sorted(set(survivors))}")
        self.out("sandbox stopped: no sandbox process is running; shared-service settings restored")
        return 0

    def _restore_shared_services(self) -> None:
        for undo in (lambda: self.memory_alarm(False), lambda: self.redis_maxmemory(False), self._unset_redis_limit):
            try:
                undo()
            except (SandboxError, redis.RedisError) as exc:
                self.out(f"warning: {exc}")
        self.restore_replication_access()

    def fault(
        self,
        env: str,
        error_rate: float | None,
        latency_ms: float | None,
        crash: bool,
        stop_worker: bool,
        clear: bool,
        dependency_down: str | None = None,
    ) -> int:
        if env not in ENVIRONMENTS:
            raise SandboxError(f"unknown environment {env!r}: choose blue or green")
        with self.locked():
            if not self.state.processes:
                raise SandboxError("the sandbox is not running: run `golive sandbox up`")
            said = []
            if clear:
                self.paths.fault_file(env).unlink(missing_ok=True)
                restarted = self.start_missing((env, "worker"))
                said.append("faults cleared" + (f", restarted {', '.join(restarted)}" if restarted else ""))
            if error_rate is not None or latency_ms is not None or dependency_down is not None:
                current = self.write_fault(env, error_rate, latency_ms, dependency_down)
                said.append(", ".join(f"{key}={value:g}" if isinstance(value, float | int) else
                                      f"{key}={','.join(value)}" for key, value in sorted(current.items())))
            if crash:
                record = self.state.processes.get(env)
                if record is not None and processes.is_alive(record):
                    os.kill(record.pid, signal.SIGKILL)
                    processes.wait_gone([record.pid], 5.0)
                said.append(f"app crashed (pid {record.pid if record else '-'} killed)")
            if stop_worker:
                self.stop_worker()
                said.append("worker stopped")
        self.out(f"{env}: {'; '.join(said) or 'nothing to do (see --help)'}")
        return 0

    def _status_rows(self) -> list[tuple[str, str, str, str]]:
        rows: list[tuple[str, str, str, str]] = []
        ports = {
            "green": c.GREEN_PORT,
            "blue": c.BLUE_PORT,
            "standby": c.STANDBY_PORT,
            "haproxy": c.HAPROXY_PORT,
            "moto": c.MOTO_PORT,
            "prometheus": c.PROMETHEUS_PORT,
        }
        for name in SERVICES:
            record = self.state.processes.get(name)
            alive = record is not None and processes.is_alive(record)
            port = ports.get(name)
            answering = alive and (port is None or _tcp_open(port))
            rows.append(
                (name, str(record.pid) if alive and record else "-", str(port or "-"), "up" if answering else "down")
            )
        for name, port in (
            ("postgres (machine)", c.PRIMARY_PORT),
            ("rabbitmq (machine)", c.AMQP_PORT),
            ("rabbitmq-management", c.RABBITMQ_MANAGEMENT_PORT),
            ("redis (machine)", c.REDIS_PORT),
        ):
            rows.append((name, "-", str(port), "up" if _tcp_open(port) else "down"))
        return rows

    def _print_table(self, rows: list[tuple[str, str, str, str]]) -> None:
        self.out(f"{'piece':<22} {'pid':>8} {'port':>6}  state")
        for name, pid, port, state in rows:
            self.out(f"{name:<22} {pid:>8} {port:>6}  {state}")


def _forward_action(groups: dict[str, str], weights: dict[str, int]) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": groups[env], "Weight": weights[env]} for env in ("blue", "green")]
        },
    }


def _watermark_args(original: str) -> list[str]:
    """``0.4`` -> ["0.4"]; ``{absolute,1073741824}`` -> ["absolute", "1073741824"]."""
    text = original.strip()
    if text.startswith("{absolute,"):
        return ["absolute", text.removeprefix("{absolute,").rstrip("}").strip()]
    return [text]


def app_variables(env: str, paths: Paths, options: dict[str, str] | None = None) -> dict[str, str]:
    """The variables an app runs with: `up` passes them to its process and stages them in its env file;
    ``options`` are c.APP_OPTIONS' values (unset: the defaults)."""
    version, _port = ENVIRONMENTS[env]
    chosen = {variable: (options or {}).get(name) or default for name, (variable, default) in c.APP_OPTIONS.items()}
    return {
        c.ENV_VERSION: version,
        c.ENV_NAME: env,
        c.ENV_PG_DSN: c.PRIMARY_DSN,
        c.ENV_AMQP_URL: c.AMQP_URL,
        c.ENV_REDIS_URL: c.REDIS_URL,
        c.ENV_FAULT_FILE: str(paths.fault_file(env)),
        "LOG_LEVEL": "INFO",
        "DEBUG": "false",
    } | chosen


def write_golive_config(path: Path, paths: Paths, state: State) -> None:
    """The golive configuration for the sandbox: exactly the contract's keys."""
    environments = {}
    for env, (_version, port) in ENVIRONMENTS.items():
        environments[env] = {
            "url": f"http://{c.HOST}:{port}",
            "role": "candidate" if env == "blue" else "live",
            "host": "local://",
            "process": f"golive.sandbox.app --env {env}",
            "log_file": str(paths.log(env)),
            "env_file": str(paths.env_file(env)),
            "required_env": list(app_variables(env, paths, state.app_options)),
        }
    rules = yaml.safe_load(paths.prometheus_rules.read_text())["groups"]
    config = {
        "release": {
            "version": c.BLUE_VERSION,
            "previous": c.GREEN_VERSION,
            "repository": str(paths.release_repository),
            "tag_format": "v{version}",
        },
        "environments": environments,
        "http": {
            "timeout_s": 5,
            "verify_tls": True,
            "health_path": c.LIVENESS_PATHS[state.dialect],
            **_health_keys(state.dialect),
            "endpoints": [
                {"path": endpoint, "method": "GET", "expect": [200]}
                for endpoint in ("/api/agents", "/api/messages", "/api/status", "/api/health")
            ],
            # The deployment's one external dependency here: the S3 bucket its backups go to (moto).
            "integrations": [
                {"name": "backup storage (S3)", "url": f"http://{c.HOST}:{c.MOTO_PORT}/{BUCKET}", "expect": [200]}
            ],
        },
        "thresholds": {"error_rate": 0.001, "p95_ms": 200, "cert_min_days": 30},
        "postgres": {
            "dsn": c.READER_DSN,
            "replicas": [c.STANDBY_READER_DSN],
            "schema_version": {"query": "SELECT max(version) FROM schema_versions", "expect": c.BLUE_VERSION},
            "integrity": {
                "tables": ["agents", "messages", "tasks"],
                "invariants": [{"name": name, "sql": sql} for name, sql in schema.INVARIANTS],
                "immutable_tables": ["agents"],
            },
            "business_metrics": [dict(metric) for metric in schema.BUSINESS_METRICS],
        },
        "rabbitmq": {
            "url": c.AMQP_URL,
            "management_url": c.MANAGEMENT_URL,
            "queues": {
                c.TASK_QUEUE: {"min_consumers": 1, "max_messages": 1000},
                c.DEAD_LETTER_QUEUE: {"max_messages": 0},
            },
        },
        "redis": {"url": c.REDIS_URL, "min_hit_rate": 0.0},
        "prometheus": {
            "url": f"http://{c.HOST}:{c.PROMETHEUS_PORT}",
            "jobs": {env: f"orchestrator-{env}" for env in ENVIRONMENTS},
            "window": PROMETHEUS_WINDOW,
            "alert_rules": [rule["alert"] for group in rules for rule in group["rules"] if "alert" in rule],
        },
        "load_balancer": {
            "kind": "alb",
            "listener_arn": state.aws["listener_arn"],
            "target_groups": dict(state.aws["target_groups"]),
            # Traffic enters through HAProxy (moto's ALB forwards nothing): `helper cutover` moves both.
            "front_url": f"http://{c.HOST}:{c.HAPROXY_PORT}",
        },
        "aws": {
            "region": "us-east-1",
            "endpoint_url": f"http://{c.HOST}:{c.MOTO_PORT}",
            "secrets": list(SECRETS),
            "backups": {"bucket": BUCKET, "prefix": BACKUP_PREFIX, "max_age_h": 24},
            "image": {"repository": REPOSITORY, "tag": c.BLUE_VERSION, "max_size_mb": 500},
            "alarms": list(ALARMS),
            "log_groups": list(LOG_GROUPS),
            "dns": {"zone_id": state.aws["dns_zone_id"], "record": DNS_RECORD},
        },
        "synthetic": SYNTHETIC,
        "security": {"source_paths": [str(paths.source)]},
        "deploy": {
            "host": "local://",
            "commands": list(DEPLOY_COMMANDS),
            "files": [str(paths.deploy_script(name)) for name in ("deploy", "rollback")],
        },
        "attestations": "reports/attestations.jsonl",
    }
    text = "# Written by `golive sandbox up`: the golive configuration for the local sandbox.\n"
    text += yaml.safe_dump(config, sort_keys=False, width=200)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _health_keys(dialect: str) -> dict[str, Any]:
    """What golive cannot detect about the dialect's health answers: only the endpoints that are not the health
    path (golive.health recognises every format itself)."""
    keys = {"spring": {"version_path": "/actuator/info"}, "flags": {"ready_path": "/ready"}}.get(dialect)
    return {"health": keys} if keys else {}


def _require_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SandboxError(f"{name} not found: run `apt-get install -y {name}`")
    return found
