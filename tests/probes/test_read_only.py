"""Read-only means read-only (issue 12): configured SQL cannot write, and a role that could write is a REVIEW.

Against this machine's real PostgreSQL: a scratch table, a function that writes, a role that can only read and
a role that can write, all of our own (dropped afterwards). The gate runs are real pytest subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml

from golive.probes import postgres
from golive.probes.errors import ProbeError
from tests.support import REPO

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The case: leave the read-only transaction, delete, and return no row (no violation).
ESCAPE = "COMMIT; BEGIN READ WRITE; DELETE FROM {table} WHERE id = 1; SELECT 1 WHERE false"


@dataclass(frozen=True)
class Scratch:
    table: str
    function: str  # writes when called: DELETE FROM table WHERE id = 3
    reader: str  # pg_read_all_data and pg_monitor: can only read
    writer: str  # may INSERT, UPDATE and DELETE on the table

    def dsn(self, role: str) -> str:
        return f"postgresql://{role}@127.0.0.1:5432/postgres"

    def ids(self) -> list[int]:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            return [row[0] for row in admin.execute(f"SELECT id FROM {self.table} ORDER BY id".encode())]


@pytest.fixture(scope="module")
def scratch() -> Iterator[Scratch]:
    tag = uuid.uuid4().hex[:8]
    made = Scratch(f"golive_ro_{tag}", f"golive_ro_{tag}_zap", f"golive_ro_{tag}_reader", f"golive_ro_{tag}_writer")
    with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE TABLE {made.table} (id int PRIMARY KEY)".encode())
        admin.execute(f"INSERT INTO {made.table} VALUES (1), (2), (3)".encode())
        admin.execute(
            f"CREATE FUNCTION {made.function}() RETURNS int LANGUAGE plpgsql AS"
            f" $$BEGIN DELETE FROM {made.table} WHERE id = 3; RETURN 1; END$$".encode()
        )
        admin.execute(f"CREATE ROLE {made.reader} LOGIN IN ROLE pg_read_all_data, pg_monitor".encode())
        admin.execute(f"CREATE ROLE {made.writer} LOGIN".encode())
        admin.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {made.table} TO {made.writer}".encode())
        try:
            yield made
        finally:
            admin.execute(f"DROP FUNCTION IF EXISTS {made.function}()".encode())
            admin.execute(f"DROP TABLE IF EXISTS {made.table}".encode())
            admin.execute(f"DROP ROLE IF EXISTS {made.reader}".encode())
            admin.execute(f"DROP ROLE IF EXISTS {made.writer}".encode())


def write_config(path: Path, dsn: str, invariants: list[dict[str, str]]) -> Path:
    document = {
        "release": {"version": "2.1.0", "previous": "2.0.5"},
        "environments": {"blue": {"url": "http://127.0.0.1:9", "role": "candidate"}},
        "http": {"timeout_s": 2},
        "postgres": {"dsn": dsn, "integrity": {"invariants": invariants}},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def gate1(tmp_path: Path, config: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict | None]:
    reports = tmp_path / "reports"
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "pre", f"--golive-config={config}", f"--golive-reports={reports}",
         "-p", "no:cacheprovider", "-q", "validations/test_database.py", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=environ,
    )  # fmt: skip
    latest = reports / "latest-pre.json"
    return completed, json.loads(latest.read_text()) if latest.exists() else None


def check(record: dict, name: str) -> dict:
    matches = [c for c in record["checks"] if c["id"].endswith(f"::{name}")]
    assert matches, [c["id"] for c in record["checks"]]
    return matches[0]


def test_sql_of_several_statements_is_a_configuration_error_and_is_refused_at_run_time(scratch, tmp_path):
    escape = ESCAPE.format(table=scratch.table)
    config = write_config(tmp_path / "golive.yaml", scratch.dsn(scratch.writer), [{"name": "escape", "sql": escape}])
    completed, record = gate1(tmp_path, config)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.splitlines() == [
        "Exit: golive: golive.yaml: postgres.integrity.invariants[0].sql: holds 4 SQL statements; configured SQL "
        "runs as exactly one read-only statement"
    ]
    assert "Traceback" not in completed.stdout + completed.stderr
    assert record is not None and record["verdict"] == "NO-GO"
    # Run time as well, even through a role that may delete: the extended protocol takes one statement only.
    conn = postgres.connect(scratch.dsn(scratch.writer), 2.0)
    try:
        with pytest.raises(ProbeError, match="cannot insert multiple commands into a prepared statement"):
            postgres.rows(conn, escape)
        assert postgres.scalar(conn, "SELECT current_setting('transaction_read_only')") == "on"
    finally:
        conn.close()
    assert scratch.ids() == [1, 2, 3]


def test_single_statements_that_write_fail_the_check_and_a_role_that_can_write_is_a_warning(scratch, tmp_path):
    """Each invariant alone is one statement: a session switch, a write, a function that writes. Not one of them
    writes (the role itself could), they fail the check rather than pass it, and the role is named (a warning:
    REVIEW)."""
    invariants = [
        {"name": "session", "sql": "SELECT set_config('default_transaction_read_only', 'off', false)"},
        {"name": "unlock", "sql": "SET default_transaction_read_only = off"},
        {"name": "deletes", "sql": f"DELETE FROM {scratch.table} WHERE id = 1 RETURNING 1"},
        {"name": "zaps", "sql": f"SELECT {scratch.function}()"},
    ]
    config = write_config(tmp_path / "golive.yaml", scratch.dsn(scratch.writer), invariants)
    completed, record = gate1(tmp_path, config, "-k", "test_integrity_invariants_run or test_role_cannot_write")
    assert record is not None, completed.stdout + completed.stderr
    assert completed.returncode == 1 and record["verdict"] == "REVIEW"
    assert scratch.ids() == [1, 2, 3]

    invariants_run = check(record, "test_integrity_invariants_run")
    assert invariants_run["outcome"] == "failed"
    message = invariants_run["message"]
    assert "unlock: not a query (it returns no result set): SET default_transaction_read_only = off" in message
    assert "deletes: ReadOnlySqlTransaction: cannot execute DELETE in a read-only transaction" in message
    assert "zaps: ReadOnlySqlTransaction: cannot execute DELETE in a read-only transaction" in message
    assert "session:" not in message  # it runs (and its change is rolled back with its transaction)

    role = check(record, "test_role_cannot_write")
    assert (role["outcome"], role["severity"], role["component"]) == ("failed", "warning", "postgres")
    assert role["message"].startswith(
        f"127.0.0.1:5432/postgres: role '{scratch.writer}' can write: it may INSERT, UPDATE, DELETE or TRUNCATE on "
        f"public.{scratch.table}"
    )


def test_write_access_names_a_superuser_and_clears_a_reader(scratch):
    with postgres.connect(ADMIN_DSN, 2.0) as admin:
        assert postgres.write_access(admin).superuser
    with postgres.connect(scratch.dsn(scratch.reader), 2.0) as reader:
        access = postgres.write_access(reader)
        assert (access.role, access.superuser, access.tables, access.table_count) == (scratch.reader, False, (), 0)
        assert postgres.rows(reader, f"SELECT id FROM {scratch.table} ORDER BY id") == [(1,), (2,), (3,)]
