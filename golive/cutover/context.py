"""What one ``golive cutover`` run works with: its options, the context its parts share, its one-line error."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from golive import evidence
from golive.config import Cutover, EnvironmentView, Settings
from golive.cutover import record as cutover_record
from golive.cutover.journal import Journal
from golive.cutover.traffic import TrafficManager, weights_for
from golive.gate_process import GateResult
from golive.timeline import Timeline, TimelineError
from golive.triggers import Rule

SOURCE = "golive cutover"
GateRunner = Callable[[str, Sequence[str]], GateResult]  # golive.gate_process.run_gate


class CutoverError(Exception):
    """The cutover cannot start as asked (configuration, starting state, journal, lock). One line, exit 2."""


@dataclass
class Options:
    plan: str | None = None
    bake: str | None = None
    dry_run: bool = False
    resume: bool = False
    abort: bool = False
    on_rollback: str | None = None
    reports_dir: Path = Path("reports")


@dataclass
class Context:
    settings: Settings
    section: Cutover
    candidate: EnvironmentView
    live: EnvironmentView
    front_url: str
    traffic: list[TrafficManager]
    rules: list[Rule]
    want_memory: bool
    out: TextIO
    timeline: Timeline
    journal: Journal
    story: cutover_record.Story
    run_gate: GateRunner
    reports_dir: Path
    on_rollback: str | None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    interrupted: threading.Event = field(default_factory=threading.Event)
    signer: evidence.Signer | None = None  # evidence.key: the cutover record is signed and chained

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def event(self, kind: str, message: str) -> None:
        self.story.event(kind, message)
        try:
            self.timeline.add(kind, message, source=SOURCE)
        except TimelineError as error:
            self.say(f"golive: {error}")

    def weights(self, share: int) -> dict[str, int]:
        return weights_for(self.candidate.name, self.live.name, share)


def utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
