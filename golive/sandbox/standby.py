"""The standby: a streaming replica of the machine's PostgreSQL, made by a base backup, run as postgres."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg

from golive.sandbox import constants as c
from golive.sandbox.base import Base
from golive.sandbox.clients import one_line, pg_connect
from golive.sandbox.state import SandboxError


class Standby(Base):
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
        with pg_connect(c.PRIMARY_PORT) as conn:
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

    def _standby_ready(self) -> str | None:
        try:
            with pg_connect(c.STANDBY_PORT) as conn:
                row = conn.execute("SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)").fetchone()
        except psycopg.Error as exc:
            return one_line(exc)
        if not row or not row[0]:
            return "not in recovery (not a standby)"
        return None if row[1] == "streaming" else f"WAL receiver is {row[1] or 'not running'}"

    def pause_replay(self, pause: bool) -> None:
        function = "pg_wal_replay_pause" if pause else "pg_wal_replay_resume"
        with pg_connect(c.STANDBY_PORT) as conn:
            conn.execute(f"SELECT {function}()".encode())

    def replay_paused(self) -> bool:
        with pg_connect(c.STANDBY_PORT) as conn:
            row = conn.execute("SELECT pg_is_wal_replay_paused()").fetchone()
        return bool(row and row[0])
