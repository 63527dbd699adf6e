"""What every part of the sandbox manager shares: its paths, its state under the lock, and starting, waiting
for and stopping the processes it records."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from golive.sandbox import constants as c
from golive.sandbox import processes
from golive.sandbox.clients import pg_connect
from golive.sandbox.state import Paths, SandboxError, Service, State, state_dir

# How each piece is asked to stop before SIGKILL: PostgreSQL's fast shutdown, HAProxy's soft stop.
POLITE_SIGNALS = {"standby": signal.SIGINT, "haproxy": signal.SIGUSR1}
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
LOCK_TIMEOUT_S = 180.0


class Base:
    def __init__(self, root: Path | None = None, out: Callable[[str], None] = print) -> None:
        self.paths = Paths(root or state_dir())
        self.out = out
        self.state = State()
        self._pg_bindir: Path | None = None
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "golive-sandbox")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "golive-sandbox")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

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

    def pg_bindir(self) -> Path:
        if self._pg_bindir is None:
            with pg_connect(c.PRIMARY_PORT) as conn:
                row = conn.execute("SHOW server_version_num").fetchone()
            major = int(row[0]) // 10000 if row else 15
            self._pg_bindir = Path(f"/usr/lib/postgresql/{major}/bin")
        return self._pg_bindir

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
