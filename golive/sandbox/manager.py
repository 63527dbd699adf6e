"""Bring the sandbox up and down, report its status, switch its faults.

One sandbox per machine. Its state (PIDs, logs, configs, the standby's data directory, fault files) lives in
``$GOLIVE_SANDBOX_DIR`` (default ``/tmp/golive-sandbox``); ``state.json`` there records every process it
started (PID and start time) and every change it made to the machine's shared services, so ``down`` can stop
exactly those processes and undo exactly those changes.

``Manager`` is the facade the CLI and the tests use; each job lives in its own module: ``state`` (paths and
state.json), ``base`` (the lock, starting and stopping processes), ``services`` and ``standby`` (what runs and
when it is ready), ``provision`` (the machine's shared services, release files), ``aws_resources`` (moto),
``faults`` (the fault helpers), ``config_writer`` (the files written for others), ``clients`` (the sandbox's
own small clients).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import redis

from golive.sandbox import constants as c
from golive.sandbox import processes
from golive.sandbox.aws_resources import (
    ALARMS,
    BUCKET,
    CLEAN_SCAN_COUNTS,
    DNS_RECORD,
    DNS_TTL,
    REPOSITORY,
    AwsResources,
)
from golive.sandbox.clients import tcp_open
from golive.sandbox.config_writer import app_variables, write_golive_config, write_service_configs
from golive.sandbox.faults import DATA_FAULT_TABLES, DEFAULT_FILL, Faults
from golive.sandbox.provision import Provision
from golive.sandbox.services import SERVICES, START_ORDER
from golive.sandbox.state import ENVIRONMENTS, Paths, SandboxError, State, state_dir

__all__ = [
    "ALARMS",
    "BUCKET",
    "CLEAN_SCAN_COUNTS",
    "DATA_FAULT_TABLES",
    "DEFAULT_FILL",
    "DNS_RECORD",
    "DNS_TTL",
    "ENVIRONMENTS",
    "REPOSITORY",
    "SERVICES",
    "START_ORDER",
    "Manager",
    "Paths",
    "SandboxError",
    "State",
    "app_variables",
    "state_dir",
    "write_golive_config",
]


class Manager(Provision, AwsResources, Faults):
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
        if self.dns_weights() != {"blue": 0, "green": 100}:  # a cutover moved them (cutover.dns)
            self.set_dns_ttl(DNS_TTL)
        for name, value in self.alarm_states().items():
            if value != "OK":
                self.set_alarm(name, "OK")
        self._ensure_backup()
        self.restore_alb_targets()
        if self.dns_ttls() != dict.fromkeys(ENVIRONMENTS, DNS_TTL):
            self.set_dns_ttl(DNS_TTL)
        if self.state.restore.get("image_findings"):
            self.set_image_findings(self.state.restore["image_findings"], None)

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
            # Before anything changes: an `up` that cannot run (a missing binary) must not first stop the apps of
            # the sandbox that is running (a test of that refusal stopped another session's blue mid-gate).
            self.check_prerequisites()
            changed = self.use_app_options(app_options or {})
            if changed:
                self.out(f"restarting blue and green with {', '.join(changed)}")
            self.ensure_management()
            applied = self.ensure_database()
            if applied:
                self.out(f"schema migrations applied: {', '.join(applied)}")
            self.ensure_reader_role()
            self.ensure_vhost()
            self.ensure_replication_access()
            self.paths.logs.mkdir(parents=True, exist_ok=True)
            self.paths.prometheus_data.mkdir(parents=True, exist_ok=True)
            write_service_configs(self.paths, self.state.dialect)
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
            answering = alive and (port is None or tcp_open(port))
            rows.append(
                (name, str(record.pid) if alive and record else "-", str(port or "-"), "up" if answering else "down")
            )
        for name, port in (
            ("postgres (machine)", c.PRIMARY_PORT),
            ("rabbitmq (machine)", c.AMQP_PORT),
            ("rabbitmq-management", c.RABBITMQ_MANAGEMENT_PORT),
            ("redis (machine)", c.REDIS_PORT),
        ):
            rows.append((name, "-", str(port), "up" if tcp_open(port) else "down"))
        return rows

    def _print_table(self, rows: list[tuple[str, str, str, str]]) -> None:
        self.out(f"{'piece':<22} {'pid':>8} {'port':>6}  state")
        for name, pid, port, state in rows:
            self.out(f"{name:<22} {pid:>8} {port:>6}  {state}")
