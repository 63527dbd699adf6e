"""The one acceptance rule: when a decision record may turn into an action, and when a REVIEW is signed off.

Every place where golive's verdict leaves golive and something acts on it (``golive protection-rule``, the
CodeDeploy and ECS hooks, serve's answers, the cutover's steps, the GitHub summary) asks ``examine`` first. A
record is acted on only when it is

- readable: a regular file, bounded (golive.inputs), a valid decision record (golive.decision_record);
- consistent: its verdict recomputed from its own checks with golive's verdict rules is its verdict and exit
  code (a forged ``"verdict": "GO"`` over failed critical checks is rejected);
- of the gate, release and environment the configuration (or the caller) expects;
- fresh: finished within the allowed age, and not in the future;
- this run's, where golive ran the gate (the ``run_id`` it handed down);
- signed, where ``evidence`` is configured or an envelope lies beside the record: by a trusted key, over these
  exact bytes (golive.evidence.verify_record).

Each rejection is one line naming the reason. The REVIEW sign-off rule (``SignOffRule``) is the same for the
cutover and the engine hooks: an attestation of the named item, for this release, by an allowed role, signed
after the run decided and before the deadline, the deadline counted from the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from golive import evidence, inputs
from golive.attestations import Attestation
from golive.decision_record import DecisionRecord, RecordError
from golive.gate_process import GateResult
from golive.human_items import normal_role

DEFAULT_MAX_AGE = timedelta(minutes=60)
CLOCK_SKEW = timedelta(minutes=1)  # a record or signature this far in the future is still taken as now


class AcceptanceError(ValueError):
    """What a caller asked of the rule cannot be checked (no configuration to take the release from). One line."""


@dataclass(frozen=True)
class Expectation:
    """What a record must be to be acted on. ``None`` leaves that property unchecked (only where the caller
    knows it cannot differ: ``release`` and ``environment`` are always set by the commands)."""

    release: str | None
    environment: str | None
    gate: str | None = None  # the gate's name (golive.gates), e.g. "immediate"
    max_age: timedelta | None = DEFAULT_MAX_AGE
    run_id: str | None = None
    trusted_keys: Mapping[str, evidence.TrustedKey] = field(default_factory=dict)
    evidence_configured: bool = False  # the configuration has an evidence: section: the record must be signed
    elsewhere: tuple[Path, ...] = ()  # reports directories where the envelope of a copied record may lie


@dataclass(frozen=True)
class Acceptance:
    """The rule's answer about one record."""

    record: DecisionRecord | None
    problem: str | None  # the one line why it may not be acted on, else None
    signed_by: str | None = None
    readable: bool = True

    @property
    def valid(self) -> bool:
        return self.problem is None

    @property
    def go(self) -> bool:
        """A record that may be acted on, and says GO."""
        return self.valid and self.record is not None and self.record.verdict == "GO"

    @property
    def verdict(self) -> str:
        """The verdict to act on: the record's when it is valid, else NO-GO."""
        return self.record.verdict if self.valid and self.record is not None else "NO-GO"

    @property
    def exit_code(self) -> int:
        return self.record.exit_code if self.valid and self.record is not None else 2


def expectation(settings: Any, environment: str | None = None, gate: str | None = None,
                max_age: timedelta | None = DEFAULT_MAX_AGE, run_id: str | None = None,
                release: str | None = None, reports_dirs: Sequence[Path] = ()) -> Expectation:
    """The expectation a configuration sets (golive.config.Settings): its release, its candidate environment
    (unless told), its trusted keys; EvidenceError when the trusted keys cannot be read."""
    if environment is None:
        candidate = settings.environment_by_role("candidate")
        if candidate is None:
            raise AcceptanceError(f"{settings.path.name}: no environment has role: candidate; name the environment")
        environment = candidate.name
    elif environment not in settings.environments:
        raise AcceptanceError(f"{settings.path.name}: no environment {environment!r} (have: "
                              f"{', '.join(sorted(settings.environments))})")
    section = settings.document.evidence
    return Expectation(
        release=release or settings.release.version, environment=environment, gate=gate, max_age=max_age,
        run_id=run_id, trusted_keys=evidence.configured_trust(settings), evidence_configured=section is not None,
        elsewhere=tuple(reports_dirs),
    )


def examine(path: Path, expect: Expectation, now: datetime | None = None) -> Acceptance:
    """Whether the record at ``path`` may be acted on (``Acceptance.problem`` says why not)."""
    name = f"decision record {path.name}"
    try:
        data = inputs.read_bytes(path, name)
        record = DecisionRecord.parse(inputs.parse_json(data, name), name)
    except (inputs.InputError, RecordError) as error:
        return Acceptance(None, f"{error}", readable=False)
    problem = _problem(record, expect, now or datetime.now(UTC))
    if problem is not None:
        return Acceptance(record, problem)
    signed_by = None
    if expect.evidence_configured or expect.trusted_keys or evidence.envelope_path(path).exists():
        try:
            identity, envelope = evidence.verify_record(path, data, expect.trusted_keys, expect.elsewhere)
        except evidence.EvidenceError as error:
            return Acceptance(record, f"its signature does not hold: {error}")
        signed_by = f"{identity.name} ({identity.role}), {envelope.name}"
    return Acceptance(record, None, signed_by)


def examine_record(record: DecisionRecord, expect: Expectation, now: datetime | None = None) -> Acceptance:
    """``examine`` for a record already in hand and not on disk (no signature to check): consistency, gate,
    release, environment, age and run id."""
    return Acceptance(record, _problem(record, expect, now or datetime.now(UTC)))


def _problem(record: DecisionRecord, expect: Expectation, now: datetime) -> str | None:
    inconsistency = record.inconsistency()
    if inconsistency is not None:
        return f"it contradicts itself: {inconsistency}"
    if expect.gate is not None and record.gate != expect.gate:
        return f"it is a record of gate {record.gate}, not of gate {expect.gate}"
    if expect.release is not None and record.release != expect.release:
        return f"it is of release {record.release}, not of release {expect.release} (the configuration's)"
    if expect.environment is not None and record.environment != expect.environment:
        return f"it is of environment {record.environment}, not of {expect.environment}"
    finished = record.finished
    if finished - now > CLOCK_SKEW:
        return f"it finished in the future ({record.finished_at})"
    if expect.max_age is not None and now - finished > expect.max_age:
        return (f"it is older than {expect.max_age.total_seconds() / 60:g} minutes (finished "
                f"{record.finished_at})")
    if expect.run_id is not None and record.run_id != expect.run_id:
        return f"it is not this run's record (run id {record.run_id or 'none'}, expected {expect.run_id})"
    return None


# --- REVIEW sign-off -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignOff:
    """Whether a REVIEW is signed off: the attestation that does it, or why none does yet."""

    attestation: Attestation | None
    reason: str
    expired: bool = False  # past the deadline: no attestation can sign it off any more

    @property
    def accepted(self) -> bool:
        return self.attestation is not None


@dataclass(frozen=True)
class SignOffRule:
    """A REVIEW decided at ``decided_at`` is signed off by an attestation of ``item`` for ``release``, by one of
    ``roles``, made at or after ``decided_at`` and at or before ``decided_at + wait_s``."""

    item: str
    roles: tuple[str, ...]
    release: str
    decided_at: datetime
    wait_s: float

    @property
    def deadline(self) -> datetime:
        return self.decided_at + timedelta(seconds=self.wait_s)

    def allows(self, role: str) -> bool:
        return normal_role(role) in {normal_role(allowed) for allowed in self.roles}

    def judge(self, records: Iterable[Attestation], now: datetime | None = None) -> SignOff:
        """The sign-off among ``records`` (the attestations file), as of ``now``."""
        now = now or datetime.now(UTC)
        deadline = self.deadline
        roles = " or ".join(self.roles)
        mine = [a for a in records if a.item == self.item and a.release == self.release]
        for attestation in sorted(mine, key=lambda a: a.moment):
            moment = attestation.moment
            if not self.allows(attestation.role):
                continue
            if moment < self.decided_at or moment > deadline or moment - now > CLOCK_SKEW:
                continue
            return SignOff(attestation, f"signed by {attestation.by} ({attestation.role}) at {attestation.at}")
        late = [a for a in mine if self.allows(a.role) and a.moment > deadline]
        if now > deadline:
            why = (f"signed by {late[0].by} at {late[0].at}, after the deadline {deadline.isoformat()}" if late
                   else f"no attestation of {self.item} by {roles} between {self.decided_at.isoformat()} and "
                        f"the deadline {deadline.isoformat()}")
            return SignOff(None, why, expired=True)
        return SignOff(None, f"waiting for `golive attest {self.item}` by {roles} until {deadline.isoformat()}")


# --- a run golive started itself ----------------------------------------------------------------------------


def examine_run(record: DecisionRecord, expect: Expectation, now: datetime | None = None) -> Acceptance:
    """``examine`` for the record of a run golive started (golive.gate_process checked its run id and exit
    code): the record the run wrote into its reports directory (``<stem>.json`` beside its ``html_report``),
    signed where evidence asks it, must be this very record; without evidence and without an envelope, the
    record in hand is judged as it is."""
    stamped = Path(record.html_report).with_suffix(".json") if record.html_report else None
    if stamped is not None and (stamped.exists() or expect.evidence_configured):
        examined = examine(stamped, expect, now)
        if examined.valid and examined.record != record:
            return Acceptance(record, f"{stamped.name} in the reports directory is not the run's own record")
        return examined
    if expect.evidence_configured:
        return Acceptance(record, "the run left no record in its reports directory to verify the signature of")
    return examine_record(record, expect, now)


def accept_run(result: GateResult, expect: Expectation, now: datetime | None = None) -> GateResult:
    """The runner's result as it may be acted on: unchanged when its record passes the rule (or it is a NO-GO
    already, which nothing acts on), else a NO-GO that names why (serve's answers, the hooks, the cutover)."""
    if result.record is None or result.verdict == "NO-GO":
        return result
    examined = examine_run(result.record, expect, now)
    if examined.valid:
        return result
    problem = f"the decision record is not acted on: {examined.problem}"
    return GateResult(2, "NO-GO", (problem, *result.reasons), result.record, problem=problem)
