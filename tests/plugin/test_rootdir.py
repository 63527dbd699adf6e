"""Path options outside the project do not move pytest's rootdir (issue 11, item 3).

pytest picks its rootdir before golive's options are known, from the command line's existing paths: a
separate ``--golive-config /elsewhere/x.yaml`` (or ``--golive-json``/``--golive-reports`` at an existing path)
used to root the run at ``/elsewhere``, so no gate run was recognised and every check errored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.plugin.test_exit_codes import CHECKS, MINIMAL_CONFIG
from tests.support import REPO

CHECK = "validations/test_configuration.py::test_previous_release_is_set"  # reads only the configuration

FORMS = [
    pytest.param("joined", id="--opt=PATH"),
    pytest.param("separate", id="--opt PATH"),
    pytest.param("wrapper", id="golive gate 1 --opt PATH, one through PYTEST_ADDOPTS"),
]


@pytest.mark.parametrize("form", FORMS)
def test_path_options_outside_the_repository_keep_its_rootdir(tmp_path: Path, form: str) -> None:
    elsewhere = tmp_path / "elsewhere"  # outside the repository, with no ini file of its own
    (elsewhere / "reports").mkdir(parents=True)
    config = elsewhere / "x.yaml"
    config.write_text(MINIMAL_CONFIG)
    record_path = elsewhere / "record.json"
    record_path.write_text("{}")  # an existing path: a separate value of it is a directory argument to pytest
    options = {"--golive-config": config, "--golive-json": record_path, "--golive-reports": elsewhere / "reports"}
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    if form == "joined":
        args = [f"{option}={value}" for option, value in options.items()]
    else:
        args = [str(part) for option, value in options.items() for part in (option, value)]
    if form == "wrapper":
        # `golive gate` joins its own arguments; PYTEST_ADDOPTS reaches pytest as it is.
        reports = args.index("--golive-reports")
        environ["PYTEST_ADDOPTS"] = f"--golive-reports {args[reports + 1]}"
        del args[reports:reports + 2]
        command = [sys.executable, "-m", "golive", "gate", "1", *args, "-k", "test_previous_release_is_set"]
    else:
        command = [sys.executable, "-m", "pytest", "-m", "pre", *args, "-k", "test_previous_release_is_set"]

    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, env=environ)

    output = completed.stdout + completed.stderr
    assert f"rootdir: {REPO}\n" in completed.stdout, output
    assert "configfile: pyproject.toml" in completed.stdout, output  # its testpaths, markers and addopts
    assert "need a gate run" not in output
    record = json.loads(record_path.read_text())
    assert [(c["id"], c["outcome"]) for c in record["checks"]] == [(CHECK, "passed")], output
    assert record["partial"]["ran"] == 1 and completed.returncode == 1, output  # a subset: the partial REVIEW
    assert json.loads((elsewhere / "reports" / "latest-pre.json").read_text())["checks"] == record["checks"]


def test_a_pytest_whose_rootdir_cannot_be_put_back_stops_saying_what_to_type(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Where this pytest's internals are not the ones golive knows, the run stops: one line, exit 2."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("GOLIVE_CONFIG", raising=False)
    pytester.makeini("[pytest]\ntestpaths = validations\n")
    (pytester.path / "validations").mkdir()
    (pytester.path / "validations" / "test_checks.py").write_text(CHECKS)
    # Loaded with -p, before golive: a pytest whose rootdir determination golive cannot call.
    pytester.makepyfile(other_pytest=textwrap.dedent("""
        import _pytest.config.findpaths as findpaths

        def determine_setup(*args, **kwargs):
            raise TypeError("determine_setup() got an unexpected keyword argument 'inifile'")

        findpaths.determine_setup = determine_setup
    """))
    config = tmp_path / "x.yaml"
    config.write_text(MINIMAL_CONFIG)

    result = pytester.run(sys.executable, "-m", "pytest", "-p", "other_pytest", "-m", "pre",
                          "--golive-config", str(config), timeout=60)

    assert result.ret == 2
    lines = [line for line in result.outlines + result.errlines if "golive:" in line]
    assert len(lines) == 1, result.outlines + result.errlines
    assert f"write it with '=': --golive-config={config}" in lines[0]
    assert "Traceback" not in "\n".join(result.errlines)
