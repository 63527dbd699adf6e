"""Gate 3's slow-query check against a private PostgreSQL server that preloads pg_stat_statements.

golive never reconfigures a target (the machine's PostgreSQL preloads the library only because
scripts/ensure-services sets it up for the sandbox). Here a server of our own, initialised in a temporary
directory, shows the check passing, failing on a slow statement, failing when the database lacks the extension
(slow queries cannot be looked at: never a pass or a skip), and failing closed when the extension is installed
but not loaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from golive.probes import postgres
from golive.probes.errors import ProbeError
from tests.support.gates import minimal_config
from tests.support.polling import wait_for

FILE = "validations/test_post_deployment_services.py"
CHECK = "test_no_slow_queries"


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)")
    return found[-1].parent


class PrivateServer:
    """initdb into a temporary directory, then postgres on a free loopback port (as user postgres under root)."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="golive-test-pg-"))
        self.data = self.root / "data"
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"],
            user=self.user, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
        )  # fmt: skip
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, preload: bool) -> None:
        self.stop()
        self.process = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}", "-c", "fsync=off",
             "-c", f"shared_preload_libraries={'pg_stat_statements' if preload else ''}"],
            user=self.user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def answers() -> bool:
            try:
                psycopg.connect(self.dsn, connect_timeout=1).close()
            except psycopg.OperationalError:
                return False
            return True

        wait_for(f"private PostgreSQL on port {self.port}", answers, 30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # smart shutdown
            self.process.wait(timeout=30)
            self.process = None

    def execute(self, *statements: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            for statement in statements:
                conn.execute(statement.encode())


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    private = PrivateServer()
    try:
        private.start(preload=True)
        private.execute("CREATE EXTENSION pg_stat_statements")
        yield private
    finally:
        private.stop()
        shutil.rmtree(private.root, ignore_errors=True)


@pytest.fixture
def preloaded(server: PrivateServer) -> PrivateServer:
    server.start(preload=True)
    server.execute("SELECT pg_stat_statements_reset()")
    return server


def test_slow_statements_are_found_slowest_first(preloaded: PrivateServer) -> None:
    preloaded.execute("SELECT pg_sleep(0.25)", "SELECT pg_sleep(0.25)", "SELECT count(*) FROM pg_class")
    reader = postgres.connect(preloaded.dsn, 5.0)
    try:
        slow = postgres.slow_statements(reader, 100)
        assert [(s.calls, s.query) for s in slow] == [(2, "SELECT pg_sleep($1)")]
        assert 240 < slow[0].mean_ms < 2000 and slow[0].max_ms >= slow[0].mean_ms
        assert postgres.slow_statements(reader, 5000) == []
    finally:
        reader.close()


def test_check_passes_without_slow_statements_and_fails_naming_one(preloaded, run_gate, tmp_path) -> None:
    config = minimal_config(tmp_path / "pg.yaml", {"postgres": {"dsn": preloaded.dsn}, "thresholds.slow_query_ms": 100})
    quiet = run_gate(config, "extended", FILE, "-k", CHECK)
    assert quiet.outcomes() == {CHECK: "passed"} and quiet.partial_go

    preloaded.execute("SELECT pg_sleep(0.3)")
    run = run_gate(config, "extended", FILE, "-k", CHECK)
    assert run.code == 1  # not critical: a REVIEW for the Deployment Lead
    check = run.check(CHECK)
    assert check["outcome"] == "failed" and check["component"] == "postgres"
    assert check["message"].startswith(f"127.0.0.1:{preloaded.port}/postgres: slow statements: ")
    assert "ms mean over 1 calls: SELECT pg_sleep($1)" in check["message"]
    assert check["message"].endswith("allowed 100 ms (thresholds.slow_query_ms)")


def test_extension_installed_but_not_loaded_fails_closed(server: PrivateServer, run_gate, tmp_path) -> None:
    """The extension's view exists but cannot be read: the check could not look, so it is not a pass."""
    server.start(preload=False)
    reader = postgres.connect(server.dsn, 5.0)
    try:
        with pytest.raises(ProbeError, match="pg_stat_statements must be loaded via"):
            postgres.slow_statements(reader, 100)
    finally:
        reader.close()
    config = minimal_config(tmp_path / "pg.yaml", {"postgres": {"dsn": server.dsn}})
    run = run_gate(config, "extended", FILE, "-k", CHECK)
    assert run.code != 0 and run.check(CHECK)["outcome"] == "error"
    assert "pg_stat_statements must be loaded via" in run.check(CHECK)["message"]


def test_database_without_the_extension_fails_saying_how_to_install_it(preloaded, run_gate, tmp_path) -> None:
    """A configured PostgreSQL whose database lacks pg_stat_statements: a REVIEW naming it, not a skip."""
    preloaded.execute("DROP DATABASE IF EXISTS no_statements", "CREATE DATABASE no_statements")
    dsn = preloaded.dsn.rsplit("/", 1)[0] + "/no_statements"
    config = minimal_config(tmp_path / "pg.yaml", {"postgres": {"dsn": dsn}})
    run = run_gate(config, "extended", FILE, "-k", CHECK)
    check = run.check(CHECK)
    assert check["outcome"] == "failed" and check["severity"] == "warning", check
    assert check["message"].startswith(
        f"127.0.0.1:{preloaded.port}/no_statements: the pg_stat_statements extension is not installed, so slow "
        "queries cannot be looked at; install it"
    )
    assert run.code == 1 and run.record["verdict"] == "REVIEW"
