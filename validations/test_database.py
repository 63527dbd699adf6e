"""Database and schema: the primary answers, replicas keep up, sessions are sane, the data checks are ready."""

import pytest

from golive import judgements
from golive.fixtures import attestation_params, fail_as_warning
from golive.probes import postgres as pg
from golive.probes.errors import ProbeError

pytestmark = pytest.mark.pre

# How long the replication check watches each standby's replay (at most twice this; see pg.replay_progress).
REPLAY_OBSERVATION_S = 0.5


@pytest.mark.critical
@pytest.mark.final
def test_primary_reachable(postgres):
    """The PostgreSQL primary is reachable and is a primary (not in recovery)."""
    in_recovery = pg.scalar(postgres, "SELECT pg_is_in_recovery()")
    assert in_recovery is False, f"{postgres.endpoint} is in recovery (a standby); postgres.dsn must name the primary"


@pytest.mark.critical
@pytest.mark.extended
@pytest.mark.requires("postgres.replicas")
def test_replicas_streaming_within_lag(postgres, target, golive_settings, request):
    """Replication healthy: every replica streams and replays, its lag within thresholds.replication_lag_bytes."""
    section = target.view.postgres
    limits = golive_settings.document.thresholds
    allowed = limits.replication_lag_bytes
    problems, not_replaying = [], []
    for name, lag in sorted(pg.replication_lag_bytes(postgres).items()):
        if not judgements.replication_lag(lag, limits).ok:
            problems.append(f"standby {name} replays {lag} bytes behind what {postgres.endpoint} sent")
    for dsn in section.replicas:
        with pg.connect(dsn, target.view.timeout_s("postgres")) as replica:
            status = pg.wal_receiver_status(replica)
            lag = pg.standby_lag_bytes(replica)
            if status != "streaming":
                problems.append(f"{replica.endpoint} WAL receiver is {status or 'not running'}, not streaming")
            if not judgements.replication_lag(lag, limits).ok:
                problems.append(f"replication lag on {replica.endpoint} is {lag} bytes received but not replayed")
            progress = pg.replay_progress(replica, REPLAY_OBSERVATION_S)
            if not judgements.standby_replay(progress.pause_state, progress.last.waiting_bytes, progress.stalled).ok:
                not_replaying.append(_not_replaying(replica.endpoint, progress))
    assert not problems, (
        f"{'; '.join(problems + not_replaying)}; allowed {allowed} bytes (thresholds.replication_lag_bytes)"
    )
    if not_replaying:  # under the byte threshold now, but the lag can only grow: a review, never a pass
        fail_as_warning(request, f"{'; '.join(not_replaying)}; a standby must replay what it receives, "
                                 "whatever its byte lag")  # fmt: skip


def _not_replaying(where, progress):
    """Why a standby does not replay, for the check's message."""
    last = progress.last
    if progress.pause_state != "not paused":
        return (f"standby {where} does not replay: WAL replay is {progress.pause_state} at {last.replay_lsn} "
                f"({last.waiting_bytes} bytes received and waiting)")  # fmt: skip
    delay = f" (recovery_min_apply_delay is {last.min_apply_delay})" if last.min_apply_delay != "0" else ""
    return (f"standby {where} does not replay: its replay position stayed at {last.replay_lsn} for "
            f"{progress.observed_s:.1f}s while {last.waiting_bytes} bytes received waited{delay}")  # fmt: skip


@pytest.mark.extended
def test_connections_below_limit(postgres, golive_settings):
    """Connections below thresholds.db_connections_ratio of max_connections."""
    used, limit = pg.connection_usage(postgres)
    judged = judgements.connections(used, limit, golive_settings.document.thresholds)
    assert judged.ok, (
        f"{postgres.endpoint} has {used} client connections of max_connections {limit}"
        f"{f' ({used / limit:.0%})' if limit else ''}; "
        f"allowed {judged.limit} ({judged.key})"
    )


@pytest.mark.extended
def test_no_long_transactions(postgres, golive_settings):
    """No transaction open longer than thresholds.long_transaction_s in the application's database."""
    allowed = golive_settings.document.thresholds.long_transaction_s
    long_ones = pg.long_transactions(postgres, allowed)
    described = ", ".join(f"pid {pid} ({user}, {state}) open {age:.0f}s" for pid, user, state, age in long_ones[:5])
    assert not long_ones, (
        f"{postgres.endpoint}: {len(long_ones)} transaction(s) open too long: {described}; "
        f"allowed {allowed:g}s (thresholds.long_transaction_s)"
    )


@pytest.mark.requires("postgres.integrity.invariants")
def test_integrity_invariants_run(postgres, target):
    """Data validation queries prepared: every integrity invariant runs in a read-only session."""
    integrity = target.view.postgres.integrity
    failed, violations = [], []
    for invariant in integrity.invariants:
        try:
            found = pg.rows(postgres, invariant.sql)
        except ProbeError as exc:
            failed.append(f"{invariant.name}: {exc.detail}")
            continue
        if found:
            violations.append(f"{invariant.name} {len(found)}")
    # Gate 1 only needs the queries to work; violations are Gate 3's verdict, but say what was seen.
    seen = f" (violations now: {', '.join(violations)})" if violations else ""
    assert not failed, f"{postgres.endpoint}: invariants that do not run read-only: {'; '.join(failed)}{seen}"


def test_role_cannot_write(postgres):
    """golive's database role can only read: no superuser, no write privilege on any table of the database."""
    access = pg.write_access(postgres)
    reasons = ["it is a superuser"] if access.superuser else []
    if access.tables and not access.superuser:
        more = access.table_count - len(access.tables)
        reasons.append(
            f"it may INSERT, UPDATE, DELETE or TRUNCATE on {', '.join(access.tables)}"
            + (f" and {more} more table(s)" if more > 0 else "")
        )
    assert not reasons, (
        f"{postgres.endpoint}: role {access.role!r} can write: {'; '.join(reasons)}; golive reads in read-only "
        "transactions, but give it a role that can only read (pg_read_all_data, pg_monitor: README, Read-only against "
        "the database)"
    )


@pytest.mark.requires("postgres.schema_version")
def test_schema_version_answers(postgres, target):
    """The schema version query answers (postgres.schema_version.query)."""
    schema = target.view.postgres.schema_version
    version = pg.scalar(postgres, schema.query)
    assert version is not None, f"{postgres.endpoint}: {schema.query!r} returned NULL; expected a schema version"


@pytest.mark.parametrize("item", attestation_params(__file__))
def test_signed(item, attestations):
    """A person in an allowed role has signed this checklist item for the release."""
    attestations.assert_signed(item)
