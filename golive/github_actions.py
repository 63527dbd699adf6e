"""GitHub Actions: with ``GITHUB_ACTIONS`` set, a decided gate run writes its summary to ``$GITHUB_STEP_SUMMARY``
(verdict banner, blocking checks, report path) and ``::error``/``::warning`` annotations for its failed critical
and warning checks. An implementation of golive's own ``pytest_golive_decision`` hook (golive.hooks).

Within GitHub's limits: a step summary takes at most 1 MiB, and a step shows about 10 annotations of each type,
so at most 10 of each are written and the summary says how many more failed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from golive.decision_record import DecisionRecord
from golive.verdict import Severity

SUMMARY_LIMIT_BYTES = 1024 * 1024
ANNOTATIONS_PER_TYPE = 10
_BANNER = {"GO": "✅ GO", "REVIEW": "⚠️ REVIEW", "NO-GO": "⛔ NO-GO"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def annotation_lines(record: DecisionRecord) -> list[str]:
    """``::error`` for failed or errored critical checks, ``::warning`` for warning ones, 10 of each at most."""
    lines: list[str] = []
    for severity, command in ((Severity.CRITICAL, "error"), (Severity.WARNING, "warning")):
        failed = [check for check in record.failed_checks if check.severity is severity]
        for check in failed[:ANNOTATIONS_PER_TYPE]:
            title = _property(f"golive {record.gate}: {check.id}")
            lines.append(f"::{command} title={title}::{_data(check.message or check.outcome.value)}")
    return lines


def summary(record: DecisionRecord) -> str:
    """The step summary in Markdown, cut to GitHub's 1 MiB. A record that contradicts itself (golive.acceptance's
    first rule) is shown as such, never under its own banner."""
    problem = record.inconsistency()
    verdict = record.verdict
    banner = f"REJECTED: {problem}" if problem else _BANNER.get(verdict, verdict)
    lines = [f"## golive gate {record.gate} on {record.environment}: {banner}",
             "", f"release {record.release}, exit {record.exit_code}, {record.duration_s} s", ""]
    lines += [f"- {reason}" for reason in record.reasons]
    if record.failed_checks:
        lines += ["", "| check | severity | component | outcome | message |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(c.id)} | {c.severity.value} | {c.component} | {c.outcome.value} | {_cell(c.message)} |"
                  for c in record.failed_checks]
    lines += ["", f"report: `{record.html_report}`"]
    text = "\n".join(lines) + "\n"
    data = text.encode("utf-8")
    if len(data) > SUMMARY_LIMIT_BYTES:
        note = "\n… cut to GitHub's 1 MiB step summary limit; the report has every check\n".encode()
        text = data[: SUMMARY_LIMIT_BYTES - len(note)].decode("utf-8", "ignore") + note.decode()
    return text


@pytest.hookimpl
def pytest_golive_decision(record: dict[str, Any], config: pytest.Config) -> None:
    if not os.environ.get("GITHUB_ACTIONS"):
        return
    decided = DecisionRecord.parse(record)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as stream:
            stream.write(summary(decided))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in annotation_lines(decided):
        if reporter is not None:
            reporter.write_line(line)
