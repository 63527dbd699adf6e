"""Marker rules: what a validation's markers must be, and what they say about it.

Every validation carries a gate marker and only markers that ``markers.ini`` declares; ``component(NAME)``
names one of ``COMPONENTS``; ``requires(KEY, ...)`` names configuration keys, and the check skips as not
configured, before any fixture connects, when the environment under test leaves one out; ``phase(NAME)``
checks run only in the cutover step that names them. A check's severity, component, title and area come from
its markers and its code (``check_metadata``), for the record, the report and the catalog alike.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from golive.config import key_paths
from golive.fixtures import not_configured
from golive.markers import COMPONENT, CRITICAL, PHASE, REQUIRES, gate_markers
from golive.run import SEVERITY_OVERRIDE, gate_run
from golive.verdict import Severity

COMPONENTS = (
    "http", "postgres", "rabbitmq", "redis", "aws", "load_balancer", "prometheus", "host", "attestation", "config",
)
# A check's component, when it does not say, is that of the first service fixture it uses.
_FIXTURE_COMPONENTS = {
    "postgres": "postgres",
    "postgres_replicas": "postgres",
    "rabbitmq": "rabbitmq",
    "rabbitmq_management": "rabbitmq",
    "redis": "redis",
    "aws": "aws",
    "prometheus": "prometheus",
    "load_balancer": "load_balancer",
    "attestations": "attestation",
    "target_host": "host",
}
_ENVIRONMENT_FIXTURES = ("target", "candidate", "live", "blue", "green")
_EXPRESSION_WORDS = {"and", "or", "not", "True", "False", "None"}


def registered_markers(config: pytest.Config) -> set[str]:
    """The marker names the plugins and ini files declare."""
    return {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}


def unknown_markers(config: pytest.Config, expression: str) -> list[str]:
    """Marker names in a -m expression that no plugin or ini file declares."""
    # Keyword arguments (marker(name="x")) are values, not marker names: drop the parenthesised parts.
    names = set(re.findall(r"[A-Za-z_][\w]*", re.sub(r"\([^)]*\)", "", expression))) - _EXPRESSION_WORDS
    return sorted(names - registered_markers(config))


def in_phase(item: pytest.Item, phase: str | None) -> bool:
    """Whether a check runs in this run: unmarked checks always, ``phase(NAME)`` checks only when NAME is named."""
    marker = item.get_closest_marker(PHASE)
    return marker is None or bool(marker.args and str(marker.args[0]) == phase)


def check_metadata(item: pytest.Item) -> dict[str, str]:
    """Severity, component, title and category (area) of a validation, from its markers and code."""
    component_marker = item.get_closest_marker(COMPONENT)
    if component_marker is not None and component_marker.args:
        component = str(component_marker.args[0])
    else:
        fixtures = getattr(item, "fixturenames", ())
        component = next((_FIXTURE_COMPONENTS[f] for f in fixtures if f in _FIXTURE_COMPONENTS), "")
        if not component:
            component = "http" if any(f in fixtures for f in _ENVIRONMENT_FIXTURES) else "config"
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip()
    callspec = getattr(item, "callspec", None)
    # A parameter that carries its own checklist sentence (a human item, say) names the check.
    params = callspec.params.values() if callspec else ()
    titled = [value.title for value in params if isinstance(getattr(value, "title", None), str)]
    if titled:
        doc = titled[0]
    module = getattr(item, "module", None)
    module_doc = (getattr(module, "__doc__", None) or "").strip()
    stem = item.path.stem.removeprefix("test_")
    return {
        "severity": item.stash.get(SEVERITY_OVERRIDE, None)
        or (Severity.CRITICAL.value if item.get_closest_marker(CRITICAL) else Severity.WARNING.value),
        "component": component,
        "title": doc.splitlines()[0] if doc else item.name,
        # The module docstring reads "Area: what it covers"; the area names the checklist section.
        "category": module_doc.splitlines()[0].split(":", 1)[0].rstrip(".") if module_doc else stem.replace("_", " "),
    }


def _problems(item: pytest.Item, registered: set[str], gates: set[str]) -> list[str]:
    """What is wrong with one validation's markers (nothing, for a good one)."""
    problems: list[str] = []
    names = {mark.name for mark in item.iter_markers()}
    if not names & gates:
        problems.append(f"{item.nodeid} has no gate marker (one of: {', '.join(sorted(gates))})")
    for unknown in sorted(names - registered):
        problems.append(f"{item.nodeid} uses marker {unknown!r}, which markers.ini does not declare")
    component = item.get_closest_marker(COMPONENT)
    if component is not None and (len(component.args) != 1 or component.args[0] not in COMPONENTS):
        problems.append(f"{item.nodeid}: component must be one of: {', '.join(COMPONENTS)}")
    for requires in item.iter_markers(REQUIRES):
        unknown_keys = [key for key in requires.args if key not in key_paths()]
        if not requires.args or unknown_keys or requires.kwargs:
            problems.append(f"{item.nodeid}: requires({', '.join(map(repr, requires.args))}) must name "
                            f"configuration keys (no such key: {', '.join(map(str, unknown_keys)) or '-'})")
    return problems


# --- collection: every validation carries a gate marker and only declared markers ---------------------


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    run = gate_run(collector.config)
    if run is None:
        return report
    if not report.passed:
        report.longrepr = run.masker.deep(report.longrepr)  # a collection error's traceback, say
        return report
    registered = registered_markers(collector.config)
    gates = set(gate_markers())
    problems = [
        problem
        for item in report.result
        if isinstance(item, pytest.Item) and item.path.is_relative_to(run.validations_dir)
        for problem in _problems(item, registered, gates)
    ]
    if problems:
        report.outcome = "failed"
        report.longrepr = f"{collector.path}: " + "; ".join(problems)
    return report


# --- running: requires(KEY) ---------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check marked ``requires(KEY, ...)`` skips as not configured when the environment under test's
    configuration leaves a KEY out: decided here, before any fixture connects, so no fault changes the skip."""
    run = gate_run(item.config)
    if run is None or run.settings is None or run.environment is None:
        return
    if not item.path.is_relative_to(run.validations_dir):
        return
    for requires in item.iter_markers(REQUIRES):
        for key in requires.args:
            if not run.settings.configured(run.environment, key):
                not_configured(key)
