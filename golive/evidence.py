"""Evidence an auditor can verify: signed, chained decision records and attestations.

Every decision record ``reports/<gate>-<env>-<stamp>.json`` gets a sidecar ``<record>.dsse.json``: a DSSE
envelope (payloadType ``application/vnd.in-toto+json``) holding an in-toto Statement v1 whose subject is the
record file (name and sha256 of its bytes) and whose predicate is the in-toto test-result predicate
(https://in-toto.io/attestation/test-result/v0.1). golive adds two fields to that predicate (in-toto's parsing
rules have consumers ignore fields they do not know): ``decision`` (gate, verdict, release, environment, time,
signer) and ``chain`` (the release and environment, a sequence number, and the name and sha256 of the previous
decision's envelope file, none for the first), so Gate 1 -> Gate 2 -> cutover -> Gate 3 of one release on one
environment is one hash chain.

Attestations (``golive attest``) keep their JSON-lines file unchanged; each line gets one envelope line in the
sidecar ``<attestations>.dsse.jsonl``, a Statement whose subject is the line's sha256, predicate
``SIGN_OFF_PREDICATE`` with its line number, and a chain per release the same way. A sidecar keeps the
attestations file readable by everything that reads it today and lets unsigned and signed lines coexist
visibly (verify names an unsigned line).

Keys are Ed25519 (securesystemslib's ``CryptoSigner`` and ``SSlibKey``, over pyca/cryptography); DSSE's PAE,
signing and verification are securesystemslib's (``securesystemslib.dsse.Envelope``). Nothing here is
cryptography of golive's own. A private key's bytes are read only to build the signer and never printed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from golive import gates

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TEST_RESULT_PREDICATE = "https://in-toto.io/attestation/test-result/v0.1"
SIGN_OFF_PREDICATE = "https://github.com/golive/golive/attestation/sign-off/v0.1"  # golive's own predicate
ENVELOPE_SUFFIX = ".dsse.json"  # reports/<record>.json -> reports/<record>.json.dsse.json
ATTESTATION_SUFFIX = ".dsse.jsonl"  # attestations.jsonl -> attestations.jsonl.dsse.jsonl
RESULTS = {"GO": "PASSED", "REVIEW": "WARNED", "NO-GO": "FAILED"}

# Where each kind of decision sits in a release's story: the gates by their number (golive/gates.py), and the
# decisions that are not gates between them. A record may repeat its stage (a re-run) but never go back.
STAGES: dict[str, float] = {gate.name: float(gate.number) for gate in gates.GATES if gate.number}
STAGES["cutover"] = 2.5  # golive cutover: after Gate 2, before Gate 3


class EvidenceError(Exception):
    """A key, an envelope or a chain cannot be trusted. One line, naming the file."""


# --- keys --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    name: str
    role: str


@dataclass(frozen=True)
class Signer:
    """Who signs this process's records, with the loaded key (the private part lives inside ``crypto``)."""

    identity: Identity
    crypto: CryptoSigner = field(repr=False)

    @property
    def keyid(self) -> str:
        return str(self.crypto.public_key.keyid)

    def describe(self) -> str:
        return f"signed by {self.identity.name} ({self.identity.role}), key {self.keyid[:12]}"


def public_key(key: Ed25519PublicKey) -> SSlibKey:
    return SSlibKey.from_crypto(key)


def key_from_hex(public_hex: str) -> SSlibKey:
    try:
        raw = bytes.fromhex(public_hex)
        return public_key(Ed25519PublicKey.from_public_bytes(raw))
    except ValueError:
        raise EvidenceError("not a hex Ed25519 public key (64 hex digits)") from None


def key_from_file(path: Path) -> SSlibKey:
    try:
        loaded = load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise EvidenceError(f"{path}: cannot read the public key ({error.strerror or type(error).__name__})") from None
    except ValueError:
        raise EvidenceError(f"{path}: not a PEM public key") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise EvidenceError(f"{path}: not an Ed25519 public key")
    return public_key(loaded)


def inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def load_signer(key_path: Path, identity: Identity, reports_dir: Path) -> Signer:
    """The signer for ``key_path``; refuses a key inside ``reports_dir`` or readable by group or others."""
    if inside(key_path, reports_dir):
        raise EvidenceError(f"evidence.key {key_path}: inside the reports directory {reports_dir}; keep keys out")
    try:
        mode = key_path.stat().st_mode
    except OSError as error:
        raise EvidenceError(f"evidence.key {key_path}: cannot read it ({error.strerror or type(error).__name__})") \
            from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise EvidenceError(f"evidence.key {key_path}: readable by group or others (mode {stat.S_IMODE(mode):04o});"
                            " chmod 600 it")
    try:
        private = load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as error:
        raise EvidenceError(f"evidence.key {key_path}: cannot read it ({error.strerror or type(error).__name__})") \
            from None
    except (ValueError, TypeError):
        raise EvidenceError(f"evidence.key {key_path}: not an unencrypted PEM private key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise EvidenceError(f"evidence.key {key_path}: not an Ed25519 private key")
    return Signer(identity, CryptoSigner(private))


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    key: SSlibKey


def generate(directory: Path, name: str) -> KeyPair:
    """Write ``<name>.key`` (PEM PKCS#8, mode 0600) and ``<name>.pub`` (PEM) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_path, public_path = directory / f"{name}.key", directory / f"{name}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise EvidenceError(f"{path}: exists; choose another --name or --out (keys are never overwritten)")
    signer = CryptoSigner.generate_ed25519()
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(signer.private_bytes)
    key = signer.public_key
    pem = key._crypto_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    public_path.write_bytes(pem)
    return KeyPair(private_path, public_path, key)


@dataclass(frozen=True)
class TrustedKey:
    identity: Identity
    key: SSlibKey


def trusted(entries: Sequence[Mapping[str, Any]], base: Path) -> dict[str, TrustedKey]:
    """``evidence.trusted_keys`` as keyid -> key; each entry gives ``public_key`` (a PEM file) or ``public`` (hex)."""
    found: dict[str, TrustedKey] = {}
    for index, entry in enumerate(entries):
        where = f"evidence.trusted_keys[{index}]"
        try:
            if entry.get("public_key"):
                key = key_from_file(base / str(entry["public_key"]))
            else:
                key = key_from_hex(str(entry.get("public")))
        except EvidenceError as error:
            raise EvidenceError(f"{where}: {error}") from None
        if entry.get("keyid") and entry["keyid"] != key.keyid:
            raise EvidenceError(f"{where}: keyid does not match the public key (it is {key.keyid})")
        found[key.keyid] = TrustedKey(Identity(str(entry["name"]), str(entry["role"])), key)
    return found


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
        envelope = Envelope.from_dict(json.loads(json.dumps(document)))  # from_dict edits what it is given
        statement = json.loads(envelope.payload)
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
            data = path.read_bytes()
            chain = statement_of(json.loads(data))["predicate"]["chain"]
        except (OSError, ValueError, KeyError, TypeError, EvidenceError):
            continue  # verify names it; signing carries on from the sound ones
        if chain.get("release") == release and chain.get("environment") == environment \
                and isinstance(chain.get("sequence"), int) and chain["sequence"] > best[0]:
            best = (chain["sequence"], {"name": path.name, "digest": {"sha256": sha256(data)}})
    return best


def _checks_by_outcome(record: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    passed, warned, failed = [], [], []
    for check in record.get("checks") or []:
        outcome, severity = check.get("outcome"), check.get("severity")
        if outcome == "passed":
            passed.append(check["id"])
        elif outcome == "waived" or (outcome in ("failed", "error") and severity == "warning"):
            warned.append(check["id"])
        elif outcome in ("failed", "error"):
            failed.append(check["id"])
    return passed, warned, failed


def record_statement(record: Mapping[str, Any], record_name: str, record_bytes: bytes, config_digest: str | None,
                     config_name: str, signer: Identity, chain: Mapping[str, Any]) -> dict[str, Any]:
    """The in-toto Statement for a (masked) decision record."""
    passed, warned, failed = _checks_by_outcome(record)
    configuration = [{"name": config_name, "digest": {"sha256": config_digest}}] if config_digest else []
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": record_name, "digest": {"sha256": sha256(record_bytes)}}],
        "predicateType": TEST_RESULT_PREDICATE,
        "predicate": {
            "result": RESULTS.get(str(record.get("verdict")), "FAILED"),
            "configuration": configuration,
            "passedTests": passed, "warnedTests": warned, "failedTests": failed,
            "decision": {
                "kind": "cutover" if record.get("gate") == "cutover" else "gate",
                "gate": record.get("gate"), "verdict": record.get("verdict"), "release": record.get("release"),
                "environment": record.get("environment"), "finished_at": record.get("finished_at"),
                "signer": {"name": signer.name, "role": signer.role},
            },
            "chain": dict(chain),
        },
    }


def seal_record(signer: Signer, record: Mapping[str, Any], record_path: Path, record_bytes: bytes,
                config_path: Path | None) -> bytes:
    """The envelope (as file bytes) for a record about to be written at ``record_path``; hold ``record_lock``."""
    release, environment = str(record.get("release")), str(record.get("environment"))
    sequence, previous = _chain_head(record_path.parent, release, environment, envelope_path(record_path))
    config_digest = None
    if config_path is not None:
        with contextlib.suppress(OSError):
            config_digest = sha256(config_path.read_bytes())
    chain = {"release": release, "environment": environment, "sequence": sequence + 1, "previous": previous}
    statement = record_statement(record, record_path.name, record_bytes, config_digest,
                                 config_path.name if config_path else "", signer.identity, chain)
    return _envelope_text(_sign(signer, statement)).encode("utf-8")


def seal_attestation(signer: Signer, attestations_path: Path, line: bytes, line_number: int, release: str) -> None:
    """Append the envelope of ``line`` (line ``line_number`` of the attestations file) to its sidecar."""
    sidecar = attestations_path.with_name(attestations_path.name + ATTESTATION_SUFFIX)
    sequence, previous = 0, None
    if sidecar.exists():
        for raw in sidecar.read_bytes().splitlines():
            try:
                chain = statement_of(json.loads(raw))["predicate"]["chain"]
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
    text = _line_text(_sign(signer, statement)) + "\n"
    descriptor = os.open(sidecar, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, text.encode("utf-8"))
    finally:
        os.close(descriptor)


def attestation_lock(attestations_path: Path) -> contextlib.AbstractContextManager[None]:
    return _locked(attestations_path.with_name(attestations_path.name + ".lock"))


# --- verification ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One verified decision of a release's story."""

    path: Path
    gate: str
    verdict: str
    environment: str
    finished_at: str
    sequence: int
    signer: Identity


@dataclass
class Story:
    release: str
    chains: dict[str, list[Link]] = field(default_factory=dict)  # environment -> decisions in order
    attestations: list[tuple[int, str, Identity]] = field(default_factory=list)  # line, item, signer

    def lines(self) -> list[str]:
        out = [f"release {self.release}: evidence verified"]
        for environment, links in self.chains.items():
            out.append(f"environment {environment}: {len(links)} signed decisions")
            for link in links:
                title = gates.BY_NAME[link.gate].short_title if link.gate in gates.BY_NAME else link.gate
                out.append(f"  {link.sequence}. {title} ({link.gate}): {link.verdict}  signed by {link.signer.name}"
                           f" ({link.signer.role})  at {link.finished_at}  {link.path.name}")
            out.append(f"  final decision: {links[-1].verdict} ({links[-1].path.name})")
        for number, item, signer in self.attestations:
            out.append(f"attestation line {number}: {item}  signed by {signer.name} ({signer.role})")
        return out


def _envelope_text(document: Mapping[str, Any]) -> str:
    """How golive writes a decision envelope; verify demands exactly these bytes."""
    return json.dumps(document, indent=2) + "\n"


def _line_text(document: Mapping[str, Any]) -> str:
    """How golive writes an attestation's envelope line (without its newline)."""
    return json.dumps(document, sort_keys=True)


def _verified_statement(path: Path, data: bytes, keys: Mapping[str, TrustedKey],
                        line: bool = False) -> tuple[dict[str, Any], TrustedKey]:
    try:
        envelope = Envelope.from_dict(json.loads(data))
        canonical = (_line_text if line else _envelope_text)(envelope.to_dict())
    except (KeyError, TypeError, ValueError, AttributeError):
        raise EvidenceError(f"{path}: not a DSSE envelope (edited?)") from None
    if canonical.encode("utf-8") != data:
        # Base64 and JSON each have bytes a reader ignores (padding bits, spacing): any change is an edit.
        raise EvidenceError(f"{path}: not byte for byte as golive wrote it (edited)")
    known = [keys[keyid] for keyid in envelope.signatures if keyid in keys]
    if not known:
        ids = ", ".join(keyid[:12] for keyid in envelope.signatures) or "none"
        raise EvidenceError(f"{path}: signed by a key not in evidence.trusted_keys (keyid {ids})")
    try:
        accepted = envelope.verify([entry.key for entry in known], 1)
    except (VerificationError, ValueError):
        raise EvidenceError(f"{path}: the signature does not verify (the envelope was edited)") from None
    signer = keys[next(iter(accepted))]
    statement = statement_of(json.loads(data))
    return statement, signer


_Envelopes = list[tuple[Path, bytes, dict[str, Any], TrustedKey]]


def _decision_envelopes(directory: Path, release: str, keys: Mapping[str, TrustedKey]) -> _Envelopes:
    found: _Envelopes = []
    for path in sorted(directory.glob(f"*{ENVELOPE_SUFFIX}")):
        data = path.read_bytes()
        statement, signer = _verified_statement(path, data, keys)
        try:
            predicate = statement["predicate"]
            chain, decision = predicate["chain"], predicate["decision"]
            subject = statement["subject"][0]
            _ = (chain["release"], chain["environment"], chain["sequence"], decision["gate"], subject["name"])
        except (KeyError, TypeError, IndexError):
            raise EvidenceError(f"{path}: the statement lacks golive's decision and chain fields") from None
        if chain["release"] == release:
            found.append((path, data, statement, signer))
    return found


def _check_record(path: Path, statement: dict[str, Any], signer: TrustedKey) -> Link:
    predicate = statement["predicate"]
    decision, chain = predicate["decision"], predicate["chain"]
    subject = statement["subject"][0]
    record_path = path.with_name(str(subject["name"]))
    if envelope_path(record_path) != path:
        raise EvidenceError(f"{path}: names the record {subject['name']}, not its own (moved or swapped)")
    try:
        record_bytes = record_path.read_bytes()
    except OSError:
        raise EvidenceError(f"{path}: its record {record_path.name} is missing") from None
    if sha256(record_bytes) != subject.get("digest", {}).get("sha256"):
        raise EvidenceError(f"{record_path}: edited after it was signed (sha256 differs from {path.name})")
    record = json.loads(record_bytes)
    for key in ("gate", "verdict", "release", "environment", "finished_at"):
        if record.get(key) != decision.get(key):
            raise EvidenceError(f"{path}: the statement's {key} disagrees with {record_path.name}")
    if predicate.get("result") != RESULTS.get(str(record.get("verdict"))):
        raise EvidenceError(f"{path}: result {predicate.get('result')} does not state verdict {record.get('verdict')}")
    claimed = decision.get("signer") or {}
    if claimed.get("name") != signer.identity.name or claimed.get("role") != signer.identity.role:
        raise EvidenceError(f"{path}: claims signer {claimed.get('name')!r} ({claimed.get('role')!r}) but the key is "
                            f"{signer.identity.name}'s ({signer.identity.role})")
    return Link(record_path, str(decision["gate"]), str(decision["verdict"]), str(chain["environment"]),
                str(decision["finished_at"]), int(chain["sequence"]), signer.identity)


def _check_chain(links: list[tuple[Link, Path, bytes, dict[str, Any]]]) -> None:
    """Sequence 1, 2, 3... each naming the previous envelope's digest; stages never going back."""
    previous: tuple[Path, bytes] | None = None
    stage, stage_link = 0.0, None
    for index, (link, path, _data, chain) in enumerate(links, start=1):
        if link.sequence != index:
            raise EvidenceError(f"{path}: chain sequence {link.sequence} where {index} was expected "
                                "(a decision is missing, duplicated or out of order)")
        named = chain.get("previous")
        if previous is None:
            if named is not None:
                raise EvidenceError(f"{path}: names a previous decision {named.get('name')} that is not here")
        else:
            if not named or named.get("name") != previous[0].name \
                    or named.get("digest", {}).get("sha256") != sha256(previous[1]):
                raise EvidenceError(f"{path}: its previous link does not match {previous[0].name} "
                                    "(missing, swapped or edited)")
        this_stage = STAGES.get(link.gate)
        if this_stage is not None:
            if this_stage < stage:
                raise EvidenceError(f"{path}: {link.gate} after {stage_link}: the gates ran out of order")
            stage, stage_link = this_stage, link.gate
        if link.verdict == "NO-GO":
            stage, stage_link = 0.0, None  # that attempt stopped there: the next one starts again from Gate 1
        previous = (path, _data)


def verify(directory: Path, release: str, keys: Mapping[str, TrustedKey],
           attestations_path: Path | None = None) -> Story:
    """Verify every decision of ``release`` in ``directory`` (and its attestations); EvidenceError names the file."""
    if not keys:
        raise EvidenceError("evidence.trusted_keys: no trusted key configured; nothing can be verified")
    if not directory.is_dir():
        raise EvidenceError(f"{directory}: not a directory")
    story = Story(release)
    by_environment: dict[str, list[tuple[Link, Path, bytes, dict[str, Any]]]] = {}
    signed_records = set()
    for path, data, statement, signer in _decision_envelopes(directory, release, keys):
        link = _check_record(path, statement, signer)
        signed_records.add(link.path.name)
        by_environment.setdefault(link.environment, []).append((link, path, data, statement["predicate"]["chain"]))
    for path in sorted(directory.glob("*.json")):
        if path.name.startswith("latest-") or path.name in signed_records:
            continue
        with contextlib.suppress(OSError, ValueError):
            document = json.loads(path.read_bytes())
            if isinstance(document, dict) and document.get("release") == release and "verdict" in document:
                raise EvidenceError(f"{path}: a decision record of release {release} with no valid envelope "
                                    "(unsigned, or its envelope was deleted)")
    if not by_environment:
        raise EvidenceError(f"{directory}: no signed decision of release {release}")
    for environment, links in sorted(by_environment.items()):
        links.sort(key=lambda item: (item[0].sequence, item[1].name))
        _check_chain(links)
        story.chains[environment] = [item[0] for item in links]
    _check_latest(directory, release, by_environment)
    if attestations_path is not None:
        story.attestations = _verify_attestations(attestations_path, release, keys)
    return story


def _check_latest(directory: Path, release: str, chains: Mapping[str, Sequence[tuple[Link, Path, bytes, Any]]]) -> None:
    """``latest-<gate>.json`` is a copy of that gate's newest record: one missing from the chain means the chain's
    newest decisions were deleted (the one cut a hash chain alone cannot show)."""
    digests = {sha256(item[0].path.read_bytes()) for links in chains.values() for item in links}
    for path in sorted(directory.glob("latest-*.json")):
        with contextlib.suppress(OSError, ValueError):
            data = path.read_bytes()
            document = json.loads(data)
            if isinstance(document, dict) and document.get("release") == release \
                    and document.get("environment") in chains and sha256(data) not in digests:
                raise EvidenceError(f"{path}: names a decision that is not in the chain of release {release} "
                                    "(a newer record and its envelope were deleted)")


def _verify_attestations(path: Path, release: str, keys: Mapping[str, TrustedKey]) -> list[tuple[int, str, Identity]]:
    sidecar = path.with_name(path.name + ATTESTATION_SUFFIX)
    lines = path.read_bytes().splitlines() if path.exists() else []
    mine: dict[int, tuple[bytes, dict[str, Any]]] = {}
    for number, line in enumerate(lines, start=1):
        try:
            data = json.loads(line)
        except ValueError:
            raise EvidenceError(f"{path}: line {number}: not a JSON object (edited?)") from None
        if isinstance(data, dict) and data.get("release") == release:
            mine[number] = (line, data)
    envelopes = sidecar.read_bytes().splitlines() if sidecar.exists() else []
    seen: dict[int, Identity] = {}
    previous: bytes | None = None
    sequence = 0
    for index, raw in enumerate(envelopes, start=1):
        where = f"{sidecar} line {index}"
        statement, signer = _verified_statement(Path(where), raw, keys, line=True)
        try:
            predicate = statement["predicate"]
            chain, number = predicate["chain"], int(predicate["line"])
            digest = statement["subject"][0]["digest"]["sha256"]
        except (KeyError, TypeError, IndexError, ValueError):
            raise EvidenceError(f"{where}: not a golive sign-off statement") from None
        if chain.get("release") != release:
            continue
        sequence += 1
        if chain.get("sequence") != sequence:
            raise EvidenceError(f"{where}: chain sequence {chain.get('sequence')} where {sequence} was expected")
        named = chain.get("previous")
        if (previous is None) != (named is None) or (
                previous is not None and named.get("digest", {}).get("sha256") != sha256(previous)):
            raise EvidenceError(f"{where}: its previous link does not match the envelope before it")
        if number not in mine or sha256(mine[number][0]) != digest:
            raise EvidenceError(f"{path}: line {number}: edited, moved or deleted after it was signed ({where})")
        claimed = predicate.get("signer") or {}
        if claimed.get("name") != signer.identity.name or claimed.get("role") != signer.identity.role:
            raise EvidenceError(f"{where}: claims signer {claimed.get('name')!r} but the key is "
                                f"{signer.identity.name}'s")
        seen[number] = signer.identity
        previous = raw
    for number in mine:
        if number not in seen:
            raise EvidenceError(f"{path}: line {number}: an attestation of release {release} with no valid signature")
    return [(number, str(mine[number][1].get("item")), seen[number]) for number in sorted(seen)]


# --- from the configuration (golive.config.Settings; duck-typed so this module stays below golive.config) ----


def configured_signer(settings: Any, reports_dir: Path) -> Signer | None:
    """The configuration's signer (``evidence.key`` and ``evidence.signer``), or None when no key is set."""
    section = settings.document.evidence if settings is not None else None
    if section is None or section.key is None:
        return None
    identity = Identity(section.signer.name, section.signer.role)
    return load_signer(settings.path.parent / section.key, identity, reports_dir)


def configured_trust(settings: Any) -> dict[str, TrustedKey]:
    section = settings.document.evidence
    entries = [entry.model_dump() for entry in section.trusted_keys] if section is not None else []
    return trusted(entries, settings.path.parent)


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
