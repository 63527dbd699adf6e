"""Ed25519 keys for the evidence: making a pair, loading a signer (refusing an exposed key), the trusted keys.

securesystemslib's ``CryptoSigner`` and ``SSlibKey`` over pyca/cryptography; a private key's bytes are read only to
build the signer and never printed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
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
from securesystemslib.signer import CryptoSigner, SSlibKey


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
    """Write ``<name>.key`` (PEM PKCS#8, mode 0600) and ``<name>.pub`` (PEM) into ``directory``.

    Both or neither: each is created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, so an existing file is never replaced
    and a symbolic link (dangling or not) is never written through, and both are checked before either is made;
    if the second cannot be created, the first is removed. A refusal is an EvidenceError naming the file.
    """
    if os.path.lexists(directory) and not directory.is_dir():
        raise EvidenceError(f"{directory}: not a directory (--out names the directory the keys go into)")
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise EvidenceError(f"{directory}: cannot make the keys directory ({_why(error)})") from None
    private_path, public_path = directory / f"{name}.key", directory / f"{name}.pub"
    for path in (private_path, public_path):
        _refuse_present(path)
    signer = CryptoSigner.generate_ed25519()
    key = signer.public_key
    pem = key._crypto_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    created: list[Path] = []
    try:
        for path, mode, data in ((private_path, 0o600, signer.private_bytes), (public_path, 0o644, pem)):
            descriptor = _create(path, mode)
            created.append(path)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
    except BaseException:
        for path in created:  # made by this call (O_EXCL): never half a pair left behind
            path.unlink(missing_ok=True)
        raise
    return KeyPair(private_path, public_path, key)


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _refuse_present(path: Path) -> None:
    """EvidenceError when something is at ``path``: a symbolic link (dangling or not) or any file."""
    if os.path.lexists(path):
        raise _present(path)


def _present(path: Path) -> EvidenceError:
    if path.is_symlink():
        return EvidenceError(f"{path}: a symbolic link; keys are never written through one (remove it, or choose "
                             "another --name or --out)")  # fmt: skip
    return EvidenceError(f"{path}: exists; choose another --name or --out (keys are never overwritten)")


def _create(path: Path, mode: int) -> int:
    try:
        return os.open(path, _CREATE, mode)
    except FileExistsError:  # appeared since the check (O_EXCL refuses a link, dangling or not, as existing)
        raise _present(path) from None
    except OSError as error:
        raise EvidenceError(f"{path}: cannot create it ({_why(error)})") from None


def _why(error: OSError) -> str:
    return error.strerror or type(error).__name__


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
