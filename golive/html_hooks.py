"""pytest-html hooks: the gate report's title, verdict banner and details (built by golive.report)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from golive import attestations, gates
from golive import report as gate_report
from golive.attestations import Attestation
from golive.decision import waiver_rules
from golive.run import GateRun
from golive.timeline import Timeline, TimelineError
from golive.verdict import partial


class HtmlReportHooks:
    """pytest-html hooks, registered on the controller only when pytest-html is active."""

    def __init__(self, run: GateRun) -> None:
        self.run = run

    def pytest_html_report_title(self, report: Any) -> None:
        gate = gates.BY_NAME.get(self.run.gate)
        title = gate.title if gate else f"gate {self.run.gate}"
        report.title = f"golive {title}: {self.run.env_name or '?'}"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: pytest.Session) -> None:
        facts = self._facts()
        if facts is None:
            return
        prefix.append(gate_report.banner(facts))
        postfix.append(gate_report.details(facts))

    def _facts(self) -> gate_report.ReportFacts | None:
        run = self.run
        if run.decision is None:
            return None
        settings = run.settings
        records: list[Attestation] = []
        problem = None
        if settings is not None:
            try:
                records = attestations.read(settings.attestations_path)
            except attestations.AttestationError as error:
                problem = str(error)
        try:
            timeline = Timeline.in_reports(run.reports_dir).entries()
        except TimelineError:
            timeline = []
        return gate_report.ReportFacts(
            gate=run.gate, expression=run.expression, decision=run.decision, results=run.results,
            environment=run.env_name or "?", release=settings.release.version if settings else "?",
            started_at=run.started_at.isoformat(timespec="seconds"),
            duration_s=(datetime.now(UTC) - run.started_at).total_seconds(),
            config=f"{settings.path} (from {settings.source})" if settings else "?",
            attestations=records, attestation_error=problem, waivers=waiver_rules(settings), timeline=timeline,
            mask=run.masker, latencies=run.latencies,
            p95_threshold_ms=settings.document.thresholds.p95_ms if settings else None,
            partial=subset.describe() if (subset := partial(run.conditions)) else None,
            evidence=run.evidence_state,
        )
