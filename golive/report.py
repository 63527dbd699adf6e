"""The gate report people sign: HTML sections added to pytest-html's self-contained report.

Pure functions from the facts of a run to escaped HTML; the plugin hands them to pytest-html's
``pytest_html_results_summary`` hook. Every value goes through ``html.escape`` and the run's masker.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from golive.attestations import Attestation
from golive.timeline import Entry
from golive.verdict import CheckResult, Decision, Outcome, Severity, Verdict, WaiverRule

GATE_TITLES = {
    "pre": ("Gate 1: pre-deployment go/no-go", "Release Manager"),
    "final": ("Final re-check at T+0", "Deployment Lead"),
    "config": ("Configuration validation", "Ops Engineer"),
    "immediate": ("Gate 2: pre-cutover go/no-go", "Deployment Lead"),
    "post": ("Gate 3: post-deployment success", "Deployment Lead"),
}
SIGN_OFF_ROLES = ("Release Manager", "Deployment Lead", "Technical Lead", "DBA", "Ops Engineer", "Security Lead")
_COLOURS = {Verdict.GO: "#1a7f37", Verdict.REVIEW: "#9a6700", Verdict.NO_GO: "#cf222e"}
_OUTCOME_MARK = {"passed": "✔ passed", "failed": "✘ failed", "error": "✘ error", "skipped": "– skipped",
                 "waived": "≈ waived"}

CSS = """
.golive section { margin: 1.2em 0; }
.golive table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; }
.golive td, .golive th { border: 1px solid #d0d7de; padding: 3px 6px; text-align: left; vertical-align: top;
  color: #1f2328; }
/* The signer reads the verdict first: pytest-metadata's environment table is not part of the decision. */
#environment-header, #environment { display: none; }
.golive th { background: #f6f8fa; }
.golive .banner { padding: 14px 18px; color: #fff; font-size: 1.5em; }
.golive .facts td:first-child { width: 12em; font-weight: bold; }
.golive .critical { color: #cf222e; font-weight: bold; }
.golive .outcome-failed, .golive .outcome-error { background: #ffebe9; }
.golive .outcome-waived { background: #fff8c5; }
.golive .outcome-skipped { color: #57606a; }
.golive .signature td { height: 2.6em; }
.golive .bars { width: 70%; }
.golive .bar { display: flex; align-items: center; margin: 2px 0; }
.golive .bar .pct { width: 3em; }
.golive .bar .fill { display: inline-block; height: .9em; background: #0969da; margin-right: .5em;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media print {
  .golive .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  #results-table, .filters, .collapse, .logexpander, .summary__reload, .additional-summary.prefix ~ p { display: none; }
  .golive section { break-inside: avoid; }
}
"""


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


def _e(facts: ReportFacts, value: object) -> str:
    return html.escape(facts.mask(str(value)))


def banner(facts: ReportFacts) -> str:
    title, authority = GATE_TITLES.get(facts.gate, (f"gate {facts.gate} (-m {facts.expression or '<all>'})", "-"))
    verdict = facts.decision.verdict
    e = lambda value: _e(facts, value)  # noqa: E731 - local shorthand
    return (
        f'<style>{CSS}</style><div class="golive">'
        f'<div id="golive-verdict" class="banner" style="background:{_COLOURS[verdict]}">'
        f"<b>{e(verdict.label)}</b> (exit {facts.decision.exit_code}) · {e(title)} · decided by {e(authority)}</div>"
        f'<table class="facts">'
        f"<tr><td>release</td><td>{e(facts.release)}</td></tr>"
        f"<tr><td>environment</td><td>{e(facts.environment)}</td></tr>"
        f"<tr><td>marker expression</td><td>{e(facts.expression or '<all>')}</td></tr>"
        f"<tr><td>started (UTC)</td><td>{e(facts.started_at)}</td></tr>"
        f"<tr><td>duration</td><td>{facts.duration_s:.1f} s</td></tr>"
        f"<tr><td>configuration</td><td>{e(facts.config)}</td></tr>"
        + (f'<tr id="golive-partial"><td>checks</td><td>{e(facts.partial)}</td></tr>' if facts.partial else "")
        + "</table>"
        f"{_counts(facts)}{_blocking(facts)}</div>"
    )


def _counts(facts: ReportFacts) -> str:
    outcomes = [outcome.value for outcome in Outcome]
    rows = []
    for severity in Severity:
        cells = [sum(1 for r in facts.results if r.severity is severity and r.outcome.value == o) for o in outcomes]
        rows.append(f"<tr><th>{severity.value}</th>" + "".join(f"<td>{n}</td>" for n in cells) + "</tr>")
    head = "".join(f"<th>{o}</th>" for o in outcomes)
    return f"<section><h2>Counts</h2><table><tr><th></th>{head}</tr>{''.join(rows)}</table></section>"


def _blocking(facts: ReportFacts) -> str:
    against = [r for r in facts.results if r.counts_against]
    critical = [r for r in against if r.severity is Severity.CRITICAL]
    warning = [r for r in against if r.severity is Severity.WARNING]
    parts = []
    other = [reason for reason in facts.decision.reasons if not any(reason.startswith(r.id) for r in against)]
    if other:
        parts.append("<h2>Why the run cannot be trusted</h2><ul>" + "".join(
            f"<li class='critical'>{_e(facts, reason)}</li>" for reason in other) + "</ul>")
    for heading, members in (("Blocking: critical checks that failed", critical),
                             ("For review: warning checks that failed", warning)):
        if members:
            parts.append(f"<h2>{heading}</h2>" + _check_table(facts, members, with_area=True))
    notes = "".join(f"<li>{_e(facts, note)}</li>" for note in facts.decision.notes)
    if notes:
        parts.append(f"<h2>Notes</h2><ul>{notes}</ul>")
    return f'<section id="golive-blocking">{"".join(parts)}</section>' if parts else ""


def _check_table(facts: ReportFacts, results: Sequence[CheckResult], with_area: bool = False) -> str:
    e = lambda value: _e(facts, value)  # noqa: E731
    head = ("<th>area</th>" if with_area else "") + "<th>check</th><th>severity</th><th>component</th>" \
        "<th>outcome</th><th>message</th>"
    rows = []
    for r in results:
        severity = f"<span class='critical'>{e(r.severity.value)}</span>" if r.severity is Severity.CRITICAL else (
            e(r.severity.value))
        message = e(r.message) + (f"<br><i>waived: {e(r.waiver)}</i>" if r.waiver else "") + "".join(
            f"<br><small>{e(name)}: {e(_fact_text(value))}</small>" for name, value in sorted(r.facts.items()))
        rows.append(
            f"<tr class='outcome-{e(r.outcome.value)}'>" + (f"<td>{e(r.category)}</td>" if with_area else "")
            + f"<td>{e(r.title)}<br><small><code>{e(r.id)}</code></small></td><td>{severity}</td>"
            f"<td>{e(r.component)}</td><td>{e(_OUTCOME_MARK[r.outcome.value])}</td><td>{message}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _fact_text(value: object) -> str:
    """What a check read (golive.facts), compactly: ``dialect spring; endpoints health http://...``."""
    if isinstance(value, dict):
        return "; ".join(f"{key} {_fact_text(item)}" for key, item in value.items() if item is not None)
    if isinstance(value, list | tuple):
        return ", ".join(_fact_text(item) for item in value)
    return str(value)


def details(facts: ReportFacts) -> str:
    """The checklist by area, attestations, waivers, skipped components, timeline and the sign-off block."""
    return (
        '<div class="golive">'
        + _latency(facts) + _checklist(facts) + _attestations(facts) + _waivers(facts) + _skipped(facts)
        + _timeline(facts) + _sign_off(facts) + "</div>"
    )


_PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _latency(facts: ReportFacts) -> str:
    """Horizontal bars of p50/p95/p99 for every distribution the gate measured, against the p95 threshold."""
    pictures = [p for p in facts.latencies if _number(p.get("p95_ms")) is not None]
    if not pictures:
        return ""
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
        bars = "".join(
            f'<div class="bar"><span class="pct">{key[:3]}</span><span class="fill" '
            f'style="width:{80 * value / scale:.1f}%"></span><span class="val">{value:.1f} ms</span></div>'
            for key in _PERCENTILES if (value := _number(picture.get(key))) is not None
        )
        rows.append(f"<tr><td>{_e(facts, picture.get('label'))}<br><small>{_e(facts, ' · '.join(filter(None, about)))}"
                    f"</small></td><td class='bars'>{bars}</td></tr>")
    threshold = (f"<p>p95 threshold: {facts.p95_threshold_ms:g} ms (thresholds.p95_ms); the bars share one scale "
                 f"up to {scale:.0f} ms.</p>" if facts.p95_threshold_ms else "")
    return f'<section id="golive-latency"><h2>Latency</h2>{threshold}<table>{"".join(rows)}</table></section>'


def _checklist(facts: ReportFacts) -> str:
    areas: dict[str, list[CheckResult]] = {}
    for result in facts.results:
        areas.setdefault(result.category or "other", []).append(result)
    body = "".join(f"<h3>{_e(facts, area)}</h3>{_check_table(facts, members)}" for area, members in areas.items())
    return f'<section id="golive-checklist"><h2>Checklist by area</h2>{body}</section>'


def _attestations(facts: ReportFacts) -> str:
    if facts.attestation_error:
        return (f'<section id="golive-attestations"><h2>Attestations</h2>'
                f"<p class='critical'>{_e(facts, facts.attestation_error)}</p></section>")
    mine = [a for a in facts.attestations if a.release == facts.release]
    if not mine:
        return '<section id="golive-attestations"><h2>Attestations</h2><p>none for this release</p></section>'
    rows = [[a.item, a.by, a.role, a.at, a.note] for a in sorted(mine, key=lambda a: a.at)]
    return _table_section(facts, "golive-attestations", "Attestations", ["item", "who", "role", "when (UTC)", "note"],
                          rows)


def _waivers(facts: ReportFacts) -> str:
    if not facts.waivers:
        return ""
    rows = [[w.check, w.reason, w.approved_by, w.expires, "in force" if w.expires >= facts.today else
             "expired: no effect"] for w in facts.waivers]
    return _table_section(facts, "golive-waivers", "Waivers", ["check", "reason", "approved by", "expires", "status"],
                          rows)


def _table_section(facts: ReportFacts, section_id: str, title: str, headers: Sequence[str],
                   rows: Sequence[Sequence[object]]) -> str:
    """A titled table; every cell escaped and masked."""
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(facts, cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<section id="{section_id}"><h2>{html.escape(title)}</h2><table><tr>{head}</tr>{body}</table></section>'


def _skipped(facts: ReportFacts) -> str:
    skipped = [r for r in facts.results if r.outcome is Outcome.SKIPPED and not r.unexplained_skip]
    if not skipped:
        return ""
    components = sorted({r.message for r in skipped})
    items = "".join(f"<li>{_e(facts, text)}</li>" for text in components)
    return (f'<section id="golive-skipped"><h2>Not part of this deployment (skipped)</h2>'
            f"<p>{len(skipped)} checks skipped because the configuration leaves their component out:</p>"
            f"<ul>{items}</ul></section>")


def _timeline(facts: ReportFacts) -> str:
    if not facts.timeline:
        return ""
    rows = [[e.event.at, e.elapsed.strip(), e.event.kind, e.event.message, e.event.source] for e in facts.timeline]
    return _table_section(facts, "golive-timeline", "Deployment timeline", ["UTC", "T", "kind", "what", "by"], rows)


def _sign_off(facts: ReportFacts) -> str:
    _, authority = GATE_TITLES.get(facts.gate, ("", "Deployment Lead"))
    roles = [authority, *(role for role in SIGN_OFF_ROLES if role != authority)]
    rows = "".join(
        f"<tr><td>{_e(facts, role)}{' (decides this gate)' if role == authority else ''}</td><td></td><td></td>"
        "<td></td></tr>"
        for role in roles
    )
    return (
        f'<section id="golive-sign-off"><h2>Sign-off</h2><p>Verdict '
        f"<b>{_e(facts, facts.decision.verdict.label)}</b> for release {_e(facts, facts.release)} on "
        f"{_e(facts, facts.environment)}.</p><table class='signature'><tr><th>role</th><th>name</th>"
        f"<th>signature</th><th>date</th></tr>{rows}</table></section>"
    )
