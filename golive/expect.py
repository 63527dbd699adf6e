"""Assertions shared by checks: each raises AssertionError with what was seen, what was expected and where.

``__tracebackhide__`` keeps pytest's report on the check that called them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from golive.probes import http as http_probe

if TYPE_CHECKING:
    from golive.fixtures import Environment


def healthy(environment: Environment) -> http_probe.Health:
    """The environment's health endpoint answers 200 with status ok; returns what it said."""
    __tracebackhide__ = True
    path = environment.view.http.health_path
    health = http_probe.get_health(environment.http, path)
    assert health.ok, (
        f"{environment.name} ({environment.url}{path}) answered {health.status_code} with status "
        f"{health.status!r}; expected 200 and 'ok'"
    )
    return health


def runs_expected_version(environment: Environment, health: http_probe.Health) -> None:
    """The version the environment reports is the one it should run (release.version or release.previous)."""
    __tracebackhide__ = True
    assert environment.expected_version, (
        f"environment {environment.name} has no expected version: give it role candidate or live, or a version"
    )
    assert health.version == environment.expected_version, (
        f"{environment.name} ({environment.url}{environment.view.http.health_path}) reports version "
        f"{health.version!r}; expected {environment.expected_version!r}"
    )
