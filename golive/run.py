"""The state of one gate run, kept in ``config.stash``: what the plugin, its hooks and the fixtures share.

Every golive module that needs the run imports it from here (``gate_run(config)``); this module imports
none of them, so the plugin, the fixtures and the catalog never import each other to reach it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from golive import evidence, record
from golive.config import EnvironmentView, Settings
from golive.masking import Masker
from golive.verdict import CheckResult, Decision, Phase, RunConditions

# The user_properties key golive.fixtures.latency_picture writes and the recorder reads.
LATENCY_PROPERTY = "golive_latency"

# The workeroutput key an xdist worker's watchdog (golive.watchdog) leaves its message under for the controller.
OVERRUN_OUTPUT = "golive_overrun"

# Set on a check's item by golive.fixtures.fail_as_warning; read when its call report gets its severity.
SEVERITY_OVERRIDE = pytest.StashKey[str]()


@dataclass
class GateRun:
    """Everything one gate run knows; kept in ``config.stash``, never in module globals."""

    validations_dir: Path
    expression: str
    gate: str
    started_at: datetime
    reports_dir: Path
    stem: Path
    is_controller: bool
    reports_source: str = "default"  # where reports_dir came from (golive.reports_dir): --golive-reports, ...
    masker: Masker = field(default_factory=Masker)
    settings: Settings | None = None
    environment: EnvironmentView | None = None
    env_name: str | None = None
    phases: dict[str, list[Phase]] = field(default_factory=dict)
    meta: dict[str, dict[str, str]] = field(default_factory=dict)
    conditions: RunConditions = field(default_factory=RunConditions)
    decision: Decision | None = None
    results: list[CheckResult] = field(default_factory=list)
    html_path: Path | None = None
    json_path: Path | None = None
    stopped_at_maxfail: bool = False
    latencies: list[dict[str, Any]] = field(default_factory=list)  # pictures for the report, from checks
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id -> what the check read (golive.facts)
    session: pytest.Session | None = None
    subset_args: list[str] | None = None  # paths or node ids inside validations/ that narrowed the gate
    previous_sigterm: Any = None  # the SIGTERM handler before the run's own, put back when it ends
    signer: evidence.Signer | None = None  # evidence.key: who signs the record (None: unsigned)
    evidence_state: str = "unsigned"  # what the report says about the record's signature


GATE_RUN = pytest.StashKey[GateRun]()


def gate_run(config: pytest.Config) -> GateRun | None:
    """The gate run of this pytest session, or None when the session is not a gate run."""
    return config.stash.get(GATE_RUN, None)


def decides_nothing(config: pytest.Config) -> str | None:
    """The option that makes this run run no check (``--collect-only``, ``--fixtures``...), if any."""
    return next((options[0] for dest, options in record.NO_DECISION_OPTIONS.items()
                 if getattr(config.option, dest, None)), None)  # fmt: skip


def first_line(text: str, limit: int = 300) -> str:
    """The first non-blank line of ``text``, cut to ``limit`` characters: how golive quotes pytest's messages."""
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."
