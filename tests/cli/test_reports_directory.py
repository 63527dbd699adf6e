"""One reports directory (issue 22, item 4): ``--golive-reports``, else ``$GOLIVE_REPORTS``, else the ini's
``golive_reports``, else ``./reports``, in the plugin and in every command.

Real ``golive`` processes in a project in a temporary directory (a copy of validations/ and a pytest.ini): the
gate writes its record where the other commands read and write, and nothing lands in ``./reports``.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from golive import reports_dir
from golive.engines.hooks import load_context
from tests.support import REPO

TOKEN_VARIABLE = "GOLIVE_TEST_REPORTS_TOKEN"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A golive project that is not the repository: its own pytest.ini and validations/."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "validations", root / "validations")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = validations\n")
    return root


def _environ(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", reports_dir.VARIABLE}}
    return {**environ, **extra}


def golive(cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "golive", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=_environ(**extra))


def _config(directory: Path, extra: dict | None = None) -> Path:
    """Two environments on a closed port: the configuration gate decides from the file alone."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {"release": {"version": "2.1.0", "previous": "2.0.5"},
                "environments": {"blue": {"url": "http://127.0.0.1:9", "role": "candidate"},
                                 "green": {"url": "http://127.0.0.1:9", "role": "live"}}, **(extra or {})}
    path = directory / "golive.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _gate(cwd: Path, config: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    done = golive(cwd, "gate", "config", f"--golive-config={config}", "-p", "no:cacheprovider", *args, **extra)
    assert done.returncode in (0, 1, 2), done.stdout + done.stderr
    return done


def _records(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("config-blue-*.json") if path.suffixes == [".json"])


def _signing_keys(tmp_path: Path) -> dict:
    """``golive keys init`` outside the reports directory: the evidence section that signs and trusts it."""
    made = golive(tmp_path, "keys", "init", "--name", "ci", "--role", "Release Manager",
                  "--out", str(tmp_path / "keys"))
    assert made.returncode == 0, made.stderr
    trusted = yaml.safe_load(made.stdout.strip().splitlines()[-1].strip().removeprefix("- "))
    return {"key": str(tmp_path / "keys" / "ci.key"), "signer": {"name": "ci", "role": "Release Manager"},
            "trusted_keys": [trusted]}


def test_every_command_writes_and_reads_the_directory_of_golive_reports(tmp_path, project):
    reports = tmp_path / "elsewhere" / "reports"
    variable = {reports_dir.VARIABLE: str(reports)}
    config = _config(tmp_path / "config", {"attestations": str(reports / "attestations.jsonl"),
                                           "evidence": _signing_keys(tmp_path),
                                           "serve": {"token_env": TOKEN_VARIABLE}})

    gate = _gate(project, config, **variable)
    [record] = _records(reports)
    assert f"reports: {reports} (from ${reports_dir.VARIABLE})" in gate.stdout  # the header says where from
    assert f"record: {record}" in gate.stdout
    assert (reports / f"{record.name}.dsse.json").is_file() and (reports / "latest-config.json").is_file()

    event = golive(project, "timeline", "event", "the", "one", "directory", **variable)
    assert event.returncode == 0, event.stderr
    assert "the one directory" in (reports / "timeline.jsonl").read_text()

    signed = golive(project, "attest", "approval.release_manager", "--by", "Rita", "--role", "Release Manager",
                    f"--golive-config={config}", **variable)
    assert signed.returncode == 0, signed.stderr
    assert (reports / "attestations.jsonl.dsse.jsonl").is_file()

    history = golive(project, "history", **variable)
    assert history.returncode == 0, history.stderr
    assert history.stdout.startswith(f"{reports / 'index.html'}: 1 runs"), history.stdout

    verified = golive(project, "verify", f"--golive-config={config}", **variable)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert record.name in verified.stdout and "evidence verified" in verified.stdout

    refused = golive(project, "keys", "init", "--name", "x", "--role", "r", "--out", str(reports / "keys"), **variable)
    assert refused.returncode == 2 and f"inside the reports directory {reports}" in refused.stderr

    with _serving(project, config, **variable, **{TOKEN_VARIABLE: "t" * 32}):
        pass
    assert (reports / "serve").is_dir() and "serve: listening on" in (reports / "timeline.jsonl").read_text()

    assert not (project / "reports").exists(), sorted(os.listdir(project / "reports"))
    assert not (project / "validations" / "reports").exists()
    assert [path for path in tmp_path.rglob("reports") if path != reports] == []


def test_golive_reports_beats_the_variable_and_reports_stays_a_spelling_of_it(tmp_path, project):
    chosen, ignored = tmp_path / "chosen", tmp_path / "ignored"
    variable = {reports_dir.VARIABLE: str(ignored)}
    config = _config(tmp_path / "config")

    gate = _gate(project, config, f"--golive-reports={chosen}", **variable)
    assert len(_records(chosen)) == 1
    for spelling in ("--golive-reports", "--reports"):
        added = golive(project, "timeline", "event", f"by {spelling}", spelling, str(chosen), **variable)
        assert added.returncode == 0, added.stderr
    assert "by --golive-reports" in (chosen / "timeline.jsonl").read_text()
    assert "by --reports" in (chosen / "timeline.jsonl").read_text()
    history = golive(project, "history", "--golive-reports", str(chosen), **variable)
    assert history.stdout.startswith(f"{chosen / 'index.html'}: 1 runs"), history.stdout + history.stderr
    assert golive(project, "history", str(chosen), **variable).stdout.startswith(f"{chosen / 'index.html'}: 1 runs")
    both = golive(project, "history", str(ignored), "--golive-reports", str(chosen))
    assert both.returncode == 2 and both.stderr.count("\n") == 1 and "two reports directories" in both.stderr

    assert not ignored.exists() and not (project / "reports").exists()
    assert f"reports: {chosen} (from --golive-reports)" in gate.stdout


def test_the_ini_golive_reports_when_neither_option_nor_variable(tmp_path, project):
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = validations\ngolive_reports = from-ini\n")
    config = _config(tmp_path / "config")
    expected = project / "from-ini"

    gate = _gate(project, config)
    assert len(_records(expected)) == 1
    # From a folder below the project: the ini is found upward, as pytest finds it, and read from its folder.
    below = project / "validations"
    assert golive(below, "timeline", "event", "from below").returncode == 0
    assert "from below" in (expected / "timeline.jsonl").read_text()
    history = golive(below, "history")
    assert history.stdout.startswith(f"{expected / 'index.html'}: 1 runs"), history.stdout + history.stderr
    assert not (project / "reports").exists() and not (below / "reports").exists()
    assert f"reports: {expected} (from golive_reports in pytest.ini)" in gate.stdout


def test_a_hook_context_takes_the_same_directory(tmp_path, project, monkeypatch):
    """The Lambda handlers give load_context no --golive-reports: the variable, else the ini, decides."""
    config = _config(tmp_path / "config")
    monkeypatch.chdir(project)
    assert load_context(str(config), None, environ={reports_dir.VARIABLE: str(tmp_path / "v")}).reports == \
        (tmp_path / "v").resolve()
    (project / "pytest.ini").write_text("[pytest]\ngolive_reports = from-ini\n")
    assert load_context(str(config), None, environ={}).reports == (project / "from-ini").resolve()
    assert load_context(str(config), str(tmp_path / "o"), environ={reports_dir.VARIABLE: "v"}).reports == \
        (tmp_path / "o").resolve()


@pytest.mark.parametrize(("name", "text", "value"), [
    ("pytest.ini", "[pytest]\ngolive_reports = a\n", "a"),
    ("pytest.ini", "", None),  # pytest's own file even when empty: the search stops here
    ("pyproject.toml", "[tool.pytest.ini_options]\ngolive_reports = \"b\"\n", "b"),
    ("pyproject.toml", "[tool.pytest]\ngolive_reports = \"c\"\n", "c"),
    ("tox.ini", "[pytest]\ngolive_reports = d\n", "d"),
    ("setup.cfg", "[tool:pytest]\ngolive_reports = e\n", "e"),
])
def test_find_ini_as_pytest_finds_it(tmp_path, name, text, value):
    (tmp_path / "pytest.ini").write_text("[pytest]\ngolive_reports = outer\n")  # further up: not reached
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    (root / name).write_text(text)
    found = reports_dir.find_ini(root / "sub")
    assert (found.value, found.root, found.path) == (value, root, root / name)
    chosen = reports_dir.resolve(None, {}, root / "sub")
    assert chosen.path == root / (value or "reports")


def test_files_that_are_not_pytest_configuration_are_passed_over(tmp_path):
    (tmp_path / "tox.ini").write_text("[pytest]\ngolive_reports = found\n")
    root = tmp_path / "project"
    root.mkdir()
    (root / "tox.ini").write_text("[tox]\nenvlist = py311\n")
    (root / "setup.cfg").write_text("[metadata]\nname = x\n")
    (root / "pyproject.toml").write_text("[project]\nname = \"x\"\n")
    assert reports_dir.find_ini(root) == reports_dir.IniSetting("found", tmp_path, tmp_path / "tox.ini")
    (tmp_path / "tox.ini").unlink()
    # No pytest configuration anywhere: the first pyproject.toml is the root, as it is pytest's rootdir.
    assert reports_dir.resolve(None, {}, root) == reports_dir.ReportsDir(root / "reports", "default")
    assert reports_dir.resolve("x", {reports_dir.VARIABLE: "y"}, root).path == root / "x"
    assert reports_dir.resolve(None, {reports_dir.VARIABLE: "/abs/y"}, root).path == Path("/abs/y")


class _serving:
    """``golive serve`` until it says where it listens, then stopped (SIGTERM), with what it printed."""

    def __init__(self, cwd: Path, config: Path, **extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "golive", "serve", "--bind", "127.0.0.1:0", f"--golive-config={config}"],
            cwd=cwd, env=_environ(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> _serving:
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None
        threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
        try:
            first = lines.get(timeout=60)
        except queue.Empty:
            self.process.kill()
            raise AssertionError(f"golive serve did not start: {self.process.communicate(timeout=10)}") from None
        assert re.search(r"listening on http://127\.0\.0\.1:\d+", first), first
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

