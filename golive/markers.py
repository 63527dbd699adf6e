"""Reads ``markers.ini``, the one declaration of golive's markers (CONTRACT section 6)."""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from golive import gates

MARKERS_FILE = Path(__file__).with_name("markers.ini")


@dataclass(frozen=True)
class Marker:
    name: str  # as written, possibly with an argument list: component(name)
    description: str
    group: str

    @property
    def bare_name(self) -> str:
        return self.name.split("(", 1)[0]

    @property
    def ini_line(self) -> str:
        return f"{self.name}: {self.description}"


@cache
def declared_markers(path: Path = MARKERS_FILE) -> tuple[Marker, ...]:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep marker names as written
    with path.open(encoding="utf-8") as handle:
        parser.read_file(handle)
    return tuple(
        Marker(name=name.strip(), description=description.strip(), group=group)
        for group in parser.sections()
        for name, description in parser.items(group)
    )


def gate_markers() -> tuple[str, ...]:
    return tuple(marker.bare_name for marker in declared_markers() if marker.group == "gates")


def gate_table_problem() -> str | None:
    """Why golive/gates.py and markers.ini [gates] disagree, or None."""
    try:
        gates.check_against_markers((m.bare_name, m.description) for m in declared_markers() if m.group == "gates")
    except gates.GateTableError as error:
        return str(error)
    return None


CRITICAL = "critical"
COMPONENT = "component"
PHASE = "phase"
REQUIRES = "requires"
