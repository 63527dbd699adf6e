"""Provisioning: prerequisites, the machine's shared services (database, reader role, vhost and queues,
replication access, Redis limit) and the files a release leaves on its hosts."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pika
import pika.exceptions
import psycopg
import redis
from psycopg.sql import SQL, Identifier

from golive.sandbox import constants as c
from golive.sandbox import schema
from golive.sandbox.clients import (
    amqp_channel,
    http_status,
    management,
    one_line,
    pg_connect,
    pika_parameters,
    preloads_pg_stat_statements,
    redis_client,
    require_binary,
    tcp_open,
)
from golive.sandbox.config_writer import app_variables
from golive.sandbox.services import SERVICES, Services
from golive.sandbox.state import ENVIRONMENTS, SandboxError

HBA_MARK = "# added by golive sandbox"
HBA_LINE = f"host replication postgres 127.0.0.1/32 trust {HBA_MARK}"
# The orchestrator's own code, copied into STATE/src as the release's source tree that golive scans.
SOURCE_FILES = ("app.py", "app_faults.py", "app_metrics.py", "worker.py", "schema.py")
PLANTED_SECRET_FILE = "settings_local.py"


class Provision(Services):
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
            with pg_connect(c.PRIMARY_PORT) as conn:
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
            pika.BlockingConnection(pika_parameters(f"amqp://guest:guest@{c.HOST}:{c.AMQP_PORT}/%2F")).close()
        except pika.exceptions.AMQPError:
            raise SandboxError(
                f"RabbitMQ not answering on {c.HOST}:{c.AMQP_PORT}: run `rabbitmq-server -detached`"
            ) from None
        try:
            redis_client().ping()
        except redis.RedisError:
            raise SandboxError(
                f"Redis not answering on {c.HOST}:{c.REDIS_PORT}: run `redis-server --daemonize yes --bind "
                '127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis '
                "--logfile /var/log/redis/ci.log`"
            ) from None
        services = self.services()
        for name in SERVICES:
            port = services[name].port
            if port is not None and not self._record_alive(name) and tcp_open(port):
                raise SandboxError(
                    f"port {c.HOST}:{port} (for the sandbox's {name}) is taken by another process: "
                    f"find it with `ss -ltnp 'sport = :{port}'` and stop it"
                )

    def ensure_database(self) -> list[str]:
        with pg_connect(c.PRIMARY_PORT) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (c.DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{c.DATABASE}"'.encode())
        with pg_connect(c.PRIMARY_PORT, c.DATABASE) as conn:
            conn.autocommit = False
            applied = schema.migrate(conn)
            if preloads_pg_stat_statements(conn):  # what Gate 3's slow-query check reads
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
        with pg_connect(c.PRIMARY_PORT) as conn:
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
        client = redis_client()
        if int(str(client.config_get("maxmemory")["maxmemory"])) == 0:
            self.state.restore["redis_maxmemory_unset"] = "0"
            self.state.save(self.paths.state_file)
            # Well above what the shared Redis holds: its other users' writes are never refused (noeviction).
            used = int(client.info("memory")["used_memory"])
            client.config_set("maxmemory", str(max(c.REDIS_MAXMEMORY, 4 * used)))

    def ensure_management(self) -> None:
        try:
            management("GET", "/api/overview")
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
        self._wait("rabbitmq management", lambda: http_status(f"{c.MANAGEMENT_URL}/api/overview"), None, 30.0)

    def ensure_vhost(self) -> None:
        vhost = c.VHOST
        for method, path, body in (
            ("PUT", f"/api/vhosts/{vhost}", {"description": "golive sandbox"}),
            ("PUT", f"/api/permissions/{vhost}/guest", {"configure": ".*", "write": ".*", "read": ".*"}),
        ):
            try:
                response = management(method, path, json=body)
            except httpx.HTTPError as exc:
                raise SandboxError(f"RabbitMQ management API on {c.MANAGEMENT_URL}: {one_line(exc)}") from None
            if response.status_code not in (200, 201, 204):
                raise SandboxError(f"RabbitMQ management {method} {path}: HTTP {response.status_code}")
        dead_letter_args = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": c.DEAD_LETTER_QUEUE}
        deadline = time.monotonic() + 10
        while True:
            try:
                with amqp_channel() as channel:
                    channel.queue_declare(c.DEAD_LETTER_QUEUE, durable=True)
                    try:
                        channel.queue_declare(c.TASK_QUEUE, durable=True, arguments=dead_letter_args)
                    except pika.exceptions.ChannelClosedByBroker as exc:
                        if exc.reply_code != 406:
                            raise
                        # Declared earlier with other arguments: this vhost is ours, so redeclare it.
                        with amqp_channel() as again:
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
        with pg_connect(c.PRIMARY_PORT) as conn:
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
        with pg_connect(c.PRIMARY_PORT) as conn:
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
                with pg_connect(c.PRIMARY_PORT) as conn:
                    conn.execute("SELECT pg_reload_conf()")
        except (OSError, psycopg.Error) as exc:
            self.out(f"warning: could not remove the sandbox's replication rule from {path}: {one_line(exc)}")

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
        git = require_binary("git")

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
