"""Which checks a gate run runs, and how many the gate has.

A run is a gate run when it collects inside the validations directory. A gate run collects the whole gate to
count its checks, then narrows to the paths or node ids the command line named; how it was narrowed (-k,
--deselect, --lf, --sw, paths) goes into the record, because a run that did not run the whole gate is never GO.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _pytest.mark import MarkMatcher  # pytest's -m matching; no public API offers it
from _pytest.mark.expression import Expression

from golive.marker_rules import in_phase
from golive.run import GateRun, decides_nothing, gate_run


def is_gate_run(config: pytest.Config, validations_dir: Path) -> bool:
    """A run is a gate run when what it was asked to collect touches the validations directory."""
    if not validations_dir.is_dir():
        return False
    base = config.invocation_params.dir
    for arg in config.args:
        target = (base / arg.split("::", 1)[0]).resolve()
        if target == validations_dir or target.is_relative_to(validations_dir):
            return True
        if validations_dir.is_relative_to(target):
            return True
    return False


def subset_args(config: pytest.Config, validations_dir: Path) -> list[str] | None:
    """The command line's paths or node ids when they all lie inside the validations and name less than all."""
    base = config.invocation_params.dir
    targets = [(base / arg.split("::", 1)[0]).resolve() for arg in config.args]
    if not all(target.is_relative_to(validations_dir) for target in targets):
        return None
    if all(target == validations_dir and "::" not in arg for target, arg in zip(targets, config.args, strict=True)):
        return None
    return list(config.args)


def _named_by(item: pytest.Item, args: list[str], base: Path) -> bool:
    """Whether one of the command line's paths or node ids (``file.py::Class::test[param]``) names the item."""
    for arg in args:
        path, _, rest = arg.partition("::")
        target = (base / path).resolve()
        if not (item.path == target or item.path.is_relative_to(target)):
            continue
        inside = item.nodeid.partition("::")[2]
        if not rest or inside == rest or inside.startswith((f"{rest}::", f"{rest}[")):
            return True
    return False


def narrowed_by(config: pytest.Config, run: GateRun) -> tuple[str, ...]:
    """How a run's options narrow a gate's checks (-m chooses the gate and narrows nothing)."""
    option = config.option
    ways = []
    if getattr(option, "keyword", ""):
        ways.append(f"-k {option.keyword!r}")
    ways += [f"--deselect {nodeid}" for nodeid in getattr(option, "deselect", None) or ()]
    if getattr(option, "lf", False):
        ways.append("--lf")
    if getattr(option, "stepwise", False) or getattr(option, "stepwise_skip", False):
        ways.append("--sw")
    if run.subset_args:
        ways.append("paths: " + " ".join(run.subset_args))
    return tuple(ways)


def _gate_matcher(expression: str) -> Any:
    """A test of whether an item is in the gate, with pytest's own -m semantics."""
    compiled = Expression.compile(expression) if expression else None
    return lambda item: compiled is None or compiled.evaluate(MarkMatcher.from_markers(item.iter_markers()))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # --lf skips collecting files without a recorded failure; a gate run collects them all to count its checks
    # (the last-failed filter on the collected checks still applies).
    run = gate_run(session.config)
    if run is not None and not decides_nothing(session.config):
        wrapper = session.config.pluginmanager.get_plugin("lfplugin-collwrapper")
        if wrapper is not None:
            session.config.pluginmanager.unregister(wrapper)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Checks of a cutover step run only when that step is named (--golive-phase); the catalog lists them all.

    Runs before pytest's own deselection (-k, -m, --deselect, --lf, --sw) to count the gate's checks, and
    narrows to the paths or node ids the command line named (it collected the whole gate to count it).
    """
    run = gate_run(config)
    if run is None or config.option.golive_catalog:
        return
    phase = config.option.golive_phase
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (keep if in_phase(item, phase) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    if decides_nothing(config):
        return
    in_gate = _gate_matcher(run.expression)
    run.conditions.gate_checks = sum(
        1 for item in items if item.path.is_relative_to(run.validations_dir) and in_gate(item)
    )
    if run.subset_args:
        base = config.invocation_params.dir
        named = [item for item in items if _named_by(item, run.subset_args, base)]
        if len(named) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in named])
            items[:] = named


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """How many checks this run selected; a worker tells the controller how many the gate has."""
    run = gate_run(session.config)
    if run is None or session.config.option.golive_catalog or decides_nothing(session.config):
        return
    run.conditions.selected_checks = sum(
        1 for item in session.items if item.path.is_relative_to(run.validations_dir)
    )
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["golive_gate_checks"] = run.conditions.gate_checks
