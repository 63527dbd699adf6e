"""The gate table: the one place that says which gates exist, what each runs, what it is called and who decides.

``golive gate N`` picks a row by its number or name; the record, the terminal, the HTML report and the demo
read their titles and authorities from here. The markers each gate runs are declared in ``markers.ini``
(``[gates]``); ``check_against_markers`` proves the two agree (every gate marker belongs to exactly one gate,
and its description names that gate's title and authority), and the plugin runs it when it registers the
markers, so a table that drifted from ``markers.ini`` stops every run instead of mislabelling one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Gate:
    name: str  # the record's "gate" and the report's file names: pre, final, config, immediate, post
    number: str | None  # "1", "2", "3" for the runbook's three decisions
    markers: tuple[str, ...]  # the gate markers whose checks it runs (markers.ini [gates])
    title: str
    authority: str  # the role whose decision it is
    aliases: tuple[str, ...] = ()  # other names `golive gate` accepts

    @property
    def expression(self) -> str:
        """The ``-m`` marker expression of this gate (CONTRACT section 2)."""
        return " or ".join(self.markers)

    @property
    def short_title(self) -> str:
        return f"Gate {self.number}" if self.number else self.title

    @property
    def arguments(self) -> tuple[str, ...]:
        """What ``golive gate`` accepts for this gate."""
        return tuple(name for name in (self.number, self.name, *self.aliases) if name)


GATES: tuple[Gate, ...] = (
    Gate("pre", "1", ("pre",), "Gate 1: pre-deployment go/no-go", "Release Manager"),
    Gate("final", None, ("final",), "Final re-check at T+0", "Deployment Lead"),
    Gate("config", None, ("config",), "Configuration validation", "Ops Engineer"),
    Gate("immediate", "2", ("immediate",), "Gate 2: pre-cutover go/no-go", "Deployment Lead"),
    Gate("post", "3", ("extended", "data_integrity"), "Gate 3: post-deployment success", "Deployment Lead"),
)

BY_NAME = {gate.name: gate for gate in GATES}
BY_ARGUMENT = {argument: gate for gate in GATES for argument in gate.arguments}


def by_expression(expression: str) -> Gate | None:
    """The gate whose checks a ``-m`` expression selects exactly (``a or b`` in any order), else None."""
    terms = [term.strip() for term in " ".join(expression.split()).split(" or ")]
    if not all(term.isidentifier() for term in terms):
        return None
    for gate in GATES:
        if sorted(terms) == sorted(gate.markers):
            return gate
    return None


class GateTableError(Exception):
    """The gate table and markers.ini disagree. One line."""


def check_against_markers(declared: Iterable[tuple[str, str]]) -> None:
    """``declared``: markers.ini's [gates] entries as (marker, description). Raise when they drift from GATES."""
    entries = dict(declared)
    owners: dict[str, list[str]] = {}
    for gate in GATES:
        for marker in gate.markers:
            owners.setdefault(marker, []).append(gate.name)
    for marker, gates in owners.items():
        if len(gates) > 1:
            raise GateTableError(f"gate marker {marker!r} belongs to several gates: {', '.join(gates)}")
        if marker not in entries:
            raise GateTableError(f"gate {gates[0]!r} runs marker {marker!r}, undeclared in markers.ini [gates]")
    for marker, description in entries.items():
        if marker not in owners:
            raise GateTableError(f"markers.ini [gates] declares {marker!r}, which no gate in golive/gates.py runs")
        gate = BY_NAME[owners[marker][0]]
        if not description.startswith(gate.title) or f"({gate.authority})" not in description:
            raise GateTableError(
                f"markers.ini [gates] {marker}: the description must start with {gate.title!r} and name "
                f"({gate.authority}); it says {description!r}"
            )
