"""Assertions shared by checks: each raises AssertionError with what was seen, what was expected and where.

``__tracebackhide__`` keeps pytest's report on the check that called them. Health answers are read by
golive.health (one interpretation for every dialect), through ``golive.probes.http.get_health``.
"""

from __future__ import annotations

import pytest

from golive import health as health_rules
from golive import judgements
from golive.fixtures import Environment, fail_as_warning, not_configured
from golive.probes import http as http_probe

# The service sections whose component a health answer reports as a dependency, by canonical name.
DEPENDENCY_SECTIONS = (("database", "postgres"), ("rabbitmq", "rabbitmq"), ("redis", "redis"))


def read_health(environment: Environment) -> health_rules.HealthReading:
    """What the environment's health (and readiness, version) endpoints say, in whichever dialect."""
    return http_probe.get_health(environment.http, environment.view.http)


def healthy(environment: Environment, request: pytest.FixtureRequest | None = None) -> health_rules.HealthReading:
    """The environment says it is healthy; degraded is a REVIEW (with ``request``), anything else fails."""
    __tracebackhide__ = True
    reading = read_health(environment)
    where = f"{environment.name} ({', '.join(reading.endpoints.values())})"
    judged = judgements.health(reading)
    if judged.verdict == judgements.WARN and request is not None:
        fail_as_warning(request, f"{where} says it is degraded: {judged.seen}; expected {judged.limit}")
    assert judged.ok, f"{where} answered {judged.seen}; expected {judged.limit}"
    return reading


def runs_expected_version(environment: Environment, reading: health_rules.HealthReading) -> None:
    """The version the environment reports is the one it should run (release.version or release.previous)."""
    __tracebackhide__ = True
    assert environment.expected_version, (
        f"environment {environment.name} has no expected version: give it role candidate or live, or a version"
    )
    where = reading.endpoints.get("version", reading.endpoints["health"])
    hint = "" if reading.version is not None else " (set http.health.version or http.health.version_path)"
    assert reading.version == environment.expected_version, (
        f"{environment.name} ({where}) reports version {reading.version!r}; expected "
        f"{environment.expected_version!r}{hint}"
    )


def dependencies_ok(environment: Environment, everything_reported: bool = False) -> None:
    """Each configured dependency (and, with ``everything_reported``, each one the answer names) is healthy."""
    __tracebackhide__ = True
    view = environment.view
    wanted = {name for name, section in DEPENDENCY_SECTIONS if getattr(view, section) is not None}
    if not wanted and not everything_reported:  # decided from the configuration, before the service is asked
        not_configured("postgres, rabbitmq and redis")
    reading = read_health(environment)
    if everything_reported:
        wanted |= set(reading.dependencies)
    if not wanted:
        not_configured("postgres, rabbitmq and redis (and the health answer names no dependency)")
    problems = []
    for name in sorted(wanted):
        dependency = reading.dependencies.get(name)
        if dependency is None:
            named = ", ".join(sorted(reading.dependencies)) or "none"
            problems.append(f"{name} not reported (it names: {named}; http.health.dependency_names.{name} "
                            "says which names mean it)")  # fmt: skip
        elif not dependency.ok:
            problems.append(f"{name} {dependency.text!r}")
    where = ", ".join(reading.endpoints[role] for role in ("health", "ready") if role in reading.endpoints)
    assert not problems, f"{environment.name} ({where}) reports {', '.join(problems)}; expected each healthy"
