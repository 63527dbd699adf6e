"""What the AWS lifecycle hooks share: the configuration's ``hooks:`` section, one gate run, and whether a
REVIEW has been accepted by an attestation signed after it.

A gate run is golive.gate_process.run_gate's, as ``golive serve`` starts it (golive.serve.runs.GateCommand):
bounded by ``hooks.timeout_s`` (a run still going then is a NO-GO), its record checked against its exit code,
record and log in ``<reports>/hooks/``.
A REVIEW is accepted only by an attestation of ``hooks.review_attestation`` for this release, by a role
that may sign it, made after the run decided and within ``hooks.review_wait_s``; without that item configured
a REVIEW fails the hook.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from golive import acceptance, attestations, gates, human_items, inputs, reports_dir
from golive.acceptance import SignOff, SignOffRule
from golive.config import Settings, load_settings, resolve_path
from golive.config_commands import Hooks
from golive.decision_record import DecisionRecord
from golive.evidence import EvidenceError
from golive.gate_process import GateResult
from golive.gates import Gate
from golive.masking import clip
from golive.serve.runs import GateCommand, Run
from golive.timeline import Timeline, TimelineError

MAX_EVENT_BYTES = inputs.MAX_EVENT_BYTES


class HookError(Exception):
    """A hook cannot do its work (a bad event, configuration, or an AWS call that failed). One line."""


@dataclass(frozen=True)
class HookContext:
    """One hook's configuration: the settings, the ``hooks:`` section, the gate and environment, the reports."""

    settings: Settings
    section: Hooks
    gate: Gate
    environment: str
    reports: Path
    review_item: human_items.HumanItem | None = None
    expect: acceptance.Expectation | None = None  # what a record must be to be acted on (set by load_context)

    def announce(self, kind: str, message: str, source: str) -> None:
        try:
            Timeline.in_reports(self.reports, self.settings.masker).add(kind, message, source=source)
        except TimelineError as error:
            sys.stderr.write(f"golive: {error}\n")


@dataclass(frozen=True)
class GateOutcome:
    verdict: str  # GO, REVIEW, NO-GO
    exit_code: int
    reasons: list[str]
    finished_at: datetime
    record: DecisionRecord | None = field(default=None, compare=False)

    def line(self, context: HookContext) -> str:
        head = f"gate {context.gate.name} on {context.environment}: {self.verdict} (exit {self.exit_code})"
        return head + (f": {clip('; '.join(self.reasons), 400)}" if self.reasons else "")


def load_context(config: str | None, reports: str | None, gate: str | None = None,
                 environ: Mapping[str, str] | None = None) -> HookContext:
    """The hook's configuration (``--golive-config``, else $GOLIVE_CONFIG, else ./golive.yaml) and reports
    directory (golive.reports_dir: ``--golive-reports``, else $GOLIVE_REPORTS, else the ini's, else ./reports).
    ConfigError or HookError: one line."""
    environ = os.environ if environ is None else environ
    path, source = resolve_path(config, environ, Path.cwd())
    settings = load_settings(path, source)
    section = settings.document.hooks or Hooks()
    chosen = gate or section.gate
    if chosen not in gates.BY_ARGUMENT:
        where = "--gate" if gate else f"{path.name}: hooks.gate"
        raise HookError(f"{where}: no gate {chosen!r} (have: {', '.join(sorted(gates.BY_ARGUMENT))})")
    if section.environment is not None:
        if section.environment not in settings.environments:
            raise HookError(f"{path.name}: hooks.environment: no environment {section.environment!r} (have: "
                            f"{', '.join(sorted(settings.environments))})")
        environment = section.environment
    else:
        candidate = settings.environment_by_role("candidate")
        if candidate is None:
            raise HookError(f"{path.name}: hooks.environment: not set, and no environment has role: candidate")
        environment = candidate.name
    review_item = None
    if section.review_attestation is not None:
        items = human_items.by_id(human_items.load_all(human_items.validations_dir(None, environ)))
        review_item = items.get(section.review_attestation)
        if review_item is None:
            raise HookError(f"{path.name}: hooks.review_attestation: no checklist item "
                            f"{section.review_attestation!r} (golive checklist lists them)")
    chosen_reports = reports_dir.resolve(reports, environ, Path.cwd()).path.resolve()
    try:
        expect = acceptance.expectation(settings, environment, gates.BY_ARGUMENT[chosen].name, max_age=None,
                                        reports_dirs=[chosen_reports])
    except (acceptance.AcceptanceError, EvidenceError) as error:
        raise HookError(f"{path.name}: {error}") from None
    return HookContext(settings, section, gates.BY_ARGUMENT[chosen], environment, chosen_reports, review_item,
                       expect)


def read_event(where: str) -> dict[str, Any]:
    """The event a hook was given: a JSON object from FILE, or from standard input for ``-``. HookError: one line."""
    what = f"--event {where}"
    try:
        if where == "-":
            return inputs.json_object(inputs.read_stream(sys.stdin.buffer, what, MAX_EVENT_BYTES), what)
        return inputs.read_json_object(where, what, MAX_EVENT_BYTES)
    except inputs.InputError as error:
        raise HookError(str(error)) from None


def run_gate(context: HookContext) -> GateOutcome:
    """The configured gate on the configured environment, as ``golive serve`` runs it; NO-GO when it cannot run."""
    runs_dir = context.reports / "hooks"
    started = datetime.now(UTC).isoformat(timespec="seconds")
    run = Run(id=uuid.uuid4().hex[:16], gate=context.gate, environment=context.environment, requested_at=started)
    expect = context.expect or acceptance.expectation(context.settings, context.environment, context.gate.name,
                                                      max_age=None, reports_dirs=[context.reports])
    command = GateCommand(context.settings.path.resolve(), context.reports, tuple(context.section.pytest_args),
                          context.section.timeout_s, expect, bound_name="hooks.timeout_s")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        result = command.run(run, runs_dir, threading.Event())
    except OSError as error:
        result = GateResult(2, "NO-GO", (f"the gate run could not run: {error}",))
    masker = context.settings.masker  # the record was written through this configuration's masker already
    # A REVIEW's deadline counts from the run's decision: the record's own finished_at.
    decided = result.record.finished if result.record is not None else datetime.now(UTC).replace(microsecond=0)
    return GateOutcome(result.verdict, result.exit_code, [masker(reason) for reason in result.reasons], decided,
                       result.record)


def review_signoff(context: HookContext, since: datetime, now: datetime | None = None) -> SignOff:
    """Whether a REVIEW decided at ``since`` is signed off (golive.acceptance.SignOffRule: an attestation of
    ``hooks.review_attestation`` for this release, by a role the item allows, made after the run and before
    ``since + hooks.review_wait_s``). An attestations file golive cannot read signs off nothing."""
    item = context.review_item
    if item is None:
        return SignOff(None, "no hooks.review_attestation to accept a REVIEW", expired=True)
    rule = SignOffRule(item.id, tuple(item.roles), context.settings.release.version, since,
                       context.section.review_wait_s)
    try:
        records = attestations.read(context.settings.attestations_path)
    except attestations.AttestationError as error:
        return SignOff(None, str(error), expired=now is not None and now > rule.deadline)
    return rule.judge(records, now)


def review_deadline(context: HookContext, since: datetime) -> datetime:
    return since + timedelta(seconds=context.section.review_wait_s)
