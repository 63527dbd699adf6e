"""`golive gate N --review-exit-code K`: a REVIEW exits K (for engines that read 0/non-0); GO and NO-GO keep
their codes, and the record still says REVIEW, exit 1 (issue 15, item 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golive.review_exit import exit_status, split
from tests.support import REPO
from tests.support.gates import minimal_config

PASSING = "validations/test_application.py::test_version_is_semantic_and_newer"  # passes on any host


def _gate(tmp_path: Path, *args: str) -> tuple[int, str, dict | None]:
    config = minimal_config(tmp_path / "golive.yaml")
    record = tmp_path / f"record-{len(list(tmp_path.glob('record-*')))}.json"
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    completed = subprocess.run(
        [sys.executable, "-m", "golive", "gate", *args, f"--golive-config={config}",
         f"--golive-reports={tmp_path / 'reports'}", f"--golive-json={record}", "-q", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=environ,
    )
    document = json.loads(record.read_text()) if record.exists() else None
    return completed.returncode, completed.stderr, document


def test_a_review_exits_k_and_its_record_says_review(tmp_path):
    # One check of Gate 1 that passes: a subset is never the gate's GO, it is a REVIEW.
    code, _, record = _gate(tmp_path, "1", PASSING)
    assert code == 1 and record and record["verdict"] == "REVIEW"
    code, _, record = _gate(tmp_path, "1", PASSING, "--review-exit-code", "0")
    assert code == 0 and record and (record["verdict"], record["exit_code"]) == ("REVIEW", 1)
    code, _, _ = _gate(tmp_path, "1", "--review-exit-code=7", PASSING)
    assert code == 7


def test_a_no_go_keeps_its_code(tmp_path):
    code, _, record = _gate(tmp_path, "--review-exit-code", "0", "2")  # blue on a closed port: NO-GO
    assert code == 2 and record and record["verdict"] == "NO-GO"


@pytest.mark.parametrize("value", ["x", "256", "-1", ""])
def test_a_bad_value_is_one_line_exit_2(tmp_path, value):
    code, stderr, record = _gate(tmp_path, "2", f"--review-exit-code={value}")
    assert code == 2 and record is None
    assert stderr == f"golive gate: --review-exit-code {value!r}: expected a number from 0 to 255\n"


def test_exit_status_maps_only_a_recorded_review():
    assert split(["-n", "2", "--review-exit-code", "3", "-q"]) == (3, ["-n", "2", "-q"])
    assert exit_status(1, "REVIEW", 0) == 0
    assert exit_status(1, None, 0) == 1  # no record (a listing, a usage error): nothing to map
    assert exit_status(2, "NO-GO", 0) == 2
    assert exit_status(0, "GO", 5) == 0
