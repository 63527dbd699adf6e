"""Gate 1, database and schema: each check passes on the healthy sandbox and fails on its broken condition."""

from __future__ import annotations

import psycopg
import yaml

from golive.sandbox import constants as c
from tests.support.gates import sandbox_command, variant
from tests.support.polling import wait_for

FILE = "validations/test_database.py"
AUTOMATED = "not test_signed"


def test_healthy_sandbox_passes_every_database_check(sandbox, run_gate):
    run = run_gate(sandbox, "pre", FILE, "-k", AUTOMATED)
    assert run.outcomes() == dict.fromkeys(
        ["test_primary_reachable", "test_replicas_streaming_within_lag", "test_connections_below_limit",
         "test_no_long_transactions", "test_integrity_invariants_run", "test_role_cannot_write",
         "test_schema_version_answers"], "passed"
    )  # fmt: skip
    # golive reads the sandbox as a role of its own that can only read (the sandbox provisions it).
    assert yaml.safe_load(sandbox.read_text())["postgres"]["dsn"] == c.READER_DSN
    assert run.partial_go
    assert run.check("test_replicas_streaming_within_lag")["severity"] == "critical"
    assert run.check("test_replicas_streaming_within_lag")["component"] == "postgres"


def test_paused_replay_with_writes_is_no_go(sandbox, run_gate):
    """Must show: standby replay paused, with writes on the primary, alone turns Gate 1 into a NO-GO."""
    sandbox_command("helper", "pause-replay")
    with psycopg.connect(c.PRIMARY_DSN, autocommit=True, connect_timeout=5) as primary:
        # 2 MiB of WAL without touching the application's tables (above the 1 MiB default threshold).
        primary.execute("SELECT pg_logical_emit_message(false, 'golive-test', repeat('x', 2097152))")
    with psycopg.connect(c.STANDBY_DSN, autocommit=True, connect_timeout=5) as standby:
        lag_sql = "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
        wait_for("the standby receives the WAL", lambda: standby.execute(lag_sql).fetchone()[0] > 1_048_576)
    run = run_gate(sandbox, "pre")
    assert run.code == 2
    check = run.check("test_replicas_streaming_within_lag")
    assert check["outcome"] == "failed" and check["severity"] == "critical"
    assert f"replication lag on {c.HOST}:{c.STANDBY_PORT}/{c.DATABASE} is " in check["message"]
    assert check["message"].endswith("allowed 1048576 bytes (thresholds.replication_lag_bytes)")


def test_paused_replay_under_the_lag_threshold_is_review_naming_the_standby(sandbox, run_gate):
    """Must show: a standby whose replay is paused is a REVIEW naming it, though its byte lag is under the threshold
    (and the check only looks: the standby is still paused after it)."""
    sandbox_command("helper", "pause-replay")
    with psycopg.connect(c.PRIMARY_DSN, autocommit=True, connect_timeout=5) as primary:
        primary.execute("SELECT pg_logical_emit_message(false, 'golive-test', repeat('x', 16384))")  # 16 KiB of WAL
    with psycopg.connect(c.STANDBY_DSN, autocommit=True, connect_timeout=5) as standby:
        lag_sql = "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
        lag = wait_for("the standby receives the WAL", lambda: standby.execute(lag_sql).fetchone()[0])
        assert 0 < lag < 1_048_576  # under thresholds.replication_lag_bytes
        run = run_gate(sandbox, "pre", f"{FILE}::test_replicas_streaming_within_lag")
        assert standby.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() == ("paused",)
    check = run.check("test_replicas_streaming_within_lag")
    assert (check["outcome"], check["severity"]) == ("failed", "warning"), check
    assert check["message"].startswith(
        f"standby {c.HOST}:{c.STANDBY_PORT}/{c.DATABASE} does not replay: WAL replay is paused at "
    ), check["message"]
    assert check["message"].endswith(" bytes received and waiting); a standby must replay what it receives, "
                                     "whatever its byte lag")  # fmt: skip
    assert run.record["verdict"] == "REVIEW" and run.code == 1


def test_too_many_connections_fails(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "v.yaml", {"thresholds.db_connections_ratio": 0.001})
    run = run_gate(config, "pre", FILE, "-k", "test_connections")
    assert run.code == 1
    message = run.check("test_connections_below_limit")["message"]
    assert message.startswith(f"{c.HOST}:{c.PRIMARY_PORT}/{c.DATABASE} has ")
    assert message.endswith("allowed below 0% (thresholds.db_connections_ratio)")


def test_long_transaction_fails(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "v.yaml", {"thresholds.long_transaction_s": 1})
    with psycopg.connect(c.PRIMARY_DSN, connect_timeout=5) as holder:
        holder.execute("SELECT txid_current()")  # opens a transaction and keeps it open
        pid = holder.info.backend_pid
        with psycopg.connect(c.PRIMARY_DSN, autocommit=True, connect_timeout=5) as observer:
            age_sql = "SELECT clock_timestamp() - xact_start > interval '1.5 s' FROM pg_stat_activity WHERE pid = %s"
            wait_for("the transaction open for 1.5 s", lambda: observer.execute(age_sql, (pid,)).fetchone()[0], 10)
        run = run_gate(config, "pre", FILE, "-k", "test_no_long")
        holder.rollback()
    assert run.code == 1
    message = run.check("test_no_long_transactions")["message"]
    assert f"pid {pid} (postgres, idle in transaction) open " in message
    assert message.endswith("allowed 1s (thresholds.long_transaction_s)")


def test_invariant_that_writes_or_breaks_fails(sandbox, run_gate, tmp_path):
    invariants = yaml.safe_load(sandbox.read_text())["postgres"]["integrity"]["invariants"]
    invariants += [{"name": "writes", "sql": "DELETE FROM agents WHERE false RETURNING id"},
                   {"name": "broken", "sql": "SELECT FROM no_such_table"}]  # fmt: skip
    config = variant(sandbox, tmp_path / "v.yaml", {"postgres.integrity.invariants": invariants})
    run = run_gate(config, "pre", FILE, "-k", "test_integrity")
    assert run.code == 1
    message = run.check("test_integrity_invariants_run")["message"]
    assert "writes: ReadOnlySqlTransaction: cannot execute DELETE in a read-only transaction" in message
    assert 'broken: UndefinedTable: relation "no_such_table" does not exist' in message


def test_schema_version_null_fails(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "v.yaml", {"postgres.schema_version.query": "SELECT NULL::text"})
    run = run_gate(config, "pre", FILE, "-k", "test_schema")
    assert run.code == 1
    assert run.check("test_schema_version_answers")["message"] == (
        f"{c.HOST}:{c.PRIMARY_PORT}/{c.DATABASE}: 'SELECT NULL::text' returned NULL; expected a schema version"
    )


def test_standby_as_primary_is_no_go(sandbox, run_gate, tmp_path):
    config = variant(sandbox, tmp_path / "v.yaml", {"postgres.dsn": c.STANDBY_DSN})
    run = run_gate(config, "pre", FILE, "-k", "test_primary")
    assert run.code == 2
    assert run.check("test_primary_reachable")["message"] == (
        f"{c.HOST}:{c.STANDBY_PORT}/{c.DATABASE} is in recovery (a standby); postgres.dsn must name the primary"
    )
