"""Decision records for tests that need one on disk without a gate run: written through golive's own model
(golive.decision_record), so they are exactly what a run would leave."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from golive.decision_record import DecisionRecord


def write_review(reports: Path, gate: str, environment: str, release: str, finished: datetime,
                 run_id: str = "0123456789abcdef") -> Path:
    """A REVIEW record (one warning check failed) of ``gate`` on ``environment``, finished at ``finished``,
    written where a run writes it: ``reports/<gate>-<env>-<stamp>.json`` beside its ``.html``."""
    stem = reports / f"{gate}-{environment}-{finished.strftime('%Y%m%dT%H%M%SZ')}"
    checks: list[dict[str, Any]] = [
        {"id": "validations/test_a.py::test_up", "component": "http", "severity": "critical", "outcome": "passed"},
        {"id": "validations/test_a.py::test_cache", "component": "redis", "severity": "warning",
         "outcome": "failed", "message": "redis: down"},
    ]
    record = DecisionRecord.parse({
        "gate": gate, "marker_expression": gate, "verdict": "REVIEW", "exit_code": 1, "environment": environment,
        "release": release, "started_at": (finished - timedelta(seconds=3)).isoformat(),
        "finished_at": finished.isoformat(), "duration_s": 3.0, "html_report": str(stem.with_suffix(".html")),
        "run_id": run_id, "reasons": ["validations/test_a.py::test_cache [warning, redis] failed: redis: down"],
        "counts": {"passed": 1, "failed": 1, "error": 0, "skipped": 0, "waived": 0}, "checks": checks,
    })
    reports.mkdir(parents=True, exist_ok=True)
    path = stem.with_suffix(".json")
    path.write_text(DecisionRecord.model_dump_json(record, indent=2) + "\n")
    return path


def waiting_state(record: Path, since: datetime, run_id: str = "0123456789abcdef") -> dict[str, Any]:
    """The hookDetails golive hands ECS while a REVIEW waits."""
    return {"golive": {"review_since": since.isoformat(), "record": record.name, "run_id": run_id}}
