"""The human checklist items are data beside the validations of their area (validations/<area>.checklist.yaml)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from golive import catalog, human_items
from golive.config import ConfigError
from tests.support import REPO

VALIDATIONS = REPO / "validations"


def test_each_checklist_file_sits_beside_the_module_that_checks_it():
    files = {path.name.removesuffix(human_items.SUFFIX) for path in VALIDATIONS.glob(f"*{human_items.SUFFIX}")}
    callers = {
        human_items.area_of(path) for path in VALIDATIONS.glob("test_*.py")
        if "attestation_params(__file__)" in path.read_text(encoding="utf-8")
    }
    assert files and files == callers


def test_every_item_is_checked_once_by_its_area(monkeypatch):
    items = human_items.load_all(VALIDATIONS)
    monkeypatch.chdir(REPO)
    checked = {re.sub(r".*\[(.*)\]$", r"\1", entry.id): entry for entry in catalog.collect()
               if entry.component == "attestation"}
    assert sorted(checked) == sorted(item.id for item in items)
    for item in items:
        entry = checked[item.id]
        assert entry.id.startswith(f"validations/test_{item.area}.py::")
        assert entry.severity == ("critical" if item.critical else "warning")


def write(tmp_path: Path, area: str, text: str) -> Path:
    path = tmp_path / f"{area}{human_items.SUFFIX}"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a list of items"),
        ("id: team.x\n", "expected a list of items"),
        ("- id: team.x\n  title: X\n  role: [DBA]\n", r"\[0\].role: unknown key"),
        ("- id: team.x\n  title: X\n  roles: []\n", r"\[0\].roles"),
        ("- id: team.x\n  title: X\n  roles: [DBA]\n  critical: yes please\n", r"\[0\].critical"),
        ("- id: Team X\n  title: X\n  roles: [DBA]\n", r"\[0\].id"),
        ("- id: team.x\n  title: X\n  roles: [DBA]\n- id: team.x\n  title: Y\n  roles: [DBA]\n", "declared twice"),
        ("- id: team.x\n  title: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_malformed_area_file_is_one_line_naming_the_file_and_item(tmp_path, text, message):
    path = write(tmp_path, "team", text)
    with pytest.raises(ConfigError, match=message) as raised:
        human_items.load_area(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_an_id_in_two_areas_and_a_missing_area_file_are_errors(tmp_path):
    write(tmp_path, "team", "- id: shared.item\n  title: X\n  roles: [DBA]\n")
    write(tmp_path, "database", "- id: shared.item\n  title: Y\n  roles: [DBA]\n")
    with pytest.raises(ConfigError, match=r"'shared\.item' is declared twice"):
        human_items.load_all(tmp_path)
    with pytest.raises(ConfigError, match="items of area 'runbooks' are missing"):
        human_items.for_module(tmp_path / "test_runbooks.py")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no human checklist items"):
        human_items.load_all(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no validations directory"):
        human_items.load_all(tmp_path / "team.checklist.yaml")


def test_an_edit_to_the_data_is_what_golive_checklist_lists(tmp_path):
    write(tmp_path, "team", "- id: team.pizza_ordered\n  title: Pizza ordered for the night shift\n"
                            "  roles: [Deployment Lead]\n  critical: true\n")
    config = tmp_path / "golive.yaml"
    config.write_text('release: {version: "2.1.0", previous: "2.0.9"}\n'
                      "environments:\n  blue: {role: candidate, url: http://127.0.0.1:9}\n"
                      f"attestations: {{file: {tmp_path / 'a.jsonl'}}}\n")
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}

    def golive(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "golive", *args, "--golive-config", str(config)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60, env=environ)

    missing = golive("checklist")  # no ./validations here
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "no validations directory" in missing.stderr
    listed = golive("checklist", "--validations", str(tmp_path))
    assert listed.returncode == 1, listed.stderr
    assert "[open  ] team.pizza_ordered (critical): Pizza ordered for the night shift" in listed.stdout
    assert "1 of 1 human items open" in listed.stdout
    signed = golive("attest", "team.pizza_ordered", "--by", "Ada", "--role", "deployment lead",
                    "--validations", str(tmp_path))
    assert signed.returncode == 0, signed.stderr
    assert golive("checklist", "--validations", str(tmp_path)).returncode == 0
