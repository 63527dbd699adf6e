"""The gate report people sign: HTML sections added to pytest-html's self-contained report.

Pure functions from the facts of a run to HTML rendered from ``golive/templates`` (``report_banner.html``,
``report_details.html``); the plugin hands them to pytest-html's ``pytest_html_results_summary`` hook. Every
printed value goes through the run's masker and is then escaped (``golive.templating``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from golive import gates, templating
from golive.attestations import Attestation
from golive.timeline import Entry
from golive.verdict import CheckResult, Decision, Outcome, Severity, Verdict, WaiverRule

SIGN_OFF_ROLES = ("Release Manager", "Deployment Lead", "Technical Lead", "DBA", "Ops Engineer", "Security Lead")
_COLOURS = {Verdict.GO: "#1a7f37", Verdict.REVIEW: "#9a6700", Verdict.NO_GO: "#cf222e"}
_OUTCOME_MARK = {"passed": "✔ passed", "failed": "✘ failed", "error": "✘ error", "skipped": "– skipped",
                 "waived": "≈ waived"}

@dataclass
class ReportFacts:
    gate: str
    expression: str
    decision: Decision
    results: Sequence[CheckResult]
    environment: str
    release: str
    started_at: str
    duration_s: float
    config: str
    attestations: Sequence[Attestation] = ()
    attestation_error: str | None = None
    waivers: Sequence[WaiverRule] = ()
    today: date = field(default_factory=date.today)
    timeline: Sequence[Entry] = ()
    mask: Callable[[str], str] = str
    latencies: Sequence[dict[str, Any]] = ()
    p95_threshold_ms: float | None = None
    partial: str | None = None  # "partial: N of M checks (deselected by ...)" when a subset of the gate ran
    evidence: str = "unsigned"  # the record's signature and chain link (golive.evidence), or why it is unsigned


def _render(template: str, facts: ReportFacts, **context: Any) -> str:
    return templating.render(
        template, facts.mask, decision=facts.decision, release=facts.release, environment=facts.environment,
        outcome_mark=_OUTCOME_MARK, fact_text=_fact_text, **context,
    )


def banner(facts: ReportFacts) -> str:
    gate = gates.BY_NAME.get(facts.gate)
    title = gate.title if gate else f"gate {facts.gate} (-m {facts.expression or '<all>'})"
    authority = gate.authority if gate else "-"
    outcomes = [outcome.value for outcome in Outcome]
    counts = [(severity.value, [sum(1 for r in facts.results if r.severity is severity and r.outcome.value == o)
                                for o in outcomes]) for severity in Severity]
    against = [r for r in facts.results if r.counts_against]
    return _render(
        "report_banner.html", facts, title=title, authority=authority,
        colour=_COLOURS[facts.decision.verdict], expression=facts.expression, started_at=facts.started_at,
        duration_s=facts.duration_s, config=facts.config, partial=facts.partial, outcomes=outcomes, counts=counts,
        evidence=facts.evidence,
        untrusted=[reason for reason in facts.decision.reasons if not any(reason.startswith(r.id) for r in against)],
        critical=[r for r in against if r.severity is Severity.CRITICAL],
        warning=[r for r in against if r.severity is Severity.WARNING],
    )


def _fact_text(value: object) -> str:
    """What a check read (golive.facts), compactly: ``dialect spring; endpoints health http://...``."""
    if isinstance(value, dict):
        return "; ".join(f"{key} {_fact_text(item)}" for key, item in value.items() if item is not None)
    if isinstance(value, list | tuple):
        return ", ".join(_fact_text(item) for item in value)
    return str(value)


def details(facts: ReportFacts) -> str:
    """The checklist by area, attestations, waivers, skipped components, timeline and the sign-off block."""
    gate = gates.BY_NAME.get(facts.gate)
    authority = gate.authority if gate else "Deployment Lead"
    areas: dict[str, list[CheckResult]] = {}
    for result in facts.results:
        areas.setdefault(result.category or "other", []).append(result)
    mine = sorted((a for a in facts.attestations if a.release == facts.release), key=lambda a: a.at)
    skipped = [r for r in facts.results if r.outcome is Outcome.SKIPPED and not r.unexplained_skip]
    rows, scale = _latency(facts)
    return _render(
        "report_details.html", facts, authority=authority, latency_rows=rows, latency_scale=scale,
        p95_threshold_ms=facts.p95_threshold_ms, areas=list(areas.items()),
        attestation_error=facts.attestation_error,
        attestation_rows=[[a.item, a.by, a.role, a.at, a.note] for a in mine],
        waiver_rows=[[w.check, w.reason, w.approved_by, w.expires,
                      "in force" if w.expires >= facts.today else "expired: no effect"] for w in facts.waivers],
        skipped=skipped, skipped_components=sorted({r.message for r in skipped}),
        timeline_rows=[[e.event.at, e.elapsed.strip(), e.event.kind, e.event.message, e.event.source]
                       for e in facts.timeline],
        sign_off_roles=[authority, *(role for role in SIGN_OFF_ROLES if role != authority)],
    )


_PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _latency(facts: ReportFacts) -> tuple[list[dict[str, Any]], float]:
    """Rows of p50/p95/p99 bars for every distribution the gate measured, on one scale with the p95 threshold."""
    pictures = [p for p in facts.latencies if _number(p.get("p95_ms")) is not None]
    values = [v for p in pictures for k in _PERCENTILES if (v := _number(p.get(k))) is not None]
    scale = max([*values, facts.p95_threshold_ms or 0.0]) or 1.0
    rows = []
    for picture in pictures:
        error_ratio = _number(picture.get("error_ratio"))
        about = [str(picture.get("source") or "")]
        if picture.get("completed") is not None:
            about.append(f"{picture['completed']} requests")
        if error_ratio is not None:
            about.append(f"error ratio {error_ratio:.4f}")
        bars = [(key[:3], value, 80 * value / scale) for key in _PERCENTILES
                if (value := _number(picture.get(key))) is not None]
        rows.append({"label": picture.get("label"), "about": " · ".join(filter(None, about)), "bars": bars})
    return rows, scale
