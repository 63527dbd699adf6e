"""The orchestrator's schema as ordered migrations, and its seed rows.

Green's release (2.0.5) knows the migrations up to 2.0.5; blue's release (2.1.0) adds one, backward
compatible (a column with a default), so green keeps working on the shared database once it is applied.
Versions are compared as text by ``SELECT max(version) FROM schema_versions``: keep every part one digit.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from golive.sandbox.constants import BLUE_VERSION, version_tuple

MIGRATIONS: Sequence[tuple[str, str]] = (
    (
        "2.0.0",
        """
        CREATE TABLE agents (
            id serial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            kind text NOT NULL,
            status text NOT NULL DEFAULT 'idle',
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE messages (
            id bigserial PRIMARY KEY,
            agent_id integer NOT NULL,  -- no foreign key on purpose: an integrity invariant checks it
            role text NOT NULL,
            content text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE tasks (
            id bigserial PRIMARY KEY,
            agent_id integer REFERENCES agents (id),
            payload jsonb NOT NULL DEFAULT '{}',
            status text NOT NULL DEFAULT 'queued',
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    (
        "2.0.5",
        """
        CREATE TABLE task_results (
            id bigserial PRIMARY KEY,
            task_id bigint NOT NULL REFERENCES tasks (id),
            worker text NOT NULL,
            result jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX task_results_task_id ON task_results (task_id);
        CREATE INDEX messages_agent_id ON messages (agent_id);
        """,
    ),
    (
        "2.1.0",
        """
        ALTER TABLE tasks ADD COLUMN priority integer NOT NULL DEFAULT 0;
        """,
    ),
)

SEED = """
INSERT INTO agents (name, kind) VALUES
    ('planner', 'llm'), ('researcher', 'llm'), ('coder', 'llm'), ('reviewer', 'llm'), ('scheduler', 'rule')
ON CONFLICT (name) DO NOTHING;
INSERT INTO messages (agent_id, role, content)
SELECT a.id, m.role, m.content
FROM (VALUES
    ('planner', 'system', 'Break the request into tasks.'),
    ('planner', 'assistant', 'Plan: research, code, review.'),
    ('researcher', 'assistant', 'Found three relevant sources.'),
    ('coder', 'assistant', 'Patch ready for review.'),
    ('reviewer', 'assistant', 'Approved with one nit.')
) AS m (agent, role, content)
JOIN agents a ON a.name = m.agent
WHERE NOT EXISTS (SELECT 1 FROM messages);
"""

# Rows returned are violations (the golive contract for integrity invariants).
INVARIANTS: Sequence[tuple[str, str]] = (
    (
        "every message belongs to a known agent",
        "SELECT m.id FROM messages m LEFT JOIN agents a ON a.id = m.agent_id WHERE a.id IS NULL",
    ),
    (
        "no task is done without a recorded result",
        "SELECT t.id FROM tasks t WHERE t.status = 'done' "
        "AND NOT EXISTS (SELECT 1 FROM task_results r WHERE r.task_id = t.id)",
    ),
)

# Numbers the business watches (golive's postgres.business_metrics): the registered agents must all stay, the
# conversation history may not shrink by more than a tenth across a deployment.
BUSINESS_METRICS: Sequence[dict[str, object]] = (
    {"name": "agents registered", "sql": "SELECT count(*) FROM agents", "min": 1, "max_drop_ratio": 0.0},
    {"name": "messages stored", "sql": "SELECT count(*) FROM messages", "min": 1, "max_drop_ratio": 0.1},
)

# Serialises concurrent migrators (two `up`s at once) on the primary.
_MIGRATION_LOCK = 7_420_205


def migrate(conn: psycopg.Connection, through: str = BLUE_VERSION) -> list[str]:
    """Apply every migration up to ``through`` not yet recorded, then the seed rows; return those applied."""
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_versions")}
        for version, sql in MIGRATIONS:
            if version in done or version_tuple(version) > version_tuple(through):
                continue
            conn.execute(sql.encode())
            conn.execute("INSERT INTO schema_versions (version) VALUES (%s)", (version,))
            applied.append(version)
        conn.execute(SEED.encode())
    return applied
