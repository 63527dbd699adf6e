"""The sandbox's services: how each is started, how it is seen ready, and starting those that do not run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from golive.sandbox import constants as c
from golive.sandbox.clients import (
    HTTP_TIMEOUT,
    haproxy_command,
    http_status,
    one_line,
    queue_counts,
    require_binary,
    tcp_open,
)
from golive.sandbox.config_writer import app_variables
from golive.sandbox.standby import Standby
from golive.sandbox.state import ENVIRONMENTS, SandboxError, Service

SERVICES = ("green", "blue", "worker", "standby", "haproxy", "moto", "prometheus")
# Slowest to get ready first; the standby's base backup (about 2 s) runs while the others boot.
START_ORDER = ("prometheus", "moto", "green", "blue", "worker", "haproxy", "standby")


class Services(Standby):
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
                ready=lambda port=port: http_status(f"http://{c.HOST}:{port}{liveness}"),  # type: ignore[misc]
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
            command=[require_binary("haproxy"), "-W", "-db", "-f", str(self.paths.haproxy_config)],
            port=c.HAPROXY_PORT,
            ready=self._haproxy_ready,
        )
        services["moto"] = Service(
            name="moto",
            command=[python, "-m", "golive.sandbox.aws_server", "--host", c.HOST, "--port", str(c.MOTO_PORT),
                     "--haproxy-socket", str(self.paths.haproxy_socket)],
            port=c.MOTO_PORT,
            ready=lambda: http_status(f"http://{c.HOST}:{c.MOTO_PORT}/moto-api/data.json"),
            env=self._child_env({}),
        )
        services["prometheus"] = Service(
            name="prometheus",
            command=[
                require_binary("prometheus"),
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
            _messages, consumers = queue_counts(c.TASK_QUEUE)
        except Exception as exc:
            return one_line(exc)
        return None if consumers >= 1 else f"{c.TASK_QUEUE} has no consumer"

    def _prometheus_ready(self) -> str | None:
        """Ready, and has scraped both apps once: checks that read metrics find them."""
        base = f"http://{c.HOST}:{c.PROMETHEUS_PORT}"
        seen = http_status(f"{base}/-/ready")
        if seen is not None:
            return seen
        try:
            targets = httpx.get(f"{base}/api/v1/targets", timeout=HTTP_TIMEOUT).json()["data"]["activeTargets"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return f"targets: {one_line(exc)}"
        health = {t["labels"].get("job"): t.get("health") for t in targets}
        wanted = {f"orchestrator-{env}" for env in ENVIRONMENTS}
        return None if all(health.get(job) == "up" for job in wanted) else f"scrape targets {health}"

    def _haproxy_ready(self, servers: tuple[str, ...] = ("green",)) -> str | None:
        """Answering on its admin socket and frontend, with ``servers`` (by default the live one, green) passing
        health checks."""
        try:
            stats = haproxy_command(self.paths.haproxy_socket, "show stat")
        except OSError as exc:
            return f"admin socket: {one_line(exc)}"
        if not tcp_open(c.HAPROXY_PORT):
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
