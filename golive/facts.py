"""What a check read, besides its outcome: the health dialect and endpoint, the Prometheus job and preset.

A probe or helper calls ``note("health", {"dialect": "ietf", "endpoint": "http://..."})`` while a check runs;
the plugin attaches the notes to the check's report (``user_properties``, so they travel under xdist) and the
decision record shows them under the check's ``facts``. Outside a check (the dashboard, watch) ``note`` does
nothing. Pure Python: the plugin sets and clears the current check's property list.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

FACTS_PROPERTY = "golive_facts"

_current: ContextVar[list[tuple[str, object]] | None] = ContextVar("golive_current_check", default=None)


def note(name: str, value: Any) -> None:
    """Record one fact (JSON-serialisable) about what the running check read; a later note of a name wins."""
    properties = _current.get()
    if properties is not None:
        properties.append((FACTS_PROPERTY, {name: value}))


def collect(user_properties: list[tuple[str, object]]) -> dict[str, Any]:
    """The facts among a report's user properties, later notes of a name overriding earlier ones."""
    facts: dict[str, Any] = {}
    for key, value in user_properties:
        if key == FACTS_PROPERTY and isinstance(value, dict):
            facts.update(value)
    return facts


def bind(user_properties: list[tuple[str, object]] | None) -> Any:
    """Make ``note`` write to these properties (a check's); returns the token ``unbind`` takes."""
    return _current.set(user_properties)


def unbind(token: Any) -> None:
    _current.reset(token)
