"""Sealing: the in-toto Statement of a decision record or an attestation line, signed into a DSSE envelope and
chained to the one before it (securesystemslib.dsse.Envelope does PAE, signing and verification)."""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from securesystemslib.dsse import Envelope

from golive import gates, inputs
from golive.decision_record import RecordHead, checks_of
from golive.evidence.keys import EvidenceError, Identity, Signer
from golive.verdict import Outcome, Severity

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TEST_RESULT_PREDICATE = "https://in-toto.io/attestation/test-result/v0.1"
SIGN_OFF_PREDICATE = "https://github.com/golive/golive/attestation/sign-off/v0.1"  # golive's own predicate
ENVELOPE_SUFFIX = ".dsse.json"  # reports/<record>.json -> reports/<record>.json.dsse.json
ATTESTATION_SUFFIX = ".dsse.jsonl"  # attestations.jsonl -> attestations.jsonl.dsse.jsonl
RESULTS = {"GO": "PASSED", "REVIEW": "WARNED", "NO-GO": "FAILED", "ROLLED-BACK": "FAILED"}  # ROLLED-BACK: a cutover's

# Where each kind of decision sits in a release's story: the gates by their number (golive/gates.py), and the
# decisions that are not gates between them. A record may repeat its stage (a re-run) but never go back.
STAGES: dict[str, float] = {gate.name: float(gate.number) for gate in gates.GATES if gate.number}
STAGES["cutover"] = 2.5  # golive cutover: after Gate 2, before Gate 3


# --- envelopes ---------------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def envelope_path(record_path: Path) -> Path:
    return record_path.with_name(record_path.name + ENVELOPE_SUFFIX)


def _sign(signer: Signer, statement: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
    envelope = Envelope(payload, PAYLOAD_TYPE, {})
    envelope.sign(signer.crypto)
    document: dict[str, Any] = envelope.to_dict()
    return document


def statement_of(document: Any) -> dict[str, Any]:
    """The Statement inside an envelope document, without checking its signature; EvidenceError if malformed."""
    try:
        envelope = Envelope.from_dict(copy.deepcopy(dict(document)))  # from_dict edits what it is given
        statement = inputs.parse_json(envelope.payload, "the envelope's payload")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise EvidenceError("not a DSSE envelope") from None
    if envelope.payload_type != PAYLOAD_TYPE or not isinstance(statement, dict) \
            or statement.get("_type") != STATEMENT_TYPE:
        raise EvidenceError("not an in-toto Statement v1 envelope")
    return statement


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time per chain (concurrent gate runs, attests): an flock on a lock file beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_lock(reports_dir: Path) -> contextlib.AbstractContextManager[None]:
    return _locked(reports_dir / ".evidence.lock")


def _chain_head(reports_dir: Path, release: str, environment: str, exclude: Path) -> tuple[int, dict[str, Any] | None]:
    """The sequence number and reference of the newest envelope of this release and environment."""
    best: tuple[int, dict[str, Any] | None] = (0, None)
    for path in reports_dir.glob(f"*{ENVELOPE_SUFFIX}"):
        if path.name == exclude.name:
            continue
        try:
            data = inputs.read_bytes(path, str(path))
            chain = statement_of(inputs.parse_json(data, str(path)))["predicate"]["chain"]
        except (ValueError, KeyError, TypeError, EvidenceError):
            continue  # verify names it; signing carries on from the sound ones
        if chain.get("release") == release and chain.get("environment") == environment \
                and isinstance(chain.get("sequence"), int) and chain["sequence"] > best[0]:
            best = (chain["sequence"], {"name": path.name, "digest": {"sha256": sha256(data)}})
    return best


def _checks_by_outcome(record: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    passed, warned, failed = [], [], []
    for check in checks_of(record):
        if check.outcome is Outcome.PASSED:
            passed.append(check.id)
        elif check.outcome is Outcome.WAIVED or (check.blocking and check.severity is Severity.WARNING):
            warned.append(check.id)
        elif check.blocking:
            failed.append(check.id)
    return passed, warned, failed


def record_statement(record: Mapping[str, Any], record_name: str, record_bytes: bytes, config_digest: str | None,
                     config_name: str, signer: Identity, chain: Mapping[str, Any]) -> dict[str, Any]:
    """The in-toto Statement for a (masked) decision record."""
    passed, warned, failed = _checks_by_outcome(record)
    head = RecordHead.parse(record)
    configuration = [{"name": config_name, "digest": {"sha256": config_digest}}] if config_digest else []
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": record_name, "digest": {"sha256": sha256(record_bytes)}}],
        "predicateType": TEST_RESULT_PREDICATE,
        "predicate": {
            "result": RESULTS.get(head.verdict, "FAILED"),
            "configuration": configuration,
            "passedTests": passed, "warnedTests": warned, "failedTests": failed,
            "decision": {
                "kind": "cutover" if head.gate == "cutover" else "gate",
                "gate": head.gate, "verdict": head.verdict, "release": head.release,
                "environment": head.environment, "finished_at": head.finished_at,
                "signer": {"name": signer.name, "role": signer.role},
            },
            "chain": dict(chain),
        },
    }


def seal_record(signer: Signer, record: Mapping[str, Any], record_path: Path, record_bytes: bytes,
                config_path: Path | None) -> bytes:
    """The envelope (as file bytes) for a record about to be written at ``record_path``; hold ``record_lock``."""
    head = RecordHead.parse(record)
    release, environment = str(head.release), str(head.environment)
    sequence, previous = _chain_head(record_path.parent, release, environment, envelope_path(record_path))
    config_digest = None
    if config_path is not None:
        with contextlib.suppress(OSError):
            config_digest = sha256(config_path.read_bytes())
    chain = {"release": release, "environment": environment, "sequence": sequence + 1, "previous": previous}
    statement = record_statement(record, record_path.name, record_bytes, config_digest,
                                 config_path.name if config_path else "", signer.identity, chain)
    return envelope_text(_sign(signer, statement)).encode("utf-8")


def seal_attestation(signer: Signer, attestations_path: Path, line: bytes, line_number: int, release: str) -> None:
    """Append the envelope of ``line`` (line ``line_number`` of the attestations file) to its sidecar."""
    sidecar = attestations_path.with_name(attestations_path.name + ATTESTATION_SUFFIX)
    sequence, previous = 0, None
    if sidecar.exists():
        for raw in inputs.read_bytes(sidecar, str(sidecar)).splitlines():
            try:
                chain = statement_of(inputs.parse_json(raw, str(sidecar)))["predicate"]["chain"]
            except (ValueError, KeyError, TypeError, EvidenceError):
                continue
            if chain.get("release") == release and isinstance(chain.get("sequence"), int) \
                    and chain["sequence"] > sequence:
                sequence, previous = chain["sequence"], {"name": sidecar.name, "digest": {"sha256": sha256(raw)}}
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": attestations_path.name, "digest": {"sha256": sha256(line)}}],
        "predicateType": SIGN_OFF_PREDICATE,
        "predicate": {
            "line": line_number,
            "signer": {"name": signer.identity.name, "role": signer.identity.role},
            "chain": {"release": release, "sequence": sequence + 1, "previous": previous},
        },
    }
    text = line_text(_sign(signer, statement)) + "\n"
    descriptor = os.open(sidecar, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, text.encode("utf-8"))
    finally:
        os.close(descriptor)


def attestation_lock(attestations_path: Path) -> contextlib.AbstractContextManager[None]:
    return _locked(attestations_path.with_name(attestations_path.name + ".lock"))


def envelope_text(document: Mapping[str, Any]) -> str:
    """How golive writes a decision envelope; verify demands exactly these bytes."""
    return json.dumps(document, indent=2) + "\n"


def line_text(document: Mapping[str, Any]) -> str:
    """How golive writes an attestation's envelope line (without its newline)."""
    return json.dumps(document, sort_keys=True)


def append_signed_attestation(signer: Signer, path: Path, line: bytes, release: str) -> None:
    """Append an attestation line and its envelope, one writer at a time (the line number is in the statement)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with attestation_lock(path):
        existing = path.read_bytes() if path.exists() else b""
        if existing and not existing.endswith(b"\n"):
            existing += b"\n"
            line = b"\n" + line
        number = len(existing.splitlines()) + 1
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
        seal_attestation(signer, path, line.strip(b"\n"), number, release)
