"""One source for golive's version, and every golive option in one group of `pytest --help`."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version

import golive
from tests.support import REPO


def test_version_has_one_source_the_package_metadata():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert version("golive") == declared == golive.__version__
    done = subprocess.run([sys.executable, "-m", "golive", "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, f"golive {declared}")


def test_pytest_help_groups_every_golive_option():
    done = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    sections = re.split(r"\n(?=\S[^\n]*:\n)", done.stdout)  # pytest prints "group title:" then its options
    golive_sections = [s for s in sections if s.startswith("golive go/no-go gates:")]
    assert len(golive_sections) == 1, [s.splitlines()[0] for s in sections]
    grouped = set(re.findall(r"--golive-[a-z-]+", golive_sections[0]))
    everywhere = set(re.findall(r"--golive-[a-z-]+", done.stdout))
    assert grouped == everywhere and "--golive-config" in grouped
