"""golive.evidence: keys, signed and chained records and attestations, and what verification catches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from golive import evidence, record
from golive.evidence import EvidenceError, Identity

ADA = Identity("Ada Lovelace", "Release Manager")
GATES = (("pre", "GO"), ("immediate", "REVIEW"), ("post", "GO"))


def _checks() -> list[dict[str, str]]:
    return [{**check, "component": "http"} for check in [
        {"id": "validations/test_a.py::test_ok", "severity": "critical", "outcome": "passed"},
        {"id": "validations/test_a.py::test_slow", "severity": "warning", "outcome": "failed"},
        {"id": "validations/test_a.py::test_waived", "severity": "critical", "outcome": "waived"},
        {"id": "validations/test_a.py::test_down", "severity": "critical", "outcome": "error"},
        {"id": "validations/test_a.py::test_aws", "severity": "critical", "outcome": "skipped"},
    ]]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[evidence.Signer, dict[str, evidence.TrustedKey]]:
    pair = evidence.generate(tmp_path / "keys", "ada")
    signer = evidence.load_signer(pair.private_path, ADA, tmp_path / "reports")
    trust = evidence.trusted([{"name": ADA.name, "role": ADA.role, "public_key": "keys/ada.pub"}], tmp_path)
    return signer, trust


def write_gate(reports: Path, signer: evidence.Signer, gate: str, verdict: str, minute: int,
               release: str = "2.1.0", config: Path | None = None) -> Path:
    """A decision record written as a gate run writes it (golive.record.write_record), signed."""
    document = {"gate": gate, "verdict": verdict, "release": release, "environment": "blue",
                "finished_at": f"2026-12-02T10:{minute:02d}:00+00:00", "checks": _checks()}
    path = reports / f"{gate}-blue-20261202T10{minute:02d}00Z.json"
    reports.mkdir(parents=True, exist_ok=True)
    record.write_signed(document, path, reports, signer, config)
    return path


def three_gates(reports: Path, signer: evidence.Signer) -> list[Path]:
    return [write_gate(reports, signer, gate, verdict, minute)
            for minute, (gate, verdict) in enumerate(GATES, start=1)]


def test_key_pair_private_part_is_owner_only_and_never_overwritten(tmp_path):
    pair = evidence.generate(tmp_path / "k", "ci")
    assert os.stat(pair.private_path).st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in pair.private_path.read_bytes() and b"PUBLIC KEY" in pair.public_path.read_bytes()
    assert pair.key.keytype == "ed25519"
    with pytest.raises(EvidenceError, match="exists"):
        evidence.generate(tmp_path / "k", "ci")


def test_a_key_readable_by_others_or_inside_reports_is_refused(tmp_path):
    pair = evidence.generate(tmp_path / "k", "ci")
    os.chmod(pair.private_path, 0o640)
    with pytest.raises(EvidenceError, match=r"readable by group or others \(mode 0640\); chmod 600 it"):
        evidence.load_signer(pair.private_path, ADA, tmp_path / "reports")
    os.chmod(pair.private_path, 0o600)
    with pytest.raises(EvidenceError, match="inside the reports directory"):
        evidence.load_signer(pair.private_path, ADA, tmp_path / "k")


def test_trusted_keys_inline_and_from_a_file_agree(tmp_path, keys):
    _, trust = keys
    (keyid, entry), = trust.items()
    inline = evidence.trusted([{"name": "x", "role": "y", "keyid": keyid, "public": entry.key.keyval["public"]}],
                              tmp_path)
    assert list(inline) == [keyid]
    with pytest.raises(EvidenceError, match=r"trusted_keys\[0\]: keyid does not match"):
        evidence.trusted([{"name": "x", "role": "y", "keyid": "00" * 32, "public": entry.key.keyval["public"]}],
                         tmp_path)
    with pytest.raises(EvidenceError, match=r"trusted_keys\[0\]: not a hex Ed25519 public key"):
        evidence.trusted([{"name": "x", "role": "y", "public": "zz"}], tmp_path)


def test_envelope_is_dsse_with_an_in_toto_test_result_statement(tmp_path, keys):
    signer, _ = keys
    config = tmp_path / "golive.yaml"
    config.write_text("release: {version: '2.1.0'}\n")
    path = write_gate(tmp_path / "reports", signer, "pre", "REVIEW", 1, config=config)
    document = json.loads(evidence.envelope_path(path).read_text())
    assert document["payloadType"] == "application/vnd.in-toto+json"
    assert [signature["keyid"] for signature in document["signatures"]] == [signer.keyid]
    statement = evidence.statement_of(document)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [{"name": path.name, "digest": {"sha256": evidence.sha256(path.read_bytes())}}]
    assert statement["predicateType"] == "https://in-toto.io/attestation/test-result/v0.1"
    predicate = statement["predicate"]
    assert predicate["result"] == "WARNED"
    assert predicate["configuration"] == [{"name": "golive.yaml", "digest": {"sha256": evidence.sha256(
        config.read_bytes())}}]
    assert predicate["passedTests"] == ["validations/test_a.py::test_ok"]
    assert predicate["warnedTests"] == ["validations/test_a.py::test_slow", "validations/test_a.py::test_waived"]
    assert predicate["failedTests"] == ["validations/test_a.py::test_down"]
    assert predicate["chain"] == {"release": "2.1.0", "environment": "blue", "sequence": 1, "previous": None}
    assert predicate["decision"]["signer"] == {"name": ADA.name, "role": ADA.role}


def test_three_gates_verify_in_order_and_each_names_the_one_before(tmp_path, keys):
    signer, trust = keys
    paths = three_gates(tmp_path / "reports", signer)
    story = evidence.verify(tmp_path / "reports", "2.1.0", trust)
    assert [(link.gate, link.verdict, link.sequence) for link in story.chains["blue"]] == [
        ("pre", "GO", 1), ("immediate", "REVIEW", 2), ("post", "GO", 3)]
    second = evidence.statement_of(json.loads(evidence.envelope_path(paths[1]).read_text()))
    first_envelope = evidence.envelope_path(paths[0])
    assert second["predicate"]["chain"]["previous"] == {
        "name": first_envelope.name, "digest": {"sha256": evidence.sha256(first_envelope.read_bytes())}}
    text = "\n".join(story.lines())
    assert text.index("Gate 1") < text.index("Gate 2") < text.index("Gate 3")
    assert "final decision: GO (post-blue" in text


def _flipped(path: Path, index: int) -> bytes:
    original = path.read_bytes()
    data = bytearray(original)
    data[index] ^= 0x01
    path.write_bytes(bytes(data))
    return original


def test_every_byte_of_a_record_flipped_is_caught_naming_the_record(tmp_path, keys):
    signer, trust = keys
    target = three_gates(tmp_path / "reports", signer)[1]
    size = len(target.read_bytes())
    assert size > 500
    for index in range(size):
        original = _flipped(target, index)
        with pytest.raises(EvidenceError) as caught:
            evidence.verify(tmp_path / "reports", "2.1.0", trust)
        assert target.name in str(caught.value), index
        target.write_bytes(original)
    evidence.verify(tmp_path / "reports", "2.1.0", trust)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_a_sample_of_envelope_bytes_flipped_is_caught_naming_the_envelope(tmp_path, keys, which):
    signer, trust = keys
    target = evidence.envelope_path(three_gates(tmp_path / "reports", signer)[which])
    size = len(target.read_bytes())
    for index in range(0, size, max(1, size // 150)):
        original = _flipped(target, index)
        with pytest.raises(EvidenceError) as caught:
            evidence.verify(tmp_path / "reports", "2.1.0", trust)
        assert target.name in str(caught.value), index
        target.write_bytes(original)


def test_deleting_a_middle_decision_is_a_gap(tmp_path, keys):
    signer, trust = keys
    middle = three_gates(tmp_path / "reports", signer)[1]
    middle.unlink()
    evidence.envelope_path(middle).unlink()
    with pytest.raises(EvidenceError, match=r"post-blue.*sequence 3 where 2 was expected"):
        evidence.verify(tmp_path / "reports", "2.1.0", trust)


def test_deleting_the_newest_decision_is_caught_by_its_latest_copy(tmp_path, keys):
    signer, trust = keys
    newest = three_gates(tmp_path / "reports", signer)[2]
    newest.unlink()
    evidence.envelope_path(newest).unlink()
    with pytest.raises(EvidenceError, match=r"latest-post\.json: names a decision that is not in the chain"):
        evidence.verify(tmp_path / "reports", "2.1.0", trust)


def test_deleting_only_an_envelope_leaves_an_unsigned_record(tmp_path, keys):
    signer, trust = keys
    first = three_gates(tmp_path / "reports", signer)[0]
    evidence.envelope_path(first).unlink()
    with pytest.raises(EvidenceError, match=f"{first.name}: a decision record of release 2.1.0 with no valid"):
        evidence.verify(tmp_path / "reports", "2.1.0", trust)


def test_swapping_two_records_or_two_envelopes_is_caught(tmp_path, keys):
    signer, trust = keys
    first, second, _ = three_gates(tmp_path / "reports", signer)
    for a, b in ((first, second), (evidence.envelope_path(first), evidence.envelope_path(second))):
        data_a, data_b = a.read_bytes(), b.read_bytes()
        a.write_bytes(data_b)
        b.write_bytes(data_a)
        with pytest.raises(EvidenceError, match=f"{first.name}|{second.name}"):
            evidence.verify(tmp_path / "reports", "2.1.0", trust)
        a.write_bytes(data_a)
        b.write_bytes(data_b)
    evidence.verify(tmp_path / "reports", "2.1.0", trust)


def test_gates_out_of_order_are_caught_and_a_no_go_starts_again(tmp_path, keys):
    signer, trust = keys
    reports = tmp_path / "reports"
    write_gate(reports, signer, "pre", "GO", 1)
    write_gate(reports, signer, "immediate", "NO-GO", 2)
    write_gate(reports, signer, "pre", "GO", 3)  # the next attempt, after the rollback
    write_gate(reports, signer, "post", "GO", 4)
    evidence.verify(reports, "2.1.0", trust)
    late = write_gate(reports, signer, "immediate", "GO", 5)
    with pytest.raises(EvidenceError, match=f"{late.name}.dsse.json: immediate after post: the gates ran out of order"):
        evidence.verify(reports, "2.1.0", trust)


def test_a_record_signed_by_an_untrusted_key_is_caught(tmp_path, keys):
    signer, trust = keys
    reports = tmp_path / "reports"
    three_gates(reports, signer)
    stranger = evidence.generate(tmp_path / "other", "mallory")
    intruder = write_gate(reports, evidence.load_signer(stranger.private_path, ADA, reports), "post", "GO", 9)
    with pytest.raises(EvidenceError, match=f"{intruder.name}.dsse.json: signed by a key not in evidence.trusted_keys"):
        evidence.verify(reports, "2.1.0", trust)


def test_a_claimed_signer_other_than_the_key_owner_is_caught(tmp_path, keys):
    signer, trust = keys
    impostor = evidence.Signer(Identity("Grace Hopper", "Deployment Lead"), signer.crypto)
    path = write_gate(tmp_path / "reports", impostor, "pre", "GO", 1)
    with pytest.raises(EvidenceError, match=f"{path.name}.dsse.json: claims signer 'Grace Hopper'"):
        evidence.verify(tmp_path / "reports", "2.1.0", trust)


def test_other_releases_are_not_mixed_in(tmp_path, keys):
    signer, trust = keys
    reports = tmp_path / "reports"
    write_gate(reports, signer, "pre", "GO", 1, release="2.0.5")
    three_gates(reports, signer)
    assert [link.sequence for link in evidence.verify(reports, "2.1.0", trust).chains["blue"]] == [1, 2, 3]
    with pytest.raises(EvidenceError, match=r"no signed decision of release 9\.9"):
        evidence.verify(reports, "9.9", trust)


def test_another_release_signed_by_a_retired_key_does_not_block_this_one(tmp_path, keys):
    signer, trust = keys
    reports = tmp_path / "reports"
    retired = evidence.generate(tmp_path / "old", "retired")
    write_gate(reports, evidence.load_signer(retired.private_path, ADA, reports), "pre", "GO", 9, release="2.0.5")
    three_gates(reports, signer)
    assert len(evidence.verify(reports, "2.1.0", trust).chains["blue"]) == 3
    with pytest.raises(EvidenceError, match=r"signed by a key not in evidence\.trusted_keys"):
        evidence.verify(reports, "2.0.5", trust)


def _attest(path: Path, signer: evidence.Signer, item: str) -> None:
    line = json.dumps({"item": item, "by": "Ada", "release": "2.1.0"}, sort_keys=True) + "\n"
    evidence.append_signed_attestation(signer, path, line.encode(), "2.1.0")


def test_attestations_are_signed_and_chained_line_by_line(tmp_path, keys):
    signer, trust = keys
    reports = tmp_path / "reports"
    three_gates(reports, signer)
    book = reports / "attestations.jsonl"
    for item in ("approval.release_manager", "approval.technical_lead", "comms.briefing"):
        _attest(book, signer, item)
    story = evidence.verify(reports, "2.1.0", trust, book)
    assert [(number, item) for number, item, _ in story.attestations] == [
        (1, "approval.release_manager"), (2, "approval.technical_lead"), (3, "comms.briefing")]
    sidecar = book.with_name(book.name + evidence.ATTESTATION_SUFFIX)
    for target in (book, sidecar):
        size = len(target.read_bytes())
        for index in range(0, size, max(1, size // 120)):
            if target.read_bytes()[index:index + 1] == b"\n":
                continue  # a line break moved is a line edited: covered by the lines' own bytes
            original = _flipped(target, index)
            with pytest.raises(EvidenceError) as caught:
                evidence.verify(reports, "2.1.0", trust, book)
            assert book.name in str(caught.value), index
            target.write_bytes(original)
    lines = book.read_bytes().splitlines(keepends=True)
    book.write_bytes(lines[1] + lines[0] + lines[2])  # two sign-offs swapped
    with pytest.raises(EvidenceError, match="line 1: edited, moved or deleted"):
        evidence.verify(reports, "2.1.0", trust, book)
    book.write_bytes(b"".join(lines) + b'{"item": "x", "by": "Eve", "release": "2.1.0"}\n')
    with pytest.raises(EvidenceError, match=r"line 4: an attestation of release 2\.1\.0 with no valid signature"):
        evidence.verify(reports, "2.1.0", trust, book)


def test_no_private_key_bytes_in_what_is_written(tmp_path, keys):
    signer, _ = keys
    paths = three_gates(tmp_path / "reports", signer)
    secret = (tmp_path / "keys" / "ada.key").read_bytes()
    body = b"".join(secret.splitlines()[1:-1])
    for path in paths:
        for written in (path, evidence.envelope_path(path)):
            assert body not in written.read_bytes()
    assert body not in repr(signer).encode()


def test_an_unsigned_write_drops_a_stale_envelope(tmp_path, keys):
    signer, _ = keys
    path = write_gate(tmp_path / "reports", signer, "pre", "GO", 1)
    record.write_record({"gate": "pre", "verdict": "NO-GO"}, path, tmp_path / "reports")
    assert not evidence.envelope_path(path).exists()


def test_the_stage_table_places_cutover_between_gate_2_and_gate_3():
    assert evidence.STAGES["pre"] < evidence.STAGES["immediate"] < evidence.STAGES["cutover"] < evidence.STAGES["post"]


def test_history_reads_the_records_and_passes_over_their_envelopes(tmp_path, keys):
    from golive import history

    signer, _ = keys
    three_gates(tmp_path / "reports", signer)
    runs, skipped = history.load_runs(tmp_path / "reports")
    assert not any(".dsse.json" in note for note in skipped)  # never listed as "not a golive decision record"
    assert not any(run.path.name.endswith(".dsse.json") for run in runs)
    assert len(skipped) == 3  # the records themselves (written here without started_at) are still accounted for


def test_write_signed_says_what_the_report_shows(tmp_path, keys):
    signer, _ = keys
    reports = tmp_path / "reports"
    reports.mkdir()
    document = {"gate": "cutover", "verdict": "GO", "release": "2.1.0", "environment": "blue", "checks": []}
    state = record.write_signed(document, reports / "cutover-blue-1.json", reports, signer, None)
    assert state.startswith("signed by Ada Lovelace (Release Manager), key ")
    assert state.endswith("chain: decision 1 of release 2.1.0 on blue, after none: the first of the chain")
    assert record.write_signed(document, reports / "cutover-blue-2.json", reports, None, None) == (
        "unsigned (no evidence.key configured)")
    statement = evidence.statement_of(json.loads((reports / "cutover-blue-1.json.dsse.json").read_text()))
    assert statement["predicate"]["decision"]["kind"] == "cutover"
