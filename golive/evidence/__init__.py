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

Modules: ``keys`` (key pairs, signers, trusted keys), ``envelopes`` (statements, signing, chaining),
``verify`` (checking a release's evidence). Their public names are re-exported here: ``evidence.verify(...)``.
"""

from __future__ import annotations

from golive.evidence.envelopes import (
    ATTESTATION_SUFFIX,
    ENVELOPE_SUFFIX,
    PAYLOAD_TYPE,
    RESULTS,
    SIGN_OFF_PREDICATE,
    STAGES,
    STATEMENT_TYPE,
    TEST_RESULT_PREDICATE,
    append_signed_attestation,
    attestation_lock,
    envelope_path,
    record_lock,
    record_statement,
    seal_attestation,
    seal_record,
    sha256,
    statement_of,
)
from golive.evidence.keys import (
    EvidenceError,
    Identity,
    KeyPair,
    Signer,
    TrustedKey,
    configured_signer,
    configured_trust,
    generate,
    inside,
    key_from_file,
    key_from_hex,
    load_signer,
    trusted,
)
from golive.evidence.verify import Link, Story, verify, verify_record

__all__ = [
    "ATTESTATION_SUFFIX", "ENVELOPE_SUFFIX", "PAYLOAD_TYPE", "RESULTS", "SIGN_OFF_PREDICATE", "STAGES",
    "STATEMENT_TYPE", "TEST_RESULT_PREDICATE", "EvidenceError", "Identity", "KeyPair", "Link", "Signer", "Story",
    "TrustedKey", "append_signed_attestation", "attestation_lock", "configured_signer", "configured_trust",
    "envelope_path", "generate", "inside", "key_from_file", "key_from_hex", "load_signer", "record_lock",
    "record_statement", "seal_attestation", "seal_record", "sha256", "statement_of", "trusted", "verify",
    "verify_record",
]
