"""The live environment's baseline: what "normal" looked like before the deployment, kept for later gates.

Gate 1 captures it from the live environment (green, serving ``release.previous``): latency percentiles and
the error ratio by active sampling, row counts of the integrity tables, checksums of the immutable tables, the
business metrics' values, depths of the configured queues. Gate 2, Gate 3 and their checks load it to compare.

A baseline belongs to a release *and to the live environment it was measured on*. That environment's identity is
what the figures were read from: the environment's name and URL (latency, error ratio), the PostgreSQL endpoint
(``host:port/dbname`` of its ``postgres.dsn``: row counts, checksums, business metrics) and the RabbitMQ endpoint
(``host:port/vhost`` of its ``rabbitmq.url``: queue depths), credentials never included (a password in the URL
shows as ``***``). The baseline is written
as ``<reports>/baseline-<release.version>-<key>.json``, where ``key`` is the first 12 hex digits of the SHA-256 of
that identity (as sorted JSON), and it records the identity itself. So a Gate 1 run with another configuration
(another live URL, another database) writes its own file and never replaces the one the real environment's Gate 2
will read; two configuration files that describe the same live environment share one baseline.

Only a good measurement is saved: a sample cut short by ``http.sampling.max_duration_s`` or an error ratio above
``thresholds.error_rate`` (the live environment could not be measured) leaves the earlier good baseline of that
identity in place, and a component that cannot be read saves nothing. Baselines written before identities
(``baseline-<release>.json``, format 1) are never used: they do not say which environment they measured, so the
checks that need one fail as warnings saying to run Gate 1 again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import inputs, metrics
from golive.config import EnvironmentView, Settings
from golive.masking import Masker, mask_url
from golive.probes.errors import ProbeError

FORMAT_VERSION = 2
KEY_LENGTH = 12


def identity(live: EnvironmentView) -> dict[str, str | None]:
    """What a baseline of this live environment is measured from (no credentials): name, URL and the endpoints of
    the components it reads (None when the section is not configured)."""
    from golive.probes import postgres, rabbitmq

    return {
        "environment": live.name,
        "url": mask_url(live.url),  # a password in the URL is not part of what was measured, nor kept in a file
        "postgres": postgres.endpoint(live.postgres.dsn) if live.postgres is not None else None,
        "rabbitmq": rabbitmq.endpoint(live.rabbitmq.url) if live.rabbitmq is not None else None,
    }


def key(of: dict[str, Any]) -> str:
    """The short digest of an identity that names its baseline file."""
    canonical = json.dumps(of, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def describe(of: dict[str, Any]) -> str:
    """An identity for people: ``green (http://127.0.0.1:18002, postgres 127.0.0.1:5432/app, rabbitmq ...)``."""
    parts = [str(of.get("url"))] + [f"{name} {of[name]}" for name in ("postgres", "rabbitmq") if of.get(name)]
    return f"{of.get('environment')} ({', '.join(parts)})"


def _safe(release: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-_+" else "_" for ch in release)


def path_for(reports_dir: Path, release: str, of: dict[str, Any]) -> Path:
    """Where the baseline of a release, measured on the live environment of identity ``of``, lives."""
    return reports_dir / f"baseline-{_safe(release)}-{key(of)}.json"


def legacy_path_for(reports_dir: Path, release: str) -> Path:
    """Where golive kept a release's baseline before baselines had identities (never loaded, only named)."""
    return reports_dir / f"baseline-{_safe(release)}.json"


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
        "identity": identity(live),
        "expected_version": live.expected_version,
        "captured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "http": sample.to_json(),
        **_database_figures(live),
        "queue_depths": _queue_depths(live),
    }


def shortcomings(settings: Settings, live: EnvironmentView, measured: dict[str, Any]) -> list[str]:
    """Why a captured baseline does not describe the live environment's normal (empty: it does, save it)."""
    sample = measured["http"]
    allowed = settings.document.thresholds.error_rate
    found = []
    if sample["truncated"]:
        found.append(
            f"baseline sampling of {live.url} completed {sample['completed']} of {sample['requested']} requests "
            f"within http.sampling.max_duration_s ({live.http.sampling.max_duration_s:g}s)"
        )
    if sample["error_ratio"] > allowed:
        found.append(
            f"baseline sampling of {live.url}: error ratio {sample['error_ratio']:.4f} ({sample['errors']} of "
            f"{sample['completed']}, e.g. {'; '.join(sample['error_examples'])}); allowed {allowed:g} "
            "(thresholds.error_rate)"
        )
    return found


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


def save(baseline: dict[str, Any], reports_dir: Path, mask: Masker) -> Path:
    """Write the baseline, every string in it through ``mask`` (the configuration's masker), atomically (a reader
    never sees half a file) under its release and identity; return its path."""
    path = path_for(reports_dir, str(baseline["release"]), baseline["identity"])
    text = json.dumps(mask.deep(copy.deepcopy(baseline)), indent=2, sort_keys=True) + "\n"
    reports_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load(reports_dir: Path, release: str, of: dict[str, Any], mask: Masker | None = None) -> dict[str, Any] | None:
    """The baseline captured for a release on the live environment of identity ``of``; None when none was.
    An unreadable file, or one that is not that release's or that identity's, raises ProbeError. ``mask`` is the
    masker the file was written through (an identity whose value equals a configured secret was written masked)."""
    path = path_for(reports_dir, release, of)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        data = inputs.read_json(path, str(path))
    except inputs.InputError as exc:
        raise ProbeError("config", str(path), f"unreadable baseline: {exc}") from None
    if not isinstance(data, dict) or data.get("release") != release:
        raise ProbeError("config", str(path), f"not a baseline of release {release}")
    if data.get("identity") not in (of, mask.deep(copy.deepcopy(of)) if mask is not None else of):
        found = data.get("identity")
        measured = describe(found) if isinstance(found, dict) else "an unrecorded environment"
        raise ProbeError("config", str(path), f"a baseline of {measured}, not of {describe(of)}")
    return data
