"""The live environment's baseline: what "normal" looked like before the deployment, kept for later gates.

Gate 1 captures it from the live environment (green, serving ``release.previous``): latency percentiles and
the error ratio by active sampling, row counts of the integrity tables, checksums of the immutable tables, the
business metrics' values, depths of the configured queues. It is written as
``<reports>/baseline-<release.version>.json``; Gate 2, Gate 3 and the dashboard load it to compare.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import metrics
from golive.config import EnvironmentView, Settings
from golive.probes.errors import ProbeError

FORMAT_VERSION = 1


def path_for(reports_dir: Path, release: str) -> Path:
    """Where the baseline of a release lives."""
    safe = "".join(ch if ch.isalnum() or ch in ".-_+" else "_" for ch in release)
    return reports_dir / f"baseline-{safe}.json"


def capture(settings: Settings, live: EnvironmentView) -> dict[str, Any]:
    """Measure the live environment now. Row counts and queue depths are left out (None) when their
    section is not configured; a configured component that cannot be measured raises ProbeError."""
    # The same sampling as Gate 2 uses for the candidate, so the comparison is like for like.
    sample = metrics.sample(live).sample
    metrics.note_sampling(live, sample)
    return {
        "format": FORMAT_VERSION,
        "release": settings.release.version,
        "previous": settings.release.previous,
        "environment": live.name,
        "expected_version": live.expected_version,
        "captured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "http": sample.to_json(),
        **_database_figures(live),
        "queue_depths": _queue_depths(live),
    }


def _database_figures(view: EnvironmentView) -> dict[str, Any]:
    """Row counts of the integrity tables, checksums of the immutable tables and the business metrics, read in
    one read-only session (each None when its keys are not configured)."""
    section = view.postgres
    integrity = section.integrity if section is not None else None
    tables = integrity.tables if integrity is not None else []
    immutable = integrity.immutable_tables if integrity is not None else []
    metrics = section.business_metrics if section is not None else []
    figures: dict[str, Any] = {"row_counts": None, "table_checksums": None, "business_metrics": None}
    if section is None or not (tables or immutable or metrics):
        return figures
    from golive.probes import postgres

    with postgres.connect(section.dsn, view.timeout_s("postgres"), application_name="golive-baseline") as conn:
        if tables:
            figures["row_counts"] = postgres.row_counts(conn, tables)
        if immutable:
            figures["table_checksums"] = {table: postgres.table_checksum(conn, table) for table in immutable}
        if metrics:
            figures["business_metrics"] = {metric.name: postgres.number(conn, metric.sql) for metric in metrics}
    return figures


def _queue_depths(view: EnvironmentView) -> dict[str, dict[str, int]] | None:
    section = view.rabbitmq
    if section is None or not section.queues:
        return None
    from golive.probes import rabbitmq

    connection = rabbitmq.connect(section.url, view.timeout_s("rabbitmq"))
    try:
        depths = {}
        for queue in section.queues:
            state = rabbitmq.queue_state(connection, queue)
            depths[queue] = {"messages": state.messages, "consumers": state.consumers}
        return depths
    finally:
        with suppress(Exception):
            connection.close()


def save(baseline: dict[str, Any], reports_dir: Path) -> Path:
    """Write the baseline atomically (a reader never sees half a file); return its path."""
    path = path_for(reports_dir, str(baseline["release"]))
    reports_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(baseline, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load(reports_dir: Path, release: str) -> dict[str, Any] | None:
    """The baseline captured for a release; None when none was captured. An unreadable file raises ProbeError."""
    path = path_for(reports_dir, release)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ProbeError("config", str(path), f"unreadable baseline: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict) or data.get("release") != release:
        raise ProbeError("config", str(path), f"not a baseline of release {release}")
    return data
