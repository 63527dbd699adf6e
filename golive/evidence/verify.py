"""Verification: every signature against the trusted keys, every record against its subject digest, every
chain link and the order of the gates; the release's story, or an EvidenceError naming the file."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError

from golive import gates, inputs
from golive.decision_record import RecordError, RecordHead
from golive.evidence.envelopes import (
    ATTESTATION_SUFFIX,
    ENVELOPE_SUFFIX,
    RESULTS,
    STAGES,
    envelope_path,
    envelope_text,
    line_text,
    sha256,
    statement_of,
)
from golive.evidence.keys import EvidenceError, Identity, TrustedKey


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


def _verified_statement(path: Path, data: bytes, keys: Mapping[str, TrustedKey],
                        line: bool = False) -> tuple[dict[str, Any], TrustedKey]:
    try:
        envelope = Envelope.from_dict(inputs.parse_json(data, str(path)))
        canonical = (line_text if line else envelope_text)(envelope.to_dict())
    except inputs.InputError as error:
        raise EvidenceError(str(error)) from None
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
    statement = statement_of(inputs.parse_json(data, str(path)))
    return statement, signer


def _read(path: Path) -> bytes:
    """A file of the evidence, bounded (golive.inputs); EvidenceError names it."""
    try:
        return inputs.read_bytes(path, str(path))
    except inputs.InputError as error:
        raise EvidenceError(str(error)) from None


_Envelopes = list[tuple[Path, bytes, dict[str, Any], TrustedKey]]


def _decision_envelopes(directory: Path, release: str, keys: Mapping[str, TrustedKey]) -> _Envelopes:
    found: _Envelopes = []
    for path in sorted(directory.glob(f"*{ENVELOPE_SUFFIX}")):
        data = _read(path)
        with contextlib.suppress(EvidenceError, ValueError, KeyError, TypeError):
            if statement_of(inputs.parse_json(data, str(path)))["predicate"]["chain"]["release"] != release:
                continue  # another release's (perhaps signed by a key since retired); this one's are all checked
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
        record_bytes = inputs.read_bytes(record_path, str(record_path))
    except inputs.InputError as error:
        raise EvidenceError(f"{path}: its record cannot be read ({error})") from None
    _check_subject(path, statement, signer, record_path, record_bytes)
    return Link(record_path, str(decision["gate"]), str(decision["verdict"]), str(chain["environment"]),
                str(decision["finished_at"]), int(chain["sequence"]), signer.identity)


def _check_subject(path: Path, statement: dict[str, Any], signer: TrustedKey, record_path: Path,
                   record_bytes: bytes) -> None:
    """The statement is of these record bytes, states the record's own gate, verdict, release, environment and time,
    and names the key's owner as its signer."""
    predicate = statement["predicate"]
    decision = predicate["decision"]
    subject = statement["subject"][0]
    if sha256(record_bytes) != subject.get("digest", {}).get("sha256"):
        raise EvidenceError(f"{record_path}: edited after it was signed (sha256 differs from {path.name})")
    try:
        head = RecordHead.parse(inputs.parse_json(record_bytes, str(record_path)), str(record_path))
    except (inputs.InputError, RecordError) as error:
        raise EvidenceError(str(error)) from None
    for key in ("gate", "verdict", "release", "environment", "finished_at"):
        if getattr(head, key) != decision.get(key):
            raise EvidenceError(f"{path}: the statement's {key} disagrees with {record_path.name}")
    if predicate.get("result") != RESULTS.get(head.verdict):
        raise EvidenceError(f"{path}: result {predicate.get('result')} does not state verdict {head.verdict}")
    claimed = decision.get("signer") or {}
    if claimed.get("name") != signer.identity.name or claimed.get("role") != signer.identity.role:
        raise EvidenceError(f"{path}: claims signer {claimed.get('name')!r} ({claimed.get('role')!r}) but the key is "
                            f"{signer.identity.name}'s ({signer.identity.role})")


def verify_record(record_path: Path, record_bytes: bytes, keys: Mapping[str, TrustedKey],
                  elsewhere: Sequence[Path] = ()) -> tuple[Identity, Path]:
    """Who signed these bytes of a decision record, and the envelope that says so: the envelope beside the record,
    else (a copy: ``latest-<gate>.json``, ``--golive-json``) the envelope in the record's directory or in
    ``elsewhere`` whose subject is exactly these bytes. EvidenceError (one line) when none verifies against the
    trusted keys."""
    if not keys:
        raise EvidenceError("evidence.trusted_keys: no trusted key configured; the record's signature cannot be "
                            "verified (add the signer's entry that `golive keys init` printed)")
    digest = sha256(record_bytes)
    beside = envelope_path(record_path)
    if beside.exists() or beside.is_symlink():
        candidates = [beside]
    else:
        candidates = []
        for directory in dict.fromkeys([record_path.parent, *elsewhere]):
            for path in sorted(directory.glob(f"*{ENVELOPE_SUFFIX}")):
                with contextlib.suppress(inputs.InputError, EvidenceError, KeyError, TypeError, IndexError,
                                         AttributeError):
                    subject = statement_of(inputs.read_json(path, str(path)))["subject"][0]
                    if subject["digest"]["sha256"] == digest:
                        candidates.append(path)
    if not candidates:
        raise EvidenceError(f"{record_path.name}: unsigned (no envelope of these bytes beside it or in its reports "
                            "directory)")
    path = candidates[0]
    try:
        data = inputs.read_bytes(path, str(path))
    except inputs.InputError as error:
        raise EvidenceError(str(error)) from None
    statement, signer = _verified_statement(path, data, keys)
    try:
        _check_subject(path, statement, signer, record_path, record_bytes)
    except (KeyError, TypeError, IndexError):
        raise EvidenceError(f"{path}: the statement lacks golive's decision fields") from None
    return signer.identity, path


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
        if link.verdict in ("NO-GO", "ROLLED-BACK"):
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
        try:
            document = inputs.read_json(path, str(path))
        except inputs.InputError as error:  # it may be a decision of this release: not knowing is no pass
            raise EvidenceError(f"{error}: verify cannot tell whether it is a decision of release {release}") from None
        with contextlib.suppress(RecordError):
            head = RecordHead.parse(document)
            if head.release == release:
                if envelope_path(path).exists():
                    raise EvidenceError(f"{envelope_path(path)}: not a valid envelope of {path.name}, a decision of "
                                        f"release {release} (edited)")
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
    digests = {sha256(_read(item[0].path)) for links in chains.values() for item in links}
    for path in sorted(directory.glob("latest-*.json")):
        data = _read(path)
        with contextlib.suppress(inputs.InputError, RecordError):
            head = RecordHead.parse(inputs.parse_json(data, str(path)))
            if head.release == release and head.environment in chains and sha256(data) not in digests:
                raise EvidenceError(f"{path}: names a decision that is not in the chain of release {release} "
                                    "(a newer record and its envelope were deleted)")


def _verify_attestations(path: Path, release: str, keys: Mapping[str, TrustedKey]) -> list[tuple[int, str, Identity]]:
    sidecar = path.with_name(path.name + ATTESTATION_SUFFIX)
    lines = _read(path).splitlines() if path.exists() else []
    mine: dict[int, tuple[bytes, dict[str, Any]]] = {}
    for number, line in enumerate(lines, start=1):
        try:
            data = inputs.parse_json(line, f"{path}: line {number}")
        except inputs.InputError:
            raise EvidenceError(f"{path}: line {number}: not a JSON object (edited?)") from None
        if isinstance(data, dict) and data.get("release") == release:
            mine[number] = (line, data)
    envelopes = _read(sidecar).splitlines() if sidecar.exists() else []
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


