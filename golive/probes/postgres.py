"""PostgreSQL probe: bounded, read-only sessions, single values and replication lag."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow

from golive.masking import Masker, mask_url, password_of
from golive.probes import bounded
from golive.probes.errors import ProbeError, not_asked_again, remember_unanswered

# libpq refuses a connect_timeout below 2 s (psycopg enforces the same floor).
_MIN_CONNECT_TIMEOUT_S = 2
_SQL_SAMPLE = 80
# The server gets timeout_s to cancel a statement itself; the client gives up at this multiple of it.
_CLIENT_GRACE = 2
# lock_timeout as a share of statement_timeout.
_LOCK_SHARE = 0.8


class ProbeConnection(psycopg.Connection[TupleRow]):
    """A psycopg connection that remembers the probe timeout its queries are bounded by."""

    timeout_s: float = 0.0
    endpoint: str = ""


def endpoint(dsn: str) -> str:
    """Where a DSN points, as host:port/dbname (URL or key=value form; no credentials)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return mask_url(dsn)
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or 5432
    dbname = params.get("dbname") or params.get("user") or ""
    return f"{host}:{port}/{dbname}"


def connect(dsn: str, timeout_s: float, application_name: str = "golive") -> ProbeConnection:
    """A read-only autocommit session whose connect and every statement are bounded by timeout_s (a lock wait by
    four fifths of it, so a locked table says "lock timeout"); a server whose connect timed out earlier in the
    run is not asked again.

    Every golive session to PostgreSQL comes from here. The session starts with default_transaction_read_only
    on, statement_timeout and a lock_timeout below it (set after the DSN's own ``options``, so they win), and
    every query runs as one statement in its own read-only transaction that is always rolled back (``rows``).
    A role that can only read (pg_read_all_data, pg_monitor) is still the hard guarantee: the Gate 1 check
    ``test_role_cannot_write`` warns when the configured role can write.
    """
    where = endpoint(dsn)
    service = f"postgres://{where.split('/', 1)[0]}"
    not_asked_again("postgres", service, where)
    masker = Masker([password_of(dsn) or ""])
    connect_timeout = max(_MIN_CONNECT_TIMEOUT_S, math.ceil(timeout_s))
    timeout_ms = max(1, math.ceil(timeout_s * 1000))
    # A lock wait gives up before the statement does, so its error says it waited for a lock.
    lock_ms = max(1, math.ceil(timeout_ms * _LOCK_SHARE))
    bounds = f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms} -c lock_timeout={lock_ms}"
    try:
        existing = conninfo_to_dict(dsn).get("options") or ""
        conn = ProbeConnection.connect(
            dsn,
            autocommit=True,
            connect_timeout=connect_timeout,
            application_name=application_name,
            options=f"{existing} {bounds}".strip(),
        )
    except psycopg.errors.ConnectionTimeout:
        remember_unanswered(service, f"{where}: no answer within {connect_timeout}s")
        raise ProbeError("postgres", where, f"no answer within {connect_timeout}s") from None
    except psycopg.Error as exc:
        raise ProbeError("postgres", where, masker(_first_line(exc))) from None
    conn.timeout_s = timeout_s
    conn.endpoint = where
    return conn


def scalar(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    """The first column of the first row a query returns; no row at all raises ProbeError."""
    result = rows(conn, sql, params)
    if not result:
        raise ProbeError("postgres", _endpoint_of(conn), f"query returned no row: {_sample(sql)}")
    return result[0][0]


def number(conn: psycopg.Connection[Any], query: str) -> float | None:
    """The number a single-value query returns (NULL is None); a value that is not a number raises ProbeError."""
    value = scalar(conn, query)
    if value is None:
        return None
    if not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise ProbeError("postgres", _endpoint_of(conn), f"not a number ({str(value)[:40]!r}): {_sample(query)}")


def rows(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Every row a query returns, as tuples; any database or connection error raises ProbeError."""
    return _query(conn, sql, params)[1]


def _query(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of a query, bounded like ``rows``."""
    where = _endpoint_of(conn)
    timeout_s = conn.timeout_s if isinstance(conn, ProbeConnection) else 0.0
    expired = threading.Event()
    try:
        with _client_deadline(conn, timeout_s, expired):
            return _read_only(conn, sql, params, where)
    except psycopg.Error as exc:
        if expired.is_set():
            detail = f"no answer within {_CLIENT_GRACE * timeout_s:g}s (connection dropped)"
        else:
            detail = f"{type(exc).__name__}: {_first_line(exc)}"
        raise ProbeError("postgres", where, f"{detail}; query: {_sample(sql)}") from None


def _read_only(
    conn: psycopg.Connection[Any], sql: str, params: Any, where: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` as exactly one statement in a read-only transaction of its own, then roll it back.

    ``prepare=True`` sends it through the extended query protocol (Parse/Bind/Execute), which refuses a string
    of several statements, so ``COMMIT; BEGIN READ WRITE; DELETE ...`` cannot leave the read-only transaction.
    The rollback also undoes whatever the one statement changed in the session (``set_config(...)``), and a
    statement that returns no rows at all (``SET``, ``COMMIT``) is refused: it is not a query.
    """
    status = conn.pgconn.transaction_status
    if not conn.autocommit or status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        # BEGIN READ ONLY would only warn inside a transaction already open, and run the query in it.
        raise ProbeError("postgres", where, f"not an autocommit session outside a transaction; query: {_sample(sql)}")
    conn.execute("BEGIN READ ONLY")
    try:
        cursor = conn.execute(sql, params, prepare=True)
        if cursor.description is None:
            raise ProbeError("postgres", where, f"not a query (it returns no result set): {_sample(sql)}")
        return [column.name for column in cursor.description], [tuple(row) for row in cursor.fetchall()]
    finally:
        if conn.pgconn.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            conn.execute("ROLLBACK")


def replication_lag_bytes(primary_conn: psycopg.Connection[Any]) -> dict[str, int]:
    """How many bytes each standby's replay trails what the primary sent it, by application_name.

    WAL receivers that are not standbys (pg_basebackup, pg_receivewal: they report no replay position)
    are left out; several standbys sharing a name report the worst of them. A role that may not see
    replication details (needs pg_monitor) raises ProbeError instead of reporting nothing.
    """
    result = rows(
        primary_conn,
        "SELECT application_name, state, flush_lsn IS NOT NULL,"
        " pg_wal_lsn_diff(sent_lsn, replay_lsn)::bigint"
        " FROM pg_stat_replication WHERE state IS DISTINCT FROM 'backup'",
    )
    lag: dict[str, int] = {}
    for name, state, reports_flush, lag_bytes in result:
        if state is None:
            raise ProbeError(
                "postgres",
                _endpoint_of(primary_conn),
                f"replication details of standby {name!r} are hidden from this role (grant pg_monitor)",
            )
        if lag_bytes is None:
            if reports_flush:
                continue  # receives WAL but replays nothing: not a standby
            raise ProbeError(
                "postgres", _endpoint_of(primary_conn), f"standby {name!r} reports no position yet ({state})"
            )
        lag[name] = max(int(lag_bytes), lag.get(name, 0))
    return lag


def standby_lag_bytes(standby_conn: psycopg.Connection[Any]) -> int:
    """How many bytes this standby has received but not yet replayed."""
    in_recovery, lag_bytes = rows(
        standby_conn,
        "SELECT pg_is_in_recovery(),"
        " greatest(0, pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()))::bigint",
    )[0]
    if not in_recovery:
        raise ProbeError("postgres", _endpoint_of(standby_conn), "not a standby (server is not in recovery)")
    if lag_bytes is None:
        raise ProbeError("postgres", _endpoint_of(standby_conn), "standby has received no WAL from a primary")
    return int(lag_bytes)


@contextmanager
def _client_deadline(conn: psycopg.Connection[Any], timeout_s: float, expired: threading.Event) -> Iterator[None]:
    """Drop the connection if the server stays silent well past statement_timeout.

    statement_timeout is enforced by the server; a server that stops answering altogether (frozen process,
    hung storage) would leave the client waiting forever, so a timer shuts the socket down under libpq.
    """
    if timeout_s <= 0:
        yield
        return
    timer = threading.Timer(_CLIENT_GRACE * timeout_s, _shut_down_socket, args=(conn.pgconn.socket, expired))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()  # if it is already firing, let it finish before the caller may close the socket


def _shut_down_socket(fileno: int, expired: threading.Event) -> None:
    expired.set()
    # fromfd duplicates the descriptor: closing our copy leaves libpq's own descriptor alone.
    with suppress(OSError), socket.fromfd(fileno, socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.shutdown(socket.SHUT_RDWR)


def _endpoint_of(conn: psycopg.Connection[Any]) -> str:
    if isinstance(conn, ProbeConnection) and conn.endpoint:
        return conn.endpoint
    try:
        info = conn.info
        return f"{info.host}:{info.port}/{info.dbname}"
    except psycopg.Error:  # a closed connection no longer knows where it pointed
        return "a closed connection"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sample(sql: str) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= _SQL_SAMPLE else flat[: _SQL_SAMPLE - 3] + "..."


def row_counts(conn: psycopg.Connection[Any], tables: Iterable[str]) -> dict[str, int]:
    """The exact row count of each table (``name`` or ``schema.name``), each bounded by statement_timeout."""
    counts: dict[str, int] = {}
    for table in tables:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))
        with _naming_table(table):
            counts[table] = int(scalar(conn, query.as_string(conn)))
    return counts


@contextmanager
def _naming_table(table: str) -> Iterator[None]:
    """A table that could not be read (locked past the timeout, missing) is named first in the message."""
    try:
        yield
    except ProbeError as error:
        raise ProbeError(error.component, error.endpoint, f"table {table}: {error.detail}") from None


@dataclass(frozen=True)
class WriteAccess:
    """What the session's role could change, were its session not read-only."""

    role: str
    superuser: bool
    tables: tuple[str, ...]  # the first tables (schema.name) it may INSERT into, UPDATE, DELETE from or TRUNCATE
    table_count: int  # how many such tables in all


def write_access(conn: psycopg.Connection[Any], shown: int = 5) -> WriteAccess:
    """Whether the connected role can write: a superuser, or a privilege that writes on a table or view of this
    database (``has_table_privilege``, which counts ownership, grants to PUBLIC and pg_write_all_data)."""
    role, superuser, tables = rows(
        conn,
        "SELECT current_user::text, coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),"
        " ARRAY(SELECT format('%I.%I', n.nspname, c.relname)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p', 'v', 'f')"
        " AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
        " AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')"
        " ORDER BY 1)",
    )[0]
    return WriteAccess(str(role), bool(superuser), tuple(tables[:shown]), len(tables))


def wal_receiver_status(standby_conn: psycopg.Connection[Any]) -> str | None:
    """The standby's WAL receiver status ("streaming", "catchup", ...); None when no receiver runs."""
    result = rows(standby_conn, "SELECT status FROM pg_stat_wal_receiver")
    return str(result[0][0]) if result and result[0][0] is not None else None


def connection_usage(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """(client connections open on the whole server, max_connections)."""
    used, limit = rows(
        conn,
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
        " current_setting('max_connections')::int",
    )[0]
    return int(used), int(limit)


def long_transactions(conn: psycopg.Connection[Any], older_than_s: float) -> list[tuple[int, str, str, float]]:
    """Transactions in this database open for longer than older_than_s: (pid, user, state, age in s), oldest first."""
    return [
        (int(pid), str(user), str(state), float(age))
        for pid, user, state, age in rows(
            conn,
            "SELECT pid, coalesce(usename, ''), coalesce(state, ''),"
            " extract(epoch FROM clock_timestamp() - xact_start)::float8"
            " FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_type = 'client backend'"
            " AND xact_start IS NOT NULL AND pid <> pg_backend_pid()"
            " AND clock_timestamp() - xact_start > make_interval(secs => %s)"
            " ORDER BY xact_start",
            (older_than_s,),
        )
    ]


@dataclass(frozen=True)
class RowSample:
    """The first rows a query returns, with how many it returns in all."""

    total: int
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def first_rows(conn: psycopg.Connection[Any], query: str, limit: int = 3) -> RowSample:
    """How many rows a query returns and the first ``limit`` of them, in one bounded statement.

    The query runs as a subquery, never with parameters, so a ``%`` in it is plain SQL.
    """
    body = query.strip().rstrip(";").strip()
    # The newline ends a trailing -- comment of the query before the closing parenthesis.
    wrapped = (
        f"SELECT count(*) OVER () AS golive_total, golive_rows.* FROM ({body}\n) AS golive_rows LIMIT {int(limit)}"
    )
    columns, result = _query(conn, wrapped)
    total = int(result[0][0]) if result else 0
    return RowSample(total=total, columns=tuple(columns[1:]), rows=tuple(row[1:] for row in result))


def table_checksum(conn: psycopg.Connection[Any], table: str) -> str:
    """An md5 over every row of a table (``name`` or ``schema.name``) in a fixed order: equal iff the rows are.

    Rows are compared by their text form under the C collation, so the order never depends on locale.
    """
    query = sql.SQL(
        "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\"), '')) FROM {} AS t"
    ).format(sql.Identifier(*table.split(".")))
    with _naming_table(table):
        return str(scalar(conn, query.as_string(conn)))


@dataclass(frozen=True)
class LockWait:
    """A session waiting for a lock another session holds."""

    pid: int
    user: str
    lock: str  # "<mode> on <relation or lock type>"
    waited_s: float
    blocked_by: tuple[int, ...]


def lock_waits(conn: psycopg.Connection[Any], longer_than_s: float) -> list[LockWait]:
    """Sessions of this database waiting for a lock for longer than longer_than_s, longest first (PostgreSQL 14+:
    ``pg_locks.waitstart``)."""
    result = rows(
        conn,
        "SELECT l.pid, coalesce(a.usename, ''),"
        " l.mode || ' on ' || coalesce(l.relation::regclass::text, l.locktype),"
        " extract(epoch FROM clock_timestamp() - l.waitstart)::float8, pg_blocking_pids(l.pid)"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.datname = current_database()"
        " AND clock_timestamp() - l.waitstart > make_interval(secs => %s)"
        " ORDER BY l.waitstart",
        (longer_than_s,),
    )
    return [
        LockWait(int(pid), str(user), str(lock), float(waited), tuple(int(b) for b in blockers or ()))
        for pid, user, lock, waited, blockers in result
    ]


def has_extension(conn: psycopg.Connection[Any], name: str) -> bool:
    """Whether an extension is installed in the connected database."""
    return bool(rows(conn, "SELECT 1 FROM pg_extension WHERE extname = %s", (name,)))


@dataclass(frozen=True)
class SlowStatement:
    calls: int
    mean_ms: float
    max_ms: float
    query: str  # normalised by pg_stat_statements (constants are $1, $2...), shortened


def slow_statements(conn: psycopg.Connection[Any], slower_than_ms: float, limit: int = 5) -> list[SlowStatement]:
    """Statements of this database whose mean execution time exceeds slower_than_ms, slowest first, from
    ``pg_stat_statements`` (cumulative since its last reset). The caller checks the extension is installed;
    a server that does not preload it raises ProbeError."""
    result = rows(
        conn,
        "SELECT calls, mean_exec_time, max_exec_time, query FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND mean_exec_time > %s ORDER BY mean_exec_time DESC LIMIT %s",
        (slower_than_ms, limit),
    )
    return [
        SlowStatement(int(calls), float(mean), float(worst), _sample(str(query or "")))
        for calls, mean, worst, query in result
    ]


# --- whether a standby replays what it receives ------------------------------------------------------------


@dataclass(frozen=True)
class ReplayPosition:
    """One look at a standby's WAL replay (positions in bytes from 0/0)."""

    pause_state: str  # "not paused", "pause requested" or "paused"
    received: int  # pg_last_wal_receive_lsn()
    replayed: int  # pg_last_wal_replay_lsn()
    replay_lsn: str
    min_apply_delay: str  # recovery_min_apply_delay: "0" unless replay is held back on purpose

    @property
    def waiting_bytes(self) -> int:
        """WAL received but not yet replayed."""
        return max(0, self.received - self.replayed)


def replay_position(standby_conn: psycopg.Connection[Any]) -> ReplayPosition:
    """Where this standby's receive and replay stand, and whether its replay is paused, in one statement.

    PostgreSQL 14+ tells a requested pause from an actual one (``pg_get_wal_replay_pause_state()``); before 14,
    ``pg_is_wal_replay_paused()`` says whether replay is paused. A server that is not in recovery, or a standby
    that has received or replayed nothing yet, raises ProbeError.
    """
    if standby_conn.info.server_version >= 140000:
        state = "pg_get_wal_replay_pause_state()"
    else:
        state = "CASE WHEN pg_is_wal_replay_paused() THEN 'paused' ELSE 'not paused' END"
    in_recovery, pause_state, received, replayed, replay_lsn, delay = rows(
        standby_conn,
        f"SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN {state} END,"
        " pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::bigint,"
        " pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint, pg_last_wal_replay_lsn()::text,"
        " current_setting('recovery_min_apply_delay')",
    )[0]
    if not in_recovery:
        raise ProbeError("postgres", _endpoint_of(standby_conn), "not a standby (server is not in recovery)")
    if received is None or replayed is None:
        raise ProbeError("postgres", _endpoint_of(standby_conn), "standby has received or replayed no WAL yet")
    return ReplayPosition(str(pause_state), int(received), int(replayed), str(replay_lsn), str(delay))


@dataclass(frozen=True)
class ReplayProgress:
    """What a standby's replay did while golive watched it."""

    first: ReplayPosition
    last: ReplayPosition
    observed_s: float
    stalled: bool  # WAL waited to be replayed at one look and replay had not moved by the next

    @property
    def pause_state(self) -> str:
        """The pause state seen ("not paused" only if every look saw it so)."""
        states = {self.first.pause_state, self.last.pause_state} - {"not paused"}
        return min(states) if states else "not paused"  # "pause requested" < "paused": either is a pause

    @property
    def replaying(self) -> bool:
        return self.pause_state == "not paused" and not self.stalled


def replay_progress(standby_conn: psycopg.Connection[Any], interval_s: float) -> ReplayProgress:
    """Whether this standby replays what it receives, from at most three looks ``interval_s`` apart.

    A paused replay (``pg_wal_replay_pause()``, a recovery target's pause) is known from the first look. Otherwise
    replay is stalled when WAL received but not replayed at one look is still not replayed, the replay position
    unmoved, at the next; WAL that arrives between two looks is given one more interval. So an idle, healthy
    standby costs one interval, and the whole watch at most two. Only reads: it never pauses or resumes replay.
    """
    started = time.monotonic()
    looks = [replay_position(standby_conn)]
    stalled = False
    while looks[0].pause_state == "not paused" and len(looks) < 3:
        bounded.observe(interval_s)
        looks.append(replay_position(standby_conn))
        before, after = looks[-2], looks[-1]
        if before.waiting_bytes > 0:
            stalled = after.replayed <= before.replayed
            break
        if after.waiting_bytes == 0:
            break
    return ReplayProgress(looks[0], looks[-1], time.monotonic() - started, stalled)
