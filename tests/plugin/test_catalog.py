"""The check catalog, read from the code, and docs/CHECKS.md generated from it."""

from __future__ import annotations

import os
import subprocess
import sys

from golive import catalog
from golive.marker_rules import COMPONENTS
from golive.markers import gate_markers
from tests.support import REPO


def golive_checks(*args: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    completed = subprocess.run([sys.executable, "-m", "golive", "checks", *args], cwd=REPO, capture_output=True,
                               text=True, timeout=120, env=environ)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_docs_checks_md_is_the_generated_catalog():
    expected = golive_checks("--markdown")
    assert (REPO / "docs" / "CHECKS.md").read_text() == expected, (
        "docs/CHECKS.md is out of date: run `golive checks --markdown > docs/CHECKS.md`"
    )


def test_every_check_has_a_gate_an_area_a_severity_and_a_component(monkeypatch):
    monkeypatch.chdir(REPO)
    entries = catalog.collect()
    assert entries
    for entry in entries:
        assert entry.gates and set(entry.gates) <= set(gate_markers()), entry.id
        assert entry.area and entry.title, entry.id
        assert entry.severity in {"critical", "warning"}, entry.id
        assert entry.component in COMPONENTS, entry.id
    text = golive_checks()
    assert all(entry.id in text for entry in entries)
    assert text.rstrip().endswith(f"{len(entries)} checks")


def test_catalog_of_a_broken_suite_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "validations").mkdir()
    (tmp_path / "validations" / "test_x.py").write_text("def test_no_gate():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = validations\n")
    environ = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    completed = subprocess.run([sys.executable, "-m", "golive", "checks"], cwd=tmp_path, capture_output=True,
                               text=True, timeout=120, env=environ)
    assert completed.returncode == 2
    assert "has no gate marker" in completed.stderr
