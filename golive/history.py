"""Run history: every decision record in a directory, and how each check behaved across the runs.

``golive history [DIR]`` writes ``DIR/index.html``: the runs over time with their verdicts, and per check its
pass rate and its flaps (changes between passing and failing from one run to the next), so a check that
flaps on the nightly staging runs is visible before deployment day.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_GOOD = {"passed", "waived"}
_BAD = {"failed", "error"}
_COLOURS = {"GO": "#1a7f37", "REVIEW": "#9a6700", "NO-GO": "#cf222e"}


class HistoryError(Exception):
    """No usable decision record. One line."""


@dataclass(frozen=True)
class Run:
    path: Path
    record: dict[str, Any]

    @property
    def started_at(self) -> str:
        return str(self.record.get("started_at", ""))


@dataclass
class CheckHistory:
    id: str
    title: str = ""
    outcomes: list[str] = field(default_factory=list)  # in time order

    @property
    def ran(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome in _GOOD | _BAD)

    @property
    def pass_rate(self) -> float | None:
        return sum(1 for o in self.outcomes if o in _GOOD) / self.ran if self.ran else None

    @property
    def flaps(self) -> int:
        decided = [o in _GOOD for o in self.outcomes if o in _GOOD | _BAD]
        return sum(1 for before, after in itertools.pairwise(decided) if before != after)


def load_runs(directory: Path) -> tuple[list[Run], list[str]]:
    """Decision records in time order, and a note for each file that is not one (never silently dropped)."""
    runs: list[Run] = []
    skipped: list[str] = []
    for path in sorted(directory.glob("*.json")):
        if path.name.startswith("latest-") or path.name.startswith("baseline"):
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            skipped.append(f"{path.name}: not valid JSON")
            continue
        if not isinstance(document, dict) or not {"gate", "verdict", "checks", "started_at"} <= set(document):
            skipped.append(f"{path.name}: not a golive decision record")
            continue
        runs.append(Run(path, document))
    runs.sort(key=lambda run: (run.started_at, run.path.name))
    return runs, skipped


def check_histories(runs: Sequence[Run]) -> list[CheckHistory]:
    histories: dict[str, CheckHistory] = {}
    for run in runs:
        for check in run.record.get("checks", []):
            entry = histories.setdefault(str(check.get("id")), CheckHistory(str(check.get("id"))))
            entry.title = str(check.get("title") or entry.title)
            entry.outcomes.append(str(check.get("outcome")))
    return sorted(histories.values(), key=lambda h: (-h.flaps, h.pass_rate if h.pass_rate is not None else 2, h.id))


def render(runs: Sequence[Run], skipped: Sequence[str], histories: Sequence[CheckHistory]) -> str:
    e = html.escape
    rows = []
    for run in reversed(runs):
        record = run.record
        verdict = str(record.get("verdict"))
        counts = record.get("counts", {})
        report = record.get("html_report")
        link = f'<a href="{e(Path(str(report)).name)}">report</a>' if report else ""
        rows.append(
            f"<tr><td>{e(run.started_at)}</td><td>{e(str(record.get('gate')))}</td>"
            f"<td>{e(str(record.get('environment')))}</td><td>{e(str(record.get('release')))}</td>"
            f'<td style="color:#fff;background:{_COLOURS.get(verdict, "#57606a")}">{e(verdict)}</td>'
            f"<td>{e(', '.join(f'{n} {k}' for k, n in counts.items() if n))}</td>"
            f'<td><a href="{e(run.path.name)}">record</a> {link}</td></tr>'
        )
    checks = []
    for history in histories:
        rate = "n/a" if history.pass_rate is None else f"{history.pass_rate:.0%}"
        trail = " ".join("✔" if o in _GOOD else "✘" if o in _BAD else "·" for o in history.outcomes)
        flap_style = ' style="background:#fff8c5"' if history.flaps else ""
        checks.append(
            f"<tr{flap_style}><td><code>{e(history.id)}</code><br>{e(history.title)}</td><td>{e(rate)}</td>"
            f"<td>{history.ran}/{len(history.outcomes)}</td><td>{history.flaps}</td><td>{e(trail)}</td></tr>"
        )
    notes = "".join(f"<li>{e(note)}</li>" for note in skipped)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>golive history</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
td, th {{ border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f6f8fa; }}
</style></head><body>
<h1>golive history</h1>
<p>{len(runs)} decision records, oldest {e(runs[0].started_at if runs else "-")},
newest {e(runs[-1].started_at if runs else "-")}.</p>
<h2>Runs</h2>
<table><tr><th>started (UTC)</th><th>gate</th><th>environment</th><th>release</th><th>verdict</th>
<th>checks</th><th>files</th></tr>
{"".join(rows)}</table>
<h2>Checks: pass rate and flaps</h2>
<p>Pass rate counts runs in which the check ran (passed or waived against failed or errored); a flap is a
change between passing and failing from one run to the next. Flapping checks come first.</p>
<table><tr><th>check</th><th>pass rate</th><th>ran</th><th>flaps</th><th>outcomes, oldest first</th></tr>
{"".join(checks)}</table>
{f"<h2>Files that are not decision records</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""


def build(directory: Path) -> tuple[Path, list[Run], list[CheckHistory]]:
    if not directory.is_dir():
        raise HistoryError(f"{directory}: no such directory")
    runs, skipped = load_runs(directory)
    if not runs:
        raise HistoryError(f"{directory}: no decision records (*.json written by gate runs)")
    histories = check_histories(runs)
    index = directory / "index.html"
    index.write_text(render(runs, skipped, histories), encoding="utf-8")
    return index, runs, histories
