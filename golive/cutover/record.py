"""The cutover record: one JSON document beside the gate records, and an HTML page that draws it.

The record holds the steps (share, bake, the gate before each and its verdict, the calls and their attempts),
the triggers evaluated, every reading of the candidate and of the front door, the weights over time, the
events, the rollback (how long the calls took, what the front door answered after) and the outcome: GO (exit
0) or ROLLED-BACK (exit 2). The page shows the weights and the readings over time as an SVG picture. Both are
masked with the configuration's secrets where they are written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from golive import evidence, inputs, templating
from golive.record import unique_stem, write_signed
from golive.triggers import Reading

GATE = "cutover"  # the record's "gate" (its kind), the name of its files (cutover-<stamp>.json)


@dataclass
class StepRecord:
    share: int
    bake_s: float
    gate: str | None
    gate_verdict: str | None = None
    gate_exit: int | None = None
    gate_record: str | None = None
    signed_by: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    moved_at: str | None = None
    bake_started: str | None = None
    bake_ended: str | None = None


@dataclass
class Story:
    """What the cutover did, gathered as it goes (times in seconds since it started)."""

    release: str
    candidate: str
    live: str
    managers: list[str]
    rules: list[str]
    run_id: str | None = None
    resumed: bool = False
    steps: list[StepRecord] = field(default_factory=list)
    outcome: str = "ROLLED-BACK"
    exit_code: int = 2
    reason: str | None = None
    trigger: str | None = None
    rollback: dict[str, Any] | None = None
    on_rollback_ran: bool = False
    readings: list[dict[str, Any]] = field(default_factory=list)
    weights: list[dict[str, float]] = field(default_factory=list)  # {"t": s, "share": candidate percent}
    events: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    origin: float = field(default_factory=time.monotonic)
    fired_at_monotonic: float | None = None
    condition_since_monotonic: float | None = None

    def _t(self, moment: float | None = None) -> float:
        return round((time.monotonic() if moment is None else moment) - self.origin, 3)

    def reading(self, source: str, reading: Reading) -> None:
        self.readings.append({
            "t": self._t(reading.at), "source": source, "error_ratio": reading.error_ratio, "p95_ms": reading.p95_ms,
            "app_ok": reading.app_ok, "database_ok": reading.database_ok, "memory_ratio": reading.memory_ratio,
            **({"notes": dict(reading.notes)} if reading.notes else {}),
        })  # fmt: skip

    def weight(self, moment: float, share: int) -> None:
        self.weights.append({"t": self._t(moment), "share": share})

    def event(self, kind: str, message: str) -> None:
        self.events.append({"t": self._t(), "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                            "kind": kind, "message": message})  # fmt: skip

    def document(self) -> dict[str, Any]:
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        body = {key: value for key, value in asdict(self).items()
                if key not in ("origin", "fired_at_monotonic", "condition_since_monotonic")}  # fmt: skip
        return {"gate": GATE, "verdict": self.outcome, "environment": self.candidate, **body, "finished_at": finished,
                "duration_s": self._t()}  # fmt: skip


def write(story: Story, reports_dir: Path, mask: Callable[[str], str], signer: evidence.Signer | None = None,
          config_path: Path | None = None) -> tuple[Path, Path, str]:
    """``reports/cutover-<stamp>.json`` and its ``.html`` picture, masked; also ``latest-cutover.json``. Signed and
    chained after the release's Gate 2 when ``evidence.key`` is configured (golive.evidence); returns the paths and
    the signature state."""
    document = inputs.parse_json(mask(json.dumps(story.document())), "the cutover record")
    stem = unique_stem(reports_dir, GATE, story.candidate, datetime.now(UTC))
    json_path, html_path = stem.with_suffix(".json"), stem.with_suffix(".html")
    document["html_report"] = str(html_path)
    state = write_signed(document, json_path, reports_dir, signer, config_path)
    html_path.write_text(templating.render("cutover.html", mask, story=document, picture=picture(document),
                                           evidence_state=state), encoding="utf-8")  # fmt: skip
    return json_path, html_path, state


# --- the picture -------------------------------------------------------------------------------------------

WIDTH, LEFT, RIGHT = 960, 70, 20
PANELS = (("share", "candidate share of traffic (%)", 110), ("error_ratio", "error ratio", 90),
          ("p95_ms", "p95 (ms)", 90))  # fmt: skip
COLOURS = {"candidate": "#0969da", "front": "#8250df", "share": "#1a7f37"}
EVENT_COLOURS = {"error": "#cf222e", "warning": "#9a6700", "gate": "#8250df", "complete": "#1a7f37"}


def picture(document: dict[str, Any]) -> dict[str, Any]:
    """Coordinates for the SVG: one panel per series over the cutover's time, and a line per event."""
    end = max([float(document.get("duration_s") or 0.0), 1.0]
              + [float(r["t"]) for r in document["readings"]] + [float(w["t"]) for w in document["weights"]])
    plot = WIDTH - LEFT - RIGHT

    def x(t: float) -> float:
        return round(LEFT + plot * max(0.0, t) / end, 1)

    panels: list[dict[str, Any]] = []
    top = 20
    for key, title, height in PANELS:
        lines: list[dict[str, Any]] = []
        if key == "share":
            high = 100.0
            points, last = [], None
            for item in document["weights"]:
                if last is not None:
                    points.append((x(item["t"]), last))
                last = float(item["share"])
                points.append((x(item["t"]), last))
            if last is not None:
                points.append((x(end), last))
            lines.append({"colour": COLOURS["share"], "label": "share", "points": points, "gaps": []})
        else:
            values = [float(r[key]) for r in document["readings"] if r.get(key) is not None]
            high = max([*values, 0.1 if key == "error_ratio" else 100.0]) * 1.1
            for source in ("candidate", "front"):
                series = [r for r in document["readings"] if r["source"] == source]
                points = [(x(r["t"]), float(r[key])) for r in series if r.get(key) is not None]
                gaps = [x(r["t"]) for r in series if r.get(key) is None]  # no data: counted against health
                lines.append({"colour": COLOURS[source], "label": source, "points": points, "gaps": gaps})
        for line in lines:
            line["path"] = " ".join(f"{px},{round(top + height - height * value / high, 1)}"
                                    for px, value in line["points"])  # fmt: skip
        panels.append({"title": title, "top": top, "height": height, "high": _tick(high), "lines": lines,
                       "bottom": top + height})  # fmt: skip
        top += height + 40
    events = [{"x": x(float(e["t"])), "colour": EVENT_COLOURS.get(e["kind"], "#57606a"), "kind": e["kind"],
               "message": e["message"], "t": e["t"]} for e in document["events"]]  # fmt: skip
    return {"width": WIDTH, "height": top, "left": LEFT, "right": WIDTH - RIGHT, "end": round(end, 1),
            "panels": panels, "events": events}  # fmt: skip


def _tick(value: float) -> str:
    return f"{value:.3g}"
