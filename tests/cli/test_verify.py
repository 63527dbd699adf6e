"""`golive keys init`, signed gate runs and `golive verify`: real `golive gate` runs of a small project in a
temporary directory, its environments on a private canned HTTP server, its decision records then verified,
tampered with and verified again (issue 16)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from golive import evidence
from tests.canned_http import Answer, CannedHTTP
from tests.support import REPO

CHECKS = '''\
import httpx
import pytest

from golive.config import load_settings


def _health():
    settings = load_settings(__import__("pathlib").Path("golive.yaml"), "test")
    return httpx.get(settings.environments["blue"].url + "/health", timeout=2).json()


@pytest.mark.pre
@pytest.mark.critical
def test_candidate_is_healthy():
    """The candidate answers its health check."""
    assert _health()["status"] == "ok"


@pytest.mark.immediate
@pytest.mark.critical
def test_candidate_is_healthy_before_cutover():
    """The candidate still answers its health check."""
    assert _health()["status"] == "ok"


@pytest.mark.extended
def test_candidate_version():
    """The candidate runs the release."""
    assert _health()["version"] == "2.1.0"
'''


def _environ() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG", "GOLIVE_REPORTS"}}
    environ["PYTHONPATH"] = str(REPO)
    return environ


def golive(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "golive", *args], cwd=project, capture_output=True, text=True,
                          timeout=120, env=_environ())


def gate(project: Path, number: str, *args: str) -> subprocess.CompletedProcess[str]:
    return golive(project, "gate", number, "-q", "-p", "no:cacheprovider", *args)


def _config(project: Path, url: str, key: str = "ada", trusted: tuple[str, ...] = ("ada",)) -> None:
    document = {
        "release": {"version": "2.1.0", "previous": "2.0.5"},
        "environments": {"blue": {"url": url, "role": "candidate"}, "green": {"url": url, "role": "live"}},
        "evidence": {
            "key": f"keys/{key}.key", "signer": {"name": key, "role": "Release Manager"},
            "trusted_keys": [{"name": name, "role": "Release Manager", "public_key": f"keys/{name}.pub"}
                             for name in trusted],
        },
    }
    (project / "golive.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def server():
    with CannedHTTP({"/health": Answer(200, {"status": "ok", "version": "2.1.0"})}) as canned:
        yield canned


@pytest.fixture(scope="module")
def signed(tmp_path_factory, server) -> Path:
    """A project whose Gate 1, Gate 2 and Gate 3 ran, signed by ada; its keys outside reports/."""
    project = tmp_path_factory.mktemp("project")
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = validations\n")
    (project / "validations").mkdir()
    (project / "validations" / "test_candidate.py").write_text(textwrap.dedent(CHECKS))
    made = golive(project, "keys", "init", "--name", "ada", "--role", "Release Manager", "--out", "keys")
    assert made.returncode == 0, made.stderr
    _config(project, server.url)
    for number in ("1", "2", "3"):
        ran = gate(project, number)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    return project


@pytest.fixture
def project(signed, tmp_path) -> Path:
    """A copy of the signed project to tamper with."""
    copy = tmp_path / "copy"
    shutil.copytree(signed, copy)
    return copy


def _records(project: Path) -> list[Path]:
    records = [path for path in (project / "reports").glob("*-blue-*.json")
               if not path.name.endswith(evidence.ENVELOPE_SUFFIX)]
    return sorted(records, key=lambda path: path.stat().st_mtime)


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_signed_gates_1_2_3_verify_and_the_story_lists_them_in_order(signed):
    verified = golive(signed, "verify")
    assert verified.returncode == 0, verified.stderr
    story = verified.stdout
    assert "release 2.1.0: evidence verified" in story
    assert story.index("1. Gate 1 (pre): GO  signed by ada (Release Manager)") < story.index(
        "2. Gate 2 (immediate): GO") < story.index("3. Gate 3 (post): GO")
    assert "final decision: GO (post-blue-" in story
    html = next((signed / "reports").glob("post-blue-*.html")).read_text()
    assert "signed by ada (Release Manager)" in html and "chain: decision 3 of release 2.1.0 on blue" in html


def test_a_flipped_byte_in_a_record_envelope_or_attestation_exits_2_naming_the_file(project):
    middle = _records(project)[1]
    targets = [middle, evidence.envelope_path(middle)]
    for target in targets:
        original = target.read_bytes()
        for index in (0, len(original) // 2, len(original) - 2):
            data = bytearray(original)
            data[index] ^= 0x01
            target.write_bytes(bytes(data))
            verified = golive(project, "verify")
            assert verified.returncode == 2 and target.name in _one_line(verified.stderr), (target, index)
        target.write_bytes(original)
    assert golive(project, "verify").returncode == 0


def test_swapping_two_records_or_deleting_a_middle_one_exits_2(project):
    first, middle, last = _records(project)
    saved = {path: path.read_bytes() for path in (first, last)}
    first.write_bytes(saved[last])
    last.write_bytes(saved[first])
    verified = golive(project, "verify")
    line = _one_line(verified.stderr)
    assert verified.returncode == 2 and (first.name in line or last.name in line) and "edited" in line
    for path, data in saved.items():
        path.write_bytes(data)

    evidence.envelope_path(middle).unlink()
    middle.unlink()
    verified = golive(project, "verify")
    assert verified.returncode == 2
    assert f"{last.name}.dsse.json: chain sequence 3 where 2 was expected" in _one_line(verified.stderr)


def test_a_record_signed_by_an_untrusted_key_exits_2(project, server):
    assert golive(project, "keys", "init", "--name", "mallory", "--role", "Intruder", "--out", "keys").returncode == 0
    _config(project, server.url, key="mallory", trusted=("ada",))
    assert gate(project, "3").returncode == 0
    intruder = _records(project)[-1]
    verified = golive(project, "verify")
    assert verified.returncode == 2
    assert f"{intruder.name}.dsse.json: signed by a key not in evidence.trusted_keys" in _one_line(verified.stderr)


def test_a_key_readable_by_others_is_a_no_go_in_one_line(project):
    key = project / "keys" / "ada.key"
    key.chmod(0o644)
    ran = gate(project, "1", f"--golive-json={project / 'out.json'}")
    assert ran.returncode == 2
    lines = [line for line in ran.stderr.splitlines() if "golive" in line]
    assert len(lines) == 1 and "readable by group or others (mode 0644); chmod 600 it" in lines[0], ran.stderr
    record = json.loads((project / "out.json").read_text())
    assert record["verdict"] == "NO-GO" and "readable by group or others" in " ".join(record["reasons"])
    assert key.read_text().splitlines()[1] not in ran.stdout + ran.stderr


def test_private_key_bytes_appear_in_no_output(project):
    junit = project / "junit.xml"
    ran = gate(project, "2", f"--junitxml={junit}", "-rA")
    assert ran.returncode == 0, ran.stderr
    secret = (project / "keys" / "ada.key").read_text().splitlines()[1]
    assert len(secret) > 40
    newest = _records(project)[-1]
    outputs = [ran.stdout, ran.stderr, junit.read_text(), newest.read_text(),
               evidence.envelope_path(newest).read_text(), newest.with_suffix(".html").read_text()]
    assert all(secret not in output for output in outputs)


def test_signed_attestations_verify_and_an_edited_one_exits_2(project):
    attested = golive(project, "attest", "approval.release_manager", "--by", "Ada", "--role", "Release Manager",
                      "--validations", str(REPO / "validations"))
    assert attested.returncode == 0, attested.stderr
    book = project / "reports" / "attestations.jsonl"
    assert (project / "reports" / "attestations.jsonl.dsse.jsonl").exists()
    verified = golive(project, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "attestation line 1: approval.release_manager  signed by ada (Release Manager)" in verified.stdout
    book.write_text(book.read_text().replace('"by": "Ada"', '"by": "Eve"'))
    verified = golive(project, "verify")
    assert verified.returncode == 2 and "attestations.jsonl: line 1: edited" in _one_line(verified.stderr)


def test_unsigned_records_are_named_and_the_report_says_unsigned(tmp_path, signed):
    project = tmp_path / "unsigned"
    shutil.copytree(signed, project, ignore=shutil.ignore_patterns("reports"))
    document = yaml.safe_load((project / "golive.yaml").read_text())
    del document["evidence"]["key"], document["evidence"]["signer"]
    (project / "golive.yaml").write_text(yaml.safe_dump(document))
    assert gate(project, "1").returncode == 0
    record = _records(project)[-1]
    assert not evidence.envelope_path(record).exists()
    assert "unsigned (no evidence.key configured)" in record.with_suffix(".html").read_text()
    verified = golive(project, "verify")
    assert verified.returncode == 2 and record.name in _one_line(verified.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "a b", "--role", "R"], "--name 'a b': letters, digits"),
        (["--name", "ci", "--role", "R", "--out", "reports/keys"], "inside the reports directory"),
        (["--name", "ci", "--role", " "], "--role: a role is required"),
    ],
)
def test_keys_init_bad_input_is_one_line_exit_2(tmp_path, args, message):
    made = golive(tmp_path, "keys", "init", *args)
    assert made.returncode == 2 and message in _one_line(made.stderr)
    assert not list(tmp_path.rglob("*.key"))


def test_keys_init_prints_an_entry_that_verify_trusts(tmp_path):
    made = golive(tmp_path, "keys", "init", "--name", "ci", "--role", "Deployment Lead", "--out", "k")
    assert made.returncode == 0, made.stderr
    entry_line = made.stdout.splitlines()[-1]
    entry = yaml.safe_load(entry_line.strip().removeprefix("- "))
    assert (entry["name"], entry["role"]) == ("ci", "Deployment Lead")
    assert list(evidence.trusted([entry], tmp_path)) == [entry["keyid"]]
    assert (tmp_path / "k" / "ci.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k" / "ci.key").read_text().splitlines()[1] not in made.stdout


def test_the_verify_benchmark_meets_its_target():
    ran = subprocess.run([sys.executable, str(REPO / "benchmarks" / "verify_chain.py"), "--rounds", "3"],
                         capture_output=True, text=True, timeout=120, env=_environ())
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "target under 1 s: met" in ran.stdout
