"""golive.gate_process.run_gate, the one gate runner (issue 22, item 3): a run stopped by its caller is a NO-GO
with no process left behind, its output in the log it was given; a record that is not this run's decides
nothing. Real child pytest runs of a small project in a temporary directory."""

from __future__ import annotations

import json
import os
import textwrap
import threading
import time
from pathlib import Path

import pytest

from golive import gate_process

CHECKS = """\
import os
import pathlib
import time

import pytest

pytestmark = pytest.mark.pre


@pytest.mark.critical
def test_waits_a_long_time():
    pathlib.Path("pid").write_text(str(os.getpid()))
    time.sleep(120)


def test_ends_the_interpreter():
    if os.environ.get("GOLIVE_TEST_EXIT"):
        print("leaving without a word", flush=True)
        os._exit(0)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = validations\n")
    (tmp_path / "golive.yaml").write_text(textwrap.dedent("""\
        release: {version: "2.1.0", previous: "2.0.5"}
        environments:
          blue: {url: "http://127.0.0.1:9", role: candidate}
          green: {url: "http://127.0.0.1:9", role: live}
        """))
    (tmp_path / "validations").mkdir()
    (tmp_path / "validations" / "test_checks.py").write_text(CHECKS)
    return tmp_path


def _environ(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", "GOLIVE_REPORTS"}},
            **extra}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_run_stopped_by_its_caller_is_no_go_and_leaves_no_process(project):
    stopping = threading.Event()
    log = project / "run.log"

    def stop_once_it_waits() -> None:
        deadline = time.monotonic() + 60
        while not (project / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        stopping.set()

    threading.Thread(target=stop_once_it_waits, daemon=True).start()
    result = gate_process.run_gate("1", ["-p", "no:cacheprovider", "-k", "waits"], stopping=stopping, log=log,
                                   environ=_environ())
    assert (result.status, result.verdict, result.exit_code) == (2, "NO-GO", 2)
    assert result.reasons[0] == "the gate run was stopped while it ran: golive is shutting down"
    # pytest was given SIGTERM first: its own NO-GO record, this run's, says it was interrupted.
    assert result.record is not None and result.record.verdict == "NO-GO", result.reasons
    assert any("interrupted" in reason for reason in result.record.reasons), result.record.reasons
    assert "test_checks.py" in log.read_text()  # the run's output went to the log, not to the terminal
    assert not _alive(int((project / "pid").read_text()))


def test_a_record_left_by_another_run_decides_nothing(project):
    """A check ends pytest with status 0 before it writes a record; a GO record of an earlier run lies at the
    --golive-json path: the run is a NO-GO, saying the record is not its own and quoting its last output."""
    earlier = project / "record.json"
    first = gate_process.run_gate("1", ["-p", "no:cacheprovider", "-k", "ends", f"--golive-json={earlier}"],
                                  environ=_environ())
    assert first.verdict == "REVIEW" and first.record is not None  # a subset of Gate 1, passed: at most REVIEW
    document = json.loads(earlier.read_text())
    earlier.write_text(json.dumps({**document, "verdict": "GO", "exit_code": 0, "partial": None, "reasons": []}))

    result = gate_process.run_gate("1", ["-p", "no:cacheprovider", "-s", "-k", "ends", f"--golive-json={earlier}"],
                                   log=project / "run.log", environ=_environ(GOLIVE_TEST_EXIT="1"))
    assert (result.status, result.verdict, result.record) == (2, "NO-GO", None)
    assert result.reasons[0] == "the gate run ended with exit 0 without a matching decision record: NO-GO"
    assert result.reasons[1] == f"decision record record.json: not this run's (its run_id is {document['run_id']!r})"
    assert "leaving without a word" in result.reasons[2]
