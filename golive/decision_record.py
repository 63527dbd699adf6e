"""The decision record, typed: the one model of the JSON every gate run leaves (CONTRACT section 5), and the one
code that reads one.

The record is the interface between the pytest run and everything that acts on a verdict (``golive gate``,
serve, the engine hooks, the protection rule, the cutover, the GitHub summary, history, evidence). Each of them
loads it here: bounded (golive.inputs: a regular file, size and depth capped, no symlink leaving its
directory), validated (types, the outcome and severity words, ISO times with a zone), and then asked what it
needs: ``label``, ``failed_checks``, ``agrees(exit_code)``, and ``consistent()``, which recomputes the verdict
from the recorded checks with golive's own rules (golive.verdict) and compares it with the recorded verdict and
exit code. ``golive record schema`` prints the JSON Schema.

A record whose verdict is more cautious than its checks (a NO-GO whose checks passed: the run as a whole could
not be trusted, a condition the checks do not carry) is consistent; a record less cautious than its checks
never is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from golive import inputs
from golive.verdict import CheckResult, Outcome, RunConditions, Severity, Verdict, count, decide_checks

LABELS: tuple[str, ...] = tuple(verdict.label for verdict in Verdict)  # GO, REVIEW, NO-GO


class RecordError(ValueError):
    """A decision record golive will not act on: unreadable, malformed, or not golive's. One line."""


def _aware(value: str) -> str:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("an ISO-8601 time with its zone")
    return value


class CheckRecord(BaseModel):
    """One check of the record: what ran, how it ended, how much it weighs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = ""
    component: str
    category: str = ""
    severity: Severity
    outcome: Outcome
    message: str = ""
    duration_s: float = 0.0
    waiver: str | None = None
    facts: dict[str, Any] | None = None

    @property
    def blocking(self) -> bool:
        """Failed or errored (a waived check is not blocking)."""
        return self.outcome in (Outcome.FAILED, Outcome.ERROR)

    def summary(self) -> dict[str, Any]:
        """What consumers show of a blocking check (serve's ``failed``, the GitHub summary)."""
        return {"id": self.id, "title": self.title, "severity": self.severity.value, "component": self.component,
                "outcome": self.outcome.value, "message": self.message}


class PartialRecord(BaseModel):
    """``partial``: a run that ran only some of its gate's checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ran: int = Field(ge=0)
    of: int = Field(ge=0)
    by: list[str] = Field(default_factory=list)
    stopped: str | None = None


class DecisionRecord(BaseModel):
    """A gate run's decision record (``reports/<gate>-<env>-<stamp>.json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gate: str
    marker_expression: str | None = None
    verdict: Literal["GO", "REVIEW", "NO-GO"]
    exit_code: int
    environment: str | None
    release: str | None
    started_at: str
    finished_at: str
    duration_s: float
    config: str | None = None
    html_report: str | None = None
    partial: PartialRecord | None = None
    run_id: str | None = None
    reasons: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    counts: dict[str, int]
    checks: list[CheckRecord]

    _times = field_validator("started_at", "finished_at")(_aware)

    # --- reading -------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str, what: str | None = None) -> DecisionRecord:
        """The record at ``path``, read bounded and validated; RecordError (one line) otherwise."""
        name = what or f"decision record {Path(path).name}"
        try:
            document = inputs.read_json_object(path, name)
        except inputs.InputError as error:
            raise RecordError(str(error)) from None
        return cls.parse(document, name)

    @classmethod
    def parse(cls, document: object, what: str = "decision record") -> DecisionRecord:
        """A record from an already bounded JSON document; RecordError (one line) otherwise."""
        return _validated(cls, document, what, "a golive decision record")

    def document(self) -> dict[str, Any]:
        """The record as JSON data, as written (keys a writer left out stay out)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @staticmethod
    def schema_text() -> str:
        """The JSON Schema of a decision record (``golive record schema``)."""
        schema = DecisionRecord.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "golive decision record"
        return json.dumps(schema, indent=2)

    # --- what consumers ask --------------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The verdict's label: GO, REVIEW or NO-GO."""
        return self.verdict

    @property
    def stated(self) -> Verdict:
        verdict = Verdict.of_label(self.verdict)
        assert verdict is not None  # the model admits only the three labels
        return verdict

    @property
    def finished(self) -> datetime:
        return datetime.fromisoformat(self.finished_at)

    @property
    def failed_checks(self) -> list[CheckRecord]:
        """The checks that failed or errored (waived ones are not among them)."""
        return [check for check in self.checks if check.blocking]

    def agrees(self, exit_code: object) -> bool:
        """The record states this exit code, and its verdict is that code's."""
        return type(exit_code) is int and self.exit_code == exit_code and self.stated.value == exit_code

    def recomputed(self) -> Verdict:
        """The verdict golive's rules give the recorded checks: the checks' own verdict, at most a REVIEW for a
        partial run, a NO-GO for a run with no check."""
        if not self.checks:
            return Verdict.NO_GO
        results = [CheckResult(id=check.id, outcome=check.outcome, severity=check.severity,
                               component=check.component, message=check.message) for check in self.checks]
        verdict = decide_checks(results, RunConditions()).verdict
        if self.partial is not None and verdict is Verdict.GO:
            return Verdict.REVIEW
        return verdict

    def inconsistency(self) -> str | None:
        """Why the record contradicts itself, or None: verdict and exit code, counts and checks, and the verdict
        recomputed from the checks."""
        if not self.agrees(self.exit_code):
            return f"its verdict {self.verdict} and exit code {self.exit_code} do not agree"
        results = [CheckResult(id=check.id, outcome=check.outcome) for check in self.checks]
        if self.counts != count(results):
            return "its counts are not those of its checks"
        unexplained = [check.id for check in self.checks if check.outcome is Outcome.WAIVED and not check.waiver]
        if unexplained:
            return f"{unexplained[0]} is waived without a waiver"
        recomputed = self.recomputed()
        if recomputed.value > self.stated.value:
            blocking = [f"{check.id} {check.outcome.value}" for check in self.failed_checks]
            detail = f" ({', '.join(blocking[:3])})" if blocking else ""
            return f"it says {self.verdict}, its own checks say {recomputed.label}{detail}"
        if recomputed.value < self.stated.value and not self.reasons:
            return f"it says {self.verdict} with no reason, its checks say {recomputed.label}"
        return None

    def consistent(self) -> bool:
        """The verdict recomputed from the recorded checks with golive's verdict rules equals the recorded verdict
        and exit code (or the record is more cautious, and says why)."""
        return self.inconsistency() is None


def checks_of(document: Mapping[str, Any]) -> list[CheckRecord]:
    """The checks of any record golive seals (a gate's; a cutover's has none); RecordError when malformed."""
    try:
        return [CheckRecord.model_validate(check) for check in document.get("checks") or []]
    except ValidationError as error:
        raise RecordError(f"not a golive record's checks ({error.errors()[0]['msg']})") from None


class RecordHead(BaseModel):
    """What the evidence layer reads of any record it seals (gate records and the cutover's)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    gate: str
    verdict: str
    release: str | None = None
    environment: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None

    @classmethod
    def parse(cls, document: object, what: str = "record") -> RecordHead:
        return _validated(cls, document, what, "a golive record")


_Model = TypeVar("_Model", bound=BaseModel)


def _validated(model: type[_Model], document: object, what: str, kind: str) -> _Model:
    """``document`` as ``model``; RecordError naming the first key that is wrong, in one line."""
    if not isinstance(document, dict):
        raise RecordError(f"{what}: not a JSON object")
    try:
        return model.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        raise RecordError(f"{what}: not {kind} ({where}: {first['msg']})") from None
