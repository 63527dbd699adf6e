"""Unbounded input (issue 22): 200,000 nested ``[``, a record symlinked to ``/dev/zero``, a FIFO, a file too large:
one line and exit 2 on every command that reads JSON from outside, never a RecursionError traceback and never a
read without end. Each command is a real ``golive`` process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from golive import inputs
from tests.support import REPO
from tests.support.gates import minimal_config

DEEP = "[" * 200_000
ENGINES = {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", "GOLIVE_REPORTS", "GITHUB_TOKEN"}


def golive(*args: str, cwd: Path = REPO, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ENGINES and not k.startswith("AWS_")}
    environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL_CODEDEPLOY="http://127.0.0.1:9", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "golive", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=60, env=environ)


def one_line(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code and len(lines) == 1, (done.returncode, done.stderr)
    return lines[0]


@pytest.fixture
def hostile(tmp_path) -> dict[str, Path]:
    """A deep file, a symlink to /dev/zero beside it, a FIFO, and a file one byte over the cap."""
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    large = tmp_path / "large.json"
    large.write_bytes(b" " * (inputs.MAX_BYTES + 1))
    return {"deep": deep, "zero": zero, "fifo": fifo, "large": large}


@pytest.mark.parametrize("kind", ["deep", "zero", "fifo", "large"])
def test_protection_rule_record(tmp_path, hostile, kind):
    config = minimal_config(tmp_path / "golive.yaml")
    done = golive("protection-rule", f"--golive-config={config}", "--record", str(hostile[kind]),
                  "--environment", "production")
    line = one_line(done)
    assert "cannot be read" in line


def test_protection_rule_webhook(tmp_path, hostile):
    config = minimal_config(tmp_path / "golive.yaml")
    record = tmp_path / "r.json"
    record.write_text("{}")
    for where, stdin in (("-", DEEP), (str(hostile["zero"]), None), (str(hostile["deep"]), None)):
        done = golive("protection-rule", f"--golive-config={config}", "--record", str(record), "--webhook", where,
                      stdin=stdin)
        assert "--webhook" in one_line(done)


@pytest.mark.parametrize("engine", ["codedeploy", "ecs"])
def test_hook_events(tmp_path, hostile, engine):
    config = minimal_config(tmp_path / "golive.yaml")
    for where, stdin in (("-", DEEP), (str(hostile["deep"]), None), (str(hostile["zero"]), None),
                         (str(hostile["fifo"]), None)):
        done = golive("hook", engine, "--event", where, f"--golive-config={config}", stdin=stdin)
        assert "--event" in one_line(done)


def test_verify_a_deep_record_and_a_record_on_dev_zero(tmp_path):
    """Records and envelopes in the reports directory are outside input to ``golive verify`` too."""
    project = tmp_path / "project"
    made = golive("keys", "init", "--name", "ada", "--role", "Release Manager", "--out", str(tmp_path / "keys"))
    assert made.returncode == 0, made.stderr
    project.mkdir()
    config = minimal_config(project / "golive.yaml", {
        "evidence": {"trusted_keys": [{"name": "ada", "role": "Release Manager",
                                       "public_key": str(tmp_path / "keys" / "ada.pub")}]}})
    reports = project / "reports"
    reports.mkdir()
    (reports / "pre-blue-20261207T000000Z.json.dsse.json").write_text(DEEP)
    done = golive("verify", str(reports), f"--golive-config={config}", cwd=project)
    assert "nested deeper" in one_line(done)
    (reports / "pre-blue-20261207T000000Z.json.dsse.json").unlink()
    (reports / "pre-blue-20261207T000000Z.json").symlink_to("/dev/zero")
    done = golive("verify", str(reports), f"--golive-config={config}", cwd=project)
    assert "pre-blue-20261207T000000Z.json: a symlink that leaves its directory" in one_line(done)


def test_attestations_and_timeline_files(tmp_path, hostile):
    config = minimal_config(tmp_path / "golive.yaml", {"attestations": str(hostile["deep"])})
    assert "deep.json" in one_line(golive("checklist", f"--golive-config={config}", "--validations",
                                          str(REPO / "validations")))
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "timeline.jsonl").symlink_to("/dev/zero")
    done = golive("timeline", "report", "--reports", str(reports))
    assert "timeline.jsonl" in one_line(done)


def test_the_reader_itself():
    with pytest.raises(inputs.InputError, match="nested deeper than 64 levels"):
        inputs.parse_json(DEEP, "x")
    inside_a_string = '{"a": "' + "[" * 100 + '"}'
    assert inputs.parse_json(inside_a_string, "x") == {"a": "[" * 100}  # brackets in a string do not count
    assert inputs.depth(b'[{"a": [1, {"b": "]]]"}]}]') == 4
    with pytest.raises(inputs.InputError, match="not JSON"):
        inputs.parse_json(b"{", "x")
