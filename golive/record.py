"""The decision record (CONTRACT section 5): the JSON every gate run leaves in ``reports/``."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from golive import evidence, gates, inputs
from golive.decision_record import CheckRecord, DecisionRecord, PartialRecord
from golive.verdict import CheckResult, Decision, count

RUN_ID_VARIABLE = "GOLIVE_RUN_ID"  # the run id `golive gate` hands to pytest; the record must carry it back

# pytest options under which a run lists, collects or plans checks but runs none: such a run decides nothing
# and records nothing (pytest's option dest -> its command-line spellings).
NO_DECISION_OPTIONS: dict[str, tuple[str, ...]] = {
    "collectonly": ("--collect-only", "--co"), "markers": ("--markers",), "showfixtures": ("--fixtures",),
    "show_fixtures_per_test": ("--fixtures-per-test",), "help": ("--help", "-h"), "version": ("--version", "-V"),
    "setuponly": ("--setup-only",), "setupplan": ("--setup-plan",),
}

def gate_name(expression: str) -> str:
    """The gate's name for a marker expression (golive/gates.py); any other expression is named by its slug."""
    known = gates.by_expression(expression)
    if known is not None:
        return known.name
    normalized = " ".join(expression.split())
    slug = re.sub(r"[^a-z0-9]+", "-", normalized.lower()).strip("-")[:48]
    return slug or "all"


def utc_stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def unique_stem(reports_dir: Path, gate: str, environment: str, started: datetime) -> Path:
    """``reports/<gate>-<env>-<stamp>``, with a suffix if a run in the same second already took it."""
    stem = reports_dir / f"{gate}-{environment}-{utc_stamp(started)}"
    candidate, number = stem, 1
    while any(candidate.with_name(candidate.name + ext).exists() for ext in (".json", ".html")):
        number += 1
        candidate = stem.with_name(f"{stem.name}-{number}")
    return candidate


@dataclass(frozen=True)
class RunFacts:
    gate: str
    expression: str
    environment: str | None
    release: str | None
    started_at: datetime
    finished_at: datetime
    config: str | None
    html_report: str | None
    partial: dict[str, object] | None = None  # {"ran": N, "of": M, "by": [...]} when a subset of the gate ran
    run_id: str | None = None  # handed down by `golive gate` ($GOLIVE_RUN_ID): proves the record is this run's


def build_record(facts: RunFacts, decision: Decision, results: Sequence[CheckResult]) -> dict[str, Any]:
    """The record of a decided run, built through its model (golive.decision_record): what is written is what
    every consumer reads back."""
    checks = []
    for result in results:
        optional: dict[str, Any] = {"waiver": result.waiver} if result.waiver else {}
        if result.facts:
            optional["facts"] = result.facts
        checks.append(CheckRecord(
            id=result.id, title=result.title, component=result.component, category=result.category,
            severity=result.severity, outcome=result.outcome, message=result.message,
            duration_s=round(result.duration_s, 3), **optional,
        ))
    return DecisionRecord(
        gate=facts.gate,
        marker_expression=facts.expression,
        verdict=decision.verdict.label,  # type: ignore[arg-type]  # one of the three labels
        exit_code=decision.exit_code,
        environment=facts.environment,
        release=facts.release,
        started_at=facts.started_at.isoformat(timespec="seconds"),
        finished_at=facts.finished_at.isoformat(timespec="seconds"),
        duration_s=round((facts.finished_at - facts.started_at).total_seconds(), 3),
        config=facts.config,
        html_report=facts.html_report,
        partial=PartialRecord(**facts.partial) if facts.partial else None,  # type: ignore[arg-type]
        run_id=facts.run_id,
        reasons=list(decision.reasons),
        notes=list(decision.notes),
        counts=count(results),
        checks=checks,
    ).document()


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_record(record: dict[str, Any], json_path: Path, reports_dir: Path, also: Path | None = None,
                 seal: Callable[[bytes], str] | None = None) -> None:
    """Write the record, refresh ``reports/latest-<gate>.json``, and copy it to ``--golive-json`` if asked.

    ``seal`` makes the record's signed envelope from its bytes (golive.evidence), written beside it as
    ``<record>.dsse.json``; it runs before anything is written, so a record that cannot be signed is never left
    beside a signature. An unsigned record removes an envelope an earlier write left at its path."""
    text = json.dumps(record, indent=2) + "\n"
    envelope = seal(text.encode("utf-8")) if seal is not None else None
    _write_atomically(json_path, text)
    sidecar = evidence.envelope_path(json_path)
    if envelope is not None:
        _write_atomically(sidecar, envelope)
    else:
        sidecar.unlink(missing_ok=True)
    _write_atomically(reports_dir / f"latest-{record['gate']}.json", text)
    if also is not None:
        _write_atomically(also, text)


def write_signed(record: dict[str, Any], json_path: Path, reports_dir: Path, signer: evidence.Signer | None,
                 config_path: Path | None, also: Path | None = None) -> str:
    """``write_record``, signed by ``signer`` and chained to the previous decision of the record's release and
    environment (golive.evidence); what the report says about it. Gates and the cutover write through here.
    Raises EvidenceError (nothing written) when the record cannot be signed."""
    if signer is None:
        write_record(record, json_path, reports_dir, also)
        return "unsigned (no evidence.key configured)"
    state: list[str] = []

    def seal(data: bytes) -> str:
        sealed = evidence.seal_record(signer, record, json_path, data, config_path)
        envelope = inputs.parse_json(sealed, json_path.name + evidence.ENVELOPE_SUFFIX)
        chain = evidence.statement_of(envelope)["predicate"]["chain"]
        after = chain["previous"]["name"] if chain["previous"] else "none: the first of the chain"
        state.append(f"{signer.describe()}; chain: decision {chain['sequence']} of release {chain['release']} on "
                     f"{chain['environment']}, after {after}")
        return sealed.decode("utf-8")

    with evidence.record_lock(reports_dir):
        write_record(record, json_path, reports_dir, also, seal)
    return state[0]


def write_copy(record: dict[str, Any], path: Path) -> None:
    """Write the record to ``path`` alone (``--golive-json`` of a run whose reports directory is unusable)."""
    _write_atomically(path, json.dumps(record, indent=2) + "\n")
