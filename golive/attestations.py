"""Human checklist items as attestations: who signed what, in what role, when, for which release.

The checklist's human items (approvals, briefings, reviews) are data beside the validations of their area
(``validations/<area>.checklist.yaml``, read by ``golive.human_items``). ``golive attest`` appends a record to
an append-only JSON-lines file; an attestation check passes only for a record of this release, by an allowed
role, younger than ``max_age_h``. A file golive cannot read is an error, never an empty list.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from golive import inputs
from golive.human_items import HumanItem
from golive.masking import mask_url


class AttestationError(Exception):
    """The attestations file cannot be trusted or the attestation is not allowed. One line."""


@dataclass(frozen=True)
class Attestation:
    item: str
    by: str
    role: str
    at: str  # ISO-8601 UTC
    release: str
    user: str
    host: str
    note: str = ""

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.at)


_FIELDS = {"item", "by", "role", "at", "release", "user", "host", "note"}
_REQUIRED = _FIELDS - {"note"}


def read(path: Path) -> list[Attestation]:
    """Every record in the file; a missing file is an empty list, a malformed one an AttestationError."""
    if not path.exists() and not path.is_symlink():
        return []
    try:
        lines = inputs.read_bytes(path, f"{path}: the attestations").splitlines()
    except inputs.InputError as error:
        raise AttestationError(str(error)) from None
    records: list[Attestation] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = inputs.parse_json(line, f"{path}: line {number}")
        except inputs.InputError:
            raise AttestationError(f"{path}: line {number}: not a JSON object") from None
        if not isinstance(data, dict) or not set(data) >= _REQUIRED or set(data) - _FIELDS:
            raise AttestationError(f"{path}: line {number}: expected the keys {', '.join(sorted(_FIELDS))}")
        if not all(isinstance(value, str) for value in data.values()):
            raise AttestationError(f"{path}: line {number}: every value must be a string")
        try:
            moment = datetime.fromisoformat(data["at"])
        except ValueError:
            raise AttestationError(f"{path}: line {number}: at: not an ISO-8601 time") from None
        if moment.tzinfo is None:
            raise AttestationError(f"{path}: line {number}: at: has no time zone")
        records.append(Attestation(**data))
    return records


def record(path: Path, item_id: str, by: str, role: str, release: str, note: str = "",
           now: datetime | None = None, *, items: Iterable[HumanItem],
           seal: Callable[[Path, bytes], None] | None = None, mask: Callable[[str], str] = mask_url) -> Attestation:
    """Append one attestation after checking the item exists, the role may sign it and the file is sound.

    ``seal`` appends the line itself, with its signature (golive.evidence.append_signed_attestation). The note (free
    text) passes ``mask``, the configuration's masker where the caller has one, else one of credential shapes."""
    item = next((candidate for candidate in items if candidate.id == item_id), None)
    if item is None:
        raise AttestationError(f"unknown checklist item {item_id!r} (see golive checklist)")
    if not by.strip():
        raise AttestationError("--by: a name is required")
    if not item.allows(role):
        raise AttestationError(f"{item_id}: role {role!r} may not sign it (allowed: {', '.join(item.roles)})")
    read(path)  # refuse to add to a file that is already unreadable: nobody could rely on it
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    attestation = Attestation(
        item=item_id, by=by.strip(), role=role.strip(), at=moment.isoformat(), release=release,
        user=_user(), host=socket.gethostname(), note=mask(note),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(asdict(attestation), sort_keys=True) + "\n"
    if seal is not None:
        seal(path, line.encode("utf-8"))
        return attestation
    # O_APPEND: concurrent writers never interleave within a line this short.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode("utf-8"))
    finally:
        os.close(descriptor)
    return attestation


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass(frozen=True)
class Standing:
    item: HumanItem
    valid: Attestation | None
    reason: str  # why it is open, or who signed it


def standing(item: HumanItem, records: Iterable[Attestation], release: str, max_age_h: float,
             now: datetime | None = None) -> Standing:
    """Whether an item is signed for this release by an allowed role within max_age_h."""
    now = now or datetime.now(UTC)
    mine = [r for r in records if r.item == item.id]
    if not mine:
        return Standing(item, None, f"not attested (to be signed by: {' or '.join(item.roles)})")
    for_release = [r for r in mine if r.release == release]
    if not for_release:
        return Standing(item, None, f"attested only for other releases, not {release}")
    allowed = [r for r in for_release if item.allows(r.role)]
    if not allowed:
        return Standing(item, None, f"attested by {for_release[-1].by} as {for_release[-1].role}, who may not sign it")
    newest = max(allowed, key=lambda r: r.moment)
    age = now - newest.moment
    if age > timedelta(hours=max_age_h):
        hours = age.total_seconds() / 3600
        return Standing(item, None, f"attested by {newest.by} {hours:.0f} h ago; older than {max_age_h:g} h")
    if age < timedelta(seconds=-60):
        return Standing(item, None, f"attested by {newest.by} with a time in the future ({newest.at})")
    return Standing(item, newest, f"signed by {newest.by} ({newest.role}) at {newest.at}")


def open_items(records: Sequence[Attestation], release: str, max_age_h: float, items: Iterable[HumanItem],
               now: datetime | None = None) -> list[Standing]:
    return [s for s in (standing(i, records, release, max_age_h, now) for i in items) if s.valid is None]
