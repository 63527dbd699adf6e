"""Run history: every decision record in a directory, and how each check behaved across the runs.

``golive history [DIR]`` writes ``DIR/index.html``: the runs over time with their verdicts, and per check its
pass rate and its flaps (changes between passing and failing from one run to the next), so a check that
flaps on the nightly staging runs is visible before deployment day.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from golive import inputs, templating
from golive.decision_record import DecisionRecord, RecordError
from golive.evidence import ENVELOPE_SUFFIX
from golive.masking import Masker

_GOOD = {"passed", "waived"}
_BAD = {"failed", "error"}
_COLOURS = {"GO": "#1a7f37", "REVIEW": "#9a6700", "NO-GO": "#cf222e"}


class HistoryError(Exception):
    """No usable decision record. One line."""


@dataclass(frozen=True)
class Run:
    path: Path
    record: DecisionRecord

    @property
    def started_at(self) -> str:
        return self.record.started_at


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
        if path.name.startswith(("latest-", "baseline")) or path.name.endswith(ENVELOPE_SUFFIX):
            continue  # copies, baselines, and the records' signed envelopes (golive.evidence)
        try:
            document = inputs.read_json(path, path.name)
        except inputs.InputError as error:
            skipped.append(f"{error}")
            continue
        try:
            record = DecisionRecord.parse(document, path.name)
        except RecordError:
            skipped.append(f"{path.name}: not a golive decision record")
            continue
        runs.append(Run(path, record))
    runs.sort(key=lambda run: (run.started_at, run.path.name))
    return runs, skipped


def check_histories(runs: Sequence[Run]) -> list[CheckHistory]:
    histories: dict[str, CheckHistory] = {}
    for run in runs:
        for check in run.record.checks:
            entry = histories.setdefault(check.id, CheckHistory(check.id))
            entry.title = check.title or entry.title
            entry.outcomes.append(check.outcome.value)
    return sorted(histories.values(), key=lambda h: (-h.flaps, h.pass_rate if h.pass_rate is not None else 2, h.id))


def render(runs: Sequence[Run], skipped: Sequence[str], histories: Sequence[CheckHistory],
           mask: Callable[[str], str] | None = None) -> str:
    """``index.html`` from ``templates/history.html``; ``mask`` defaults to a masker of credential shapes (the
    records were masked when written, but a record edited or written by hand may hold a URL's password)."""
    run_rows = []
    for run in reversed(runs):
        record = run.record
        verdict, report = record.verdict, record.html_report
        run_rows.append({
            "started_at": run.started_at, "gate": record.gate, "environment": record.environment,
            "release": record.release, "verdict": verdict, "colour": _COLOURS.get(verdict, "#57606a"),
            "counts": ", ".join(f"{n} {k}" for k, n in record.counts.items() if n),
            "record": run.path.name, "report": Path(report).name if report else None,
        })
    check_rows = [{
        "id": history.id, "title": history.title, "ran": history.ran, "of": len(history.outcomes),
        "flaps": history.flaps, "rate": "n/a" if history.pass_rate is None else f"{history.pass_rate:.0%}",
        "trail": " ".join("✔" if o in _GOOD else "✘" if o in _BAD else "·" for o in history.outcomes),
    } for history in histories]
    return templating.render(
        "history.html", mask or Masker(), runs=runs, oldest=runs[0].started_at if runs else "-",
        newest=runs[-1].started_at if runs else "-", run_rows=run_rows, check_rows=check_rows, skipped=skipped,
    )


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
