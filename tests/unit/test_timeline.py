"""The deployment timeline: shared by every process of a deployment, gate verdicts included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive.timeline import Timeline, TimelineError, with_elapsed


def golive(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", "GOLIVE_REPORTS"}}
    return subprocess.run([sys.executable, "-m", "golive", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=environ)


def test_elapsed_counts_from_the_start_event(tmp_path):
    book = Timeline.in_reports(tmp_path)
    t0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    book.add("init", "prepared", now=t0 - timedelta(minutes=5))
    book.add("start", "T+0", now=t0)
    book.add("phase", "blue deployed", now=t0 + timedelta(minutes=12, seconds=3))
    assert [entry.elapsed for entry in book.entries()] == ["T-05:00", "T+00:00", "T+12:03"]
    assert with_elapsed([])  == []


def test_init_keeps_the_previous_timeline(tmp_path):
    book = Timeline.in_reports(tmp_path)
    book.add("event", "old deployment", now=datetime(2026, 11, 1, 8, 0, tzinfo=UTC))
    book.init("new deployment")
    assert [e.message for e in book.read()] == ["new deployment"]
    assert [e.message for e in Timeline(tmp_path / "timeline-20261101T080000Z.jsonl").read()] == ["old deployment"]


def test_malformed_timeline_is_an_error(tmp_path):
    (tmp_path / "timeline.jsonl").write_text('{"at": "x"}\n')
    with pytest.raises(TimelineError, match="line 1: not a timeline event"):
        Timeline.in_reports(tmp_path).read()
    result = golive("timeline", "report", "--reports", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "line 1: not a timeline event" in result.stderr


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(TimelineError, match="unknown event kind 'rollback'"):
        Timeline.in_reports(tmp_path).add("rollback", "x")


def test_events_from_separate_processes_and_gate_runs_appear_in_order(tmp_path):
    project = tmp_path / "project"
    (project / "validations").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = validations\n")
    (project / "golive.yaml").write_text(
        'release: {version: "2.1.0"}\nenvironments: {blue: {url: "http://127.0.0.1:9", role: candidate}}\n'
    )
    (project / "validations" / "test_x.py").write_text(textwrap.dedent(
        """
        import pytest

        @pytest.mark.pre
        def test_ok():
            pass

        @pytest.mark.immediate
        def test_warning_fails():
            assert False, "p95 250 ms"
        """
    ))
    assert golive("timeline", "init", "release", "2.1.0", cwd=project).returncode == 0
    assert golive("timeline", "start", cwd=project).returncode == 0
    # Three processes at once, then two gate runs.
    writers = [
        subprocess.Popen([sys.executable, "-m", "golive", "timeline", "event", f"writer {n}"], cwd=project,
                         env={k: v for k, v in os.environ.items() if k != "GOLIVE_REPORTS"})
        for n in range(3)
    ]
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0, 0]
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    for marker, code in (("pre", 0), ("immediate", 1)):
        completed = subprocess.run([sys.executable, "-m", "pytest", "-m", marker, "-p", "no:cacheprovider"],
                                   cwd=project, capture_output=True, text=True, timeout=120, env=environ)
        assert completed.returncode == code
    assert golive("timeline", "complete", cwd=project).returncode == 0

    events = Timeline.in_reports(project / "reports").read()
    kinds = [event.kind for event in events]
    assert kinds == ["init", "start", "event", "event", "event", "gate", "gate", "complete"]
    assert sorted(e.message for e in events if e.kind == "event") == ["writer 0", "writer 1", "writer 2"]
    assert len({e.pid for e in events if e.kind == "event"}) == 3
    gates = [e.message for e in events if e.kind == "gate"]
    assert gates[0].startswith("gate pre on blue: GO (exit 0)")
    assert gates[1].startswith("gate immediate on blue: REVIEW (exit 1)")

    # The second gate's report shows the timeline up to and including its own verdict.
    html = Path(json.loads((project / "reports" / "latest-immediate.json").read_text())["html_report"]).read_text()
    section = html[html.index('id="golive-timeline"'):]
    positions = [section.index(text) for text in ("release 2.1.0", "deployment started (T+0)", "gate pre on blue: GO",
                                                  "gate immediate on blue: REVIEW")]
    assert positions == sorted(positions)
    assert all(f"writer {n}" in section for n in range(3))

    report = golive("timeline", "report", cwd=project)
    assert report.returncode == 0
    lines = [line for line in report.stdout.splitlines() if "T+" in line or "T-" in line]
    assert [line.split()[2] for line in lines] == kinds
