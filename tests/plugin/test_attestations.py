"""Human checklist items: signing them, reading them back, and the gate that depends on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from golive import attestations as book
from golive import human_items
from tests.support import REPO

ITEMS = human_items.load_all(REPO / "validations")

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
APPROVAL = human_items.by_id(ITEMS)["approval.release_manager"]
APPROVALS = [item for item in ITEMS if item.area == "approvals"]


def test_every_item_is_well_formed():
    ids = [item.id for item in ITEMS]
    assert len(ids) == len(set(ids))
    assert all(item.roles and item.title and item.area for item in ITEMS)
    approvals = {item.id for item in APPROVALS if item.critical}
    assert {"approval.release_manager", "approval.technical_lead", "approval.product_manager",
            "approval.security_lead", "approval.operations_manager"} <= approvals


def test_record_then_read_back(tmp_path):
    path = tmp_path / "reports" / "attestations.jsonl"
    signed = book.record(path, APPROVAL.id, "Ada Lovelace", "release manager", "2.1.0", "checked the report", NOW,
                         items=ITEMS)
    assert (signed.by, signed.role, signed.release, signed.at) == (
        "Ada Lovelace", "release manager", "2.1.0", "2026-11-27T12:00:00+00:00"
    )
    assert signed.user and signed.host
    assert book.read(path) == [signed]
    assert book.standing(APPROVAL, [signed], "2.1.0", 24, NOW + timedelta(hours=1)).valid == signed


@pytest.mark.parametrize(
    ("item", "role", "message"),
    [
        ("approval.nobody", "Release Manager", "unknown checklist item 'approval.nobody'"),
        ("approval.release_manager", "Intern", "role 'Intern' may not sign it (allowed: Release Manager)"),
    ],
)
def test_refuses_unknown_items_and_wrong_roles(tmp_path, item, role, message):
    with pytest.raises(book.AttestationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        book.record(tmp_path / "a.jsonl", item, "Ada", role, "2.1.0", items=ITEMS)
    assert not (tmp_path / "a.jsonl").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not a JSON object"),
        ('{"item": "x"}\n', "line 1: expected the keys"),
        ('{"item": "x", "by": "a", "role": "r", "at": "yesterday", "release": "1", "user": "u", "host": "h"}\n',
         "line 1: at: not an ISO-8601 time"),
        ('{"item": "x", "by": "a", "role": "r", "at": "2026-01-01T00:00:00", "release": "1", "user": "u", '
         '"host": "h"}\n', "line 1: at: has no time zone"),
        ('{"item": "x", "by": 1, "role": "r", "at": "2026-01-01T00:00:00+00:00", "release": "1", "user": "u", '
         '"host": "h"}\n', "line 1: every value must be a string"),
    ],
)
def test_malformed_file_is_an_error_never_an_empty_book(tmp_path, content, message):
    path = tmp_path / "a.jsonl"
    path.write_text(content)
    with pytest.raises(book.AttestationError, match=message):
        book.read(path)
    with pytest.raises(book.AttestationError):  # and nothing is appended to it
        book.record(path, APPROVAL.id, "Ada", "Release Manager", "2.1.0", items=ITEMS)
    assert path.read_text() == content


def attestation(**changes: str) -> book.Attestation:
    values = {"item": APPROVAL.id, "by": "Ada", "role": "Release Manager", "at": NOW.isoformat(),
              "release": "2.1.0", "user": "ada", "host": "h"}
    return book.Attestation(**{**values, **changes})


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([], "not attested (to be signed by: Release Manager)"),
        ([attestation(release="2.0.5")], "attested only for other releases, not 2.1.0"),
        ([attestation(role="Product Manager")], "attested by Ada as Product Manager, who may not sign it"),
        ([attestation(at=(NOW - timedelta(hours=30)).isoformat())], "attested by Ada 30 h ago; older than 24 h"),
        ([attestation(at=(NOW + timedelta(hours=2)).isoformat())], "with a time in the future"),
    ],
)
def test_only_a_recent_signature_of_this_release_by_an_allowed_role_counts(records, reason):
    status = book.standing(APPROVAL, records, "2.1.0", 24, NOW)
    assert status.valid is None
    assert reason in status.reason


def test_newest_valid_signature_wins():
    old = attestation(at=(NOW - timedelta(hours=30)).isoformat())
    fresh = attestation(at=(NOW - timedelta(hours=1)).isoformat(), by="Grace")
    assert book.standing(APPROVAL, [old, fresh], "2.1.0", 24, NOW).valid == fresh


CONFIG = """\
release: {{version: "2.1.0", previous: "2.0.5"}}
environments:
  blue: {{url: "http://127.0.0.1:9", role: candidate}}
  green: {{url: "http://127.0.0.1:9", role: live}}
attestations: {{file: "{file}", max_age_h: 24}}
"""


def golive(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    environ[human_items.VALIDATIONS_ENV_VAR] = str(REPO / "validations")
    return subprocess.run([sys.executable, "-m", "golive", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=environ)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "golive.yaml"
    path.write_text(CONFIG.format(file="signed/attestations.jsonl"))
    return path


def test_golive_attest_and_checklist(tmp_path, config):
    before = golive("checklist", "--golive-config", str(config), cwd=tmp_path)
    assert before.returncode == 1
    assert f"{len(ITEMS)} of {len(ITEMS)} human items open for release 2.1.0" in before.stdout
    assert "[open  ] approval.release_manager (critical)" in before.stdout

    signed = golive("attest", "approval.release_manager", "--by", "Ada Lovelace", "--role", "Release Manager",
                    "--note", "report read", "--golive-config", str(config), cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    assert "approval.release_manager: signed by Ada Lovelace (Release Manager)" in signed.stdout
    record = json.loads((tmp_path / "signed" / "attestations.jsonl").read_text())
    assert (record["item"], record["release"], record["note"]) == ("approval.release_manager", "2.1.0", "report read")

    after = golive("checklist", "--golive-config", str(config), cwd=tmp_path)
    assert "approval.release_manager" not in after.stdout
    assert f"{len(ITEMS) - 1} of {len(ITEMS)} human items open" in after.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["attest", "approval.nobody", "--by", "A", "--role", "Release Manager"], "unknown checklist item"),
        (["attest", "approval.release_manager", "--by", "A", "--role", "DBA"], "may not sign it"),
        (["attest", "approval.release_manager", "--role", "Release Manager"], "the following arguments are required"),
    ],
)
def test_golive_attest_refuses_in_one_line(tmp_path, config, args, message):
    result = golive(*args, "--golive-config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_golive_checklist_with_a_malformed_book_is_one_line_and_exit_2(tmp_path, config):
    (tmp_path / "signed").mkdir()
    (tmp_path / "signed" / "attestations.jsonl").write_text("{oops\n")
    result = golive("checklist", "--golive-config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("attestations.jsonl: line 1: not a JSON object")


def test_gate_1_without_approvals_is_no_go_naming_them_and_with_them_go(tmp_path, config, run_gate):
    first = run_gate(config, "pre", "-k", "test_approvals")
    assert first.code == 2
    for role in ("release_manager", "technical_lead", "product_manager", "security_lead", "operations_manager"):
        check = first.check(f"test_signed[approval.{role}]")
        assert check["outcome"] == "failed" and check["severity"] == "critical"
        assert check["component"] == "attestation" and check["title"].endswith("approval")
        assert f"approval.{role}" in first.stdout
    for item in APPROVALS:
        signed = golive("attest", item.id, "--by", "Sandbox Team", "--role", item.roles[0],
                        "--golive-config", str(config), cwd=tmp_path)
        assert signed.returncode == 0, signed.stderr
    second = run_gate(config, "pre", "-k", "test_approvals")
    assert second.partial_go, second.record["reasons"]


def test_malformed_book_makes_attestation_checks_error(tmp_path, config, run_gate):
    (tmp_path / "signed").mkdir()
    (tmp_path / "signed" / "attestations.jsonl").write_text("garbage\n")
    result = run_gate(config, "pre", "-k", "test_approvals")
    assert result.code == 2
    check = result.check("test_signed[approval.release_manager]")
    assert check["outcome"] == "error" and "line 1: not a JSON object" in check["message"]
