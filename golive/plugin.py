"""The golive pytest plugin: turns a run of the validations into a deployment decision.

Data flows one way: configuration -> fixtures -> checks -> per-check results -> verdict -> exit code,
decision record and HTML report. Only the controller decides (under xdist every worker report is replayed to
it through ``pytest_runtest_logreport``); workers run checks and attach severity and component to reports.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from golive import attestations, facts, record, rootdir
from golive import report as gate_report
from golive.attestations import Attestation
from golive.config import ConfigError, EnvironmentView, Settings, key_paths, load_settings, resolve_path
from golive.fixtures import SEVERITY_OVERRIDE, not_configured
from golive.markers import COMPONENT, CRITICAL, PHASE, REQUIRES, declared_markers, gate_markers
from golive.masking import Masker, MaskingFilter, MaskingStream
from golive.probes.errors import ProbeError
from golive.timeline import Timeline, TimelineError
from golive.verdict import (
    CheckResult,
    Decision,
    Outcome,
    Partial,
    Phase,
    RunConditions,
    Severity,
    Verdict,
    WaiverRule,
    apply_waivers,
    combine_phases,
    count,
    decide,
    partial,
)

pytest_plugins = ["golive.fixtures"]
LATENCY_PROPERTY = "golive_latency"  # the user_properties key golive.fixtures.latency_picture writes

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
_MAXFAIL_STOP = re.compile(r"stopping after \d+ failures?")


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


GATE_RUN = pytest.StashKey[GateRun]()


def gate_run(config: pytest.Config) -> GateRun | None:
    return config.stash.get(GATE_RUN, None)


# --- options -----------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("golive", "golive go/no-go gates")
    group.addoption("--golive-config", dest="golive_config", metavar="PATH",
                    help="golive configuration file (default: $GOLIVE_CONFIG, else ./golive.yaml)")
    group.addoption("--env", dest="golive_env", metavar="NAME",
                    help="environment under test (default: the one whose role is candidate)")
    group.addoption("--golive-json", dest="golive_json", metavar="PATH",
                    help="also write the decision record to PATH")
    group.addoption("--golive-reports", dest="golive_reports", metavar="DIR",
                    help="directory for decision records and HTML reports (default: reports)")
    group.addoption("--golive-phase", dest="golive_phase", metavar="NAME",
                    help="run the checks of one cutover step (marked phase(NAME), e.g. 50); others never run them")
    group.addoption("--golive-catalog", dest="golive_catalog", action="store_true", default=False,
                    help=argparse.SUPPRESS)  # collection for `golive checks`: no configuration, no record
    parser.addini("golive_validations", "directory holding the validations (default: validations)",
                  default="validations")
    parser.addini("golive_reports", "directory for decision records and reports (default: reports)",
                  default="reports")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    # Before any conftest: `--golive-config PATH` (a separate value) must not have moved the rootdir.
    rootdir.reroot(early_config, args)


# --- configuration -----------------------------------------------------------------------------------


def _is_gate_run(config: pytest.Config, validations_dir: Path) -> bool:
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


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for marker in declared_markers():
        config.addinivalue_line("markers", marker.ini_line)
    reroot_error = rootdir.reroot_error(config)
    if reroot_error:
        pytest.exit(f"golive: {reroot_error}", returncode=2)
    validations_dir = (config.rootpath / str(config.getini("golive_validations"))).resolve()
    if not _is_gate_run(config, validations_dir):
        return

    expression = " ".join((config.option.markexpr or "").split())
    gate = record.gate_name(expression)
    started = datetime.now(UTC).replace(microsecond=0)
    reports_dir = Path(config.option.golive_reports or config.rootpath / str(config.getini("golive_reports")))
    is_controller = not hasattr(config, "workerinput")
    run = GateRun(
        validations_dir=validations_dir, expression=expression, gate=gate, started_at=started,
        reports_dir=reports_dir, stem=reports_dir / "pending", is_controller=is_controller,
    )
    config.stash[GATE_RUN] = run
    if config.option.golive_catalog:
        run.is_controller = False  # only collection: markers are checked, nothing is decided or written
        return
    if _decides_nothing(config):
        # Listing, collecting or planning runs no check: no verdict, record, report or timeline line, and
        # pytest's own exit status. The configuration is read when it can be, for --setup-only's fixtures.
        run.is_controller = False
        with contextlib.suppress(ConfigError):
            _load_configuration(config, run)
        return
    run.env_name = config.option.golive_env
    unusable = _reports_problem(config, reports_dir) if is_controller else None
    if unusable:
        # Nowhere to write the record: the run cannot be signed. --golive-json still gets the NO-GO.
        run.conditions.config_error = unusable
        _finish_without_session(config, run, reports_usable=False)
        pytest.exit(f"golive: {unusable}", returncode=2)
    run.subset_args = _subset_args(config, validations_dir)
    if run.subset_args:
        # Collect the whole gate, to count it, and deselect down to what was named (pytest_collection_modifyitems).
        config.args = [str(validations_dir)]
    unknown = _unknown_markers(config, expression)
    if unknown:
        # pytest would raise a usage error (exit 4) mid-session under strict markers, or select nothing:
        # either way nothing would be verified, so it is a NO-GO with a clear line.
        run.conditions.selection_error = (
            f"-m {expression!r}: unknown marker{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
            f" (gates: {', '.join(gate_markers())})"
        )
        if is_controller:
            _finish_without_session(config, run)
        pytest.exit(f"golive: {run.conditions.selection_error}", returncode=2)
    try:
        _load_configuration(config, run)
    except ConfigError as error:
        run.conditions.config_error = str(error)
        if is_controller:
            _finish_without_session(config, run)
        pytest.exit(f"golive: {error}", returncode=2)

    if is_controller:
        run.stem = record.unique_stem(reports_dir, gate, run.env_name or "unknown", started)
        run.json_path = run.stem.with_suffix(".json")
        if config.pluginmanager.hasplugin("html"):
            if not config.option.htmlpath:
                config.option.htmlpath = str(run.stem.with_suffix(".html"))
                config.option.self_contained_html = True
            run.html_path = Path(config.option.htmlpath)
            config.pluginmanager.register(HtmlReportHooks(run), "golive-html")
        config.pluginmanager.register(RunRecorder(run), "golive-recorder")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(XdistWatcher(run), "golive-xdist")


def _decides_nothing(config: pytest.Config) -> str | None:
    """The option that makes this run run no check (``--collect-only``, ``--fixtures``...), if any."""
    return next((options[0] for dest, options in record.NO_DECISION_OPTIONS.items()
                 if getattr(config.option, dest, None)), None)  # fmt: skip


def _subset_args(config: pytest.Config, validations_dir: Path) -> list[str] | None:
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


def _narrowed_by(config: pytest.Config, run: GateRun) -> tuple[str, ...]:
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
    from _pytest.mark import MarkMatcher  # pytest's -m matching; no public API offers it
    from _pytest.mark.expression import Expression

    compiled = Expression.compile(expression) if expression else None
    return lambda item: compiled is None or compiled.evaluate(MarkMatcher.from_markers(item.iter_markers()))


_EXPRESSION_WORDS = {"and", "or", "not", "True", "False", "None"}


def _load_configuration(config: pytest.Config, run: GateRun) -> None:
    """Read the configuration and pick the environment under test into ``run``; ConfigError when it cannot."""
    path, source = resolve_path(config.option.golive_config, os.environ, config.invocation_params.dir)
    run.settings = load_settings(path, source)
    run.masker = run.settings.masker
    run.environment = run.settings.select(config.option.golive_env)
    run.env_name = run.environment.name


def _unknown_markers(config: pytest.Config, expression: str) -> list[str]:
    """Marker names in a -m expression that no plugin or ini file declares."""
    # Keyword arguments (marker(name="x")) are values, not marker names: drop the parenthesised parts.
    names = set(re.findall(r"[A-Za-z_][\w]*", re.sub(r"\([^)]*\)", "", expression))) - _EXPRESSION_WORDS
    return sorted(names - _registered_markers(config))


def _registered_markers(config: pytest.Config) -> set[str]:
    return {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}


def _finish_without_session(config: pytest.Config, run: GateRun, reports_usable: bool = True) -> None:
    """The run cannot start (bad configuration): still leave a NO-GO decision record (only to --golive-json
    when the reports directory cannot take one)."""
    run.decision = decide([], run.conditions)
    if reports_usable:
        run.stem = record.unique_stem(run.reports_dir, run.gate, run.env_name or "unknown", run.started_at)
        run.json_path = run.stem.with_suffix(".json")
    _write_record(config, run)


def _reports_problem(config: pytest.Config, reports_dir: Path) -> str | None:
    """Why the reports directory cannot take the decision record (one line naming it), or None once it exists."""
    given = (f"--golive-reports {reports_dir}" if config.option.golive_reports
             else f"reports directory {reports_dir} (ini golive_reports)")
    if reports_dir.exists() and not reports_dir.is_dir():
        return f"{given}: not a directory"
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"{given}: cannot create it ({error.strerror or type(error).__name__})"
    if not os.access(reports_dir, os.W_OK | os.X_OK):
        return f"{given}: not writable"
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = gate_run(config)
    if run is None or run.settings is None or run.environment is None:
        return []
    settings = run.settings
    return [
        f"golive: gate {run.gate} (-m {run.expression or '<all>'}), environment {run.environment.name}"
        f" ({run.environment.role or 'no role'}), release {settings.release.version}",
        f"config: {settings.path} (from {settings.source})",
    ]


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
    registered = _registered_markers(collector.config)
    gates = set(gate_markers())
    problems: list[str] = []
    for item in report.result:
        if not isinstance(item, pytest.Item) or not item.path.is_relative_to(run.validations_dir):
            continue
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
    if problems:
        report.outcome = "failed"
        report.longrepr = f"{collector.path}: " + "; ".join(problems)
    return report


# --- running: attach metadata, mask secrets, gather results -------------------------------------------


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
        marker = item.get_closest_marker(PHASE)
        (keep if marker is None or (marker.args and str(marker.args[0]) == phase) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    if _decides_nothing(config):
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
    if run is None or session.config.option.golive_catalog or _decides_nothing(session.config):
        return
    run.conditions.selected_checks = sum(
        1 for item in session.items if item.path.is_relative_to(run.validations_dir)
    )
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["golive_gate_checks"] = run.conditions.gate_checks


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # --lf skips collecting files without a recorded failure; a gate run collects them all to count its checks
    # (the last-failed filter on the collected checks still applies).
    run = gate_run(session.config)
    if run is not None and not _decides_nothing(session.config):
        wrapper = session.config.pluginmanager.get_plugin("lfplugin-collwrapper")
        if wrapper is not None:
            session.config.pluginmanager.unregister(wrapper)
    if run is not None and not _decides_nothing(session.config):
        _mask_outputs(session.config, run)
    if run is not None and run.is_controller:
        # Until golive decides, the latest decision is "did not finish", never an earlier run's GO; a SIGTERM
        # ends the run the way Ctrl-C does (pytest's interrupted session: a NO-GO record), not silently.
        _write_record(session.config, run, provisional=True)
        if threading.current_thread() is threading.main_thread():
            run.previous_sigterm = signal.signal(signal.SIGTERM, _terminate)


def _mask_outputs(config: pytest.Config, run: GateRun) -> None:
    """Mask credentials once, where pytest writes: the terminal (check lines, tracebacks and their locals, live
    logs, summaries), every log record before a handler formats it (live logs, captured logs, --log-file), and
    pytest-html's environment table. Reports are masked when they are made (pytest_runtest_makereport), for
    the terminal, JUnit XML and pytest-html alike; the record and the timeline line when they are written."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)  # TerminalWriter writes every byte through its _file
    if writer is not None and hasattr(writer, "_file") and not isinstance(writer._file, MaskingStream):
        writer._file = MaskingStream(writer._file, run.masker)
    logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
    for name in ("log_cli_handler", "log_file_handler", "caplog_handler", "report_handler"):
        handler = getattr(logging_plugin, name, None)
        if handler is not None:
            handler.addFilter(MaskingFilter(run.masker))
    with contextlib.suppress(ImportError, KeyError):
        from pytest_metadata.plugin import metadata_key

        run.masker.deep(config.stash[metadata_key])


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"terminated by {signal.Signals(signum).name}")


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """While a validation runs, golive.facts.note writes to its user properties (they travel with its reports)."""
    run = gate_run(item.config)
    if run is None or not item.path.is_relative_to(run.validations_dir):
        return (yield)
    token = facts.bind(item.user_properties)
    try:
        return (yield)
    finally:
        facts.unbind(token)


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    run = gate_run(item.config)
    if run is None:
        return report
    if item.path.is_relative_to(run.validations_dir):
        report.golive_validation = True
        for key, value in check_metadata(item).items():
            setattr(report, f"golive_{key}", value)
    if call.excinfo is not None and call.excinfo.errisinstance((ProbeError, OSError)):
        # A probe (or a client library underneath) could not reach or read the component: not a finding.
        report.golive_could_not_look = True
    # Credentials never reach the terminal, the HTML report or the record, whatever a check raised.
    report.longrepr = run.masker.deep(report.longrepr)
    report.sections = [(title, run.masker(content)) for title, content in report.sections]
    report.user_properties = run.masker.deep(list(report.user_properties))  # facts and pictures reach JUnit XML
    if hasattr(report, "extras"):
        report.extras = run.masker.deep(list(report.extras))  # pytest-html's extras
    return report


def _first_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr)
    lines = [line for line in text.splitlines() if line.strip()]
    head = lines[0] if lines else ""
    head = re.sub(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*(?:Error|Exception|Failed)): ", r"\1: ", head)
    head = head.removeprefix("AssertionError: ").removeprefix("Failed: ")
    if head in {"AssertionError", ""} and len(lines) > 1:
        head = lines[1]
    return _first_line(head, 500)


class RunRecorder:
    """Registered on the deciding process only (the controller, or the only process): gathers the facts."""

    def __init__(self, run: GateRun) -> None:
        self.run = run

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.run.conditions.collection_errors.append(self.run.masker(_first_line(str(report.longrepr), 400)))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        run = self.run
        crashed = report.when == "???"  # xdist's report for the check a crashed worker was running
        if crashed:
            run.conditions.worker_crashes.append(run.masker(_first_line(str(report.longrepr))))
        if not (crashed or getattr(report, "golive_validation", False)):
            return
        run.phases.setdefault(report.nodeid, []).append(
            Phase(when=report.when or "", outcome=report.outcome, message=run.masker(_message(report)),
                  duration_s=float(getattr(report, "duration", 0.0) or 0.0),
                  could_not_look=bool(getattr(report, "golive_could_not_look", False)))
        )
        if report.when == "call":
            run.latencies += [dict(value) for key, value in report.user_properties
                              if key == LATENCY_PROPERTY and isinstance(value, dict)]
        noted = facts.collect(list(report.user_properties))
        if noted:
            run.facts.setdefault(report.nodeid, {}).update(run.masker.deep(noted))
        if report.nodeid not in run.meta or report.when == "call":  # the call may change severity (fail_as_warning)
            run.meta[report.nodeid] = {
                key: str(getattr(report, f"golive_{key}"))
                for key in ("severity", "component", "title", "category")
                if hasattr(report, f"golive_{key}")
            }

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        text = str(excinfo.value)
        if isinstance(excinfo.value, pytest.exit.Exception) and self.run.conditions.config_error:
            return
        if _MAXFAIL_STOP.fullmatch(text.strip()):
            # -x / --maxfail under xdist surfaces as an interruption; the failures themselves decide.
            self.run.stopped_at_maxfail = True
            return
        self.run.conditions.interrupted = self.run.masker(_first_line(text) or excinfo.typename)

    def pytest_internalerror(self, excrepr: Any, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.run.conditions.internal_error = self.run.masker(_first_line(str(excinfo.value)) or excinfo.typename)


class XdistWatcher:
    """Under xdist: a worker that goes down with an error means checks may not have run."""

    def __init__(self, run: GateRun) -> None:
        self.run = run

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        root, validations = node.config.rootpath, self.run.validations_dir
        self.run.conditions.selected_checks = sum(
            1 for nodeid in ids if (root / nodeid.split("::", 1)[0]).resolve().is_relative_to(validations)
        )

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        gate_checks = (getattr(node, "workeroutput", None) or {}).get("golive_gate_checks")
        if isinstance(gate_checks, int):
            self.run.conditions.gate_checks = gate_checks
        if error:
            worker = getattr(getattr(node, "gateway", None), "id", "worker")
            self.run.conditions.worker_crashes.append(f"{worker} went down: {_first_line(str(error))}")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = gate_run(session.config)
    if run is None or not run.is_controller:
        return
    status = int(exitstatus)
    run.conditions.pytest_failed = status == pytest.ExitCode.TESTS_FAILED
    if status == pytest.ExitCode.INTERNAL_ERROR:
        run.conditions.internal_error = run.conditions.internal_error or "pytest reported an internal error"
    if status == pytest.ExitCode.USAGE_ERROR:
        run.conditions.usage_error = True
    if status == pytest.ExitCode.INTERRUPTED and not (
        run.conditions.interrupted or run.conditions.collection_errors or run.conditions.worker_crashes
        or run.stopped_at_maxfail
    ):
        run.conditions.interrupted = "the run was interrupted"

    results: list[CheckResult] = []
    for nodeid, phases in run.phases.items():
        outcome, message, duration = combine_phases(phases)
        meta = run.meta.get(nodeid, {})
        results.append(
            CheckResult(
                id=nodeid, outcome=outcome, message=message, duration_s=duration,
                could_not_look=outcome is Outcome.ERROR and any(p.could_not_look for p in phases),
                severity=Severity(meta.get("severity", Severity.CRITICAL.value)),
                component=meta.get("component", "config"), title=meta.get("title", nodeid.rsplit("::", 1)[-1]),
                category=meta.get("category", ""), facts=run.facts.get(nodeid, {}),
            )
        )
    run.conditions.narrowed_by = _narrowed_by(session.config, run)
    run.results, notes = apply_waivers(results, _waiver_rules(run.settings), date.today())
    run.decision = decide(run.results, run.conditions, notes)
    _write_record(session.config, run)
    session.exitstatus = run.decision.exit_code
    run.session = session


def _waiver_rules(settings: Settings | None) -> list[WaiverRule]:
    return [
        WaiverRule(check=w.check, reason=w.reason, approved_by=w.approved_by, expires=w.expires,
                   covers_unreachable=w.covers_unreachable)
        for w in (settings.document.waivers if settings else [])
    ]


def pytest_unconfigure(config: pytest.Config) -> None:
    # Hooks that run after ours (pytest's --max-warnings, for one) may rewrite the status; the decision stands.
    run = gate_run(config)
    if run is not None and run.session is not None and run.decision is not None:
        run.session.exitstatus = run.decision.exit_code
    if run is not None and run.previous_sigterm is not None:
        signal.signal(signal.SIGTERM, run.previous_sigterm)


def _as_record(subset: Partial | None) -> dict[str, object] | None:
    return subset.as_record() if subset else None


_UNFINISHED = Decision(Verdict.NO_GO, 2, ("the run did not finish: it ended before golive decided",))


def _write_record(config: pytest.Config, run: GateRun, provisional: bool = False) -> None:
    """Write the decision record; ``provisional``: the NO-GO that stands if the run never gets to decide."""
    decision = _UNFINISHED if provisional else run.decision
    assert decision is not None
    settings = run.settings
    facts = record.RunFacts(
        gate=run.gate, expression=run.expression, environment=run.env_name,
        release=settings.release.version if settings else None,
        started_at=run.started_at, finished_at=datetime.now(UTC).replace(microsecond=0),
        config=f"{settings.path} (from {settings.source})" if settings else None,
        html_report=str(run.html_path) if run.html_path else None,
        partial=_as_record(partial(run.conditions)),
        run_id=os.environ.get(record.RUN_ID_VARIABLE) or None,
    )
    document = run.masker.deep(record.build_record(facts, decision, [] if provisional else run.results))
    # Not the provisional one to --golive-json: a PATH that exists on xdist workers' command lines moves their rootdir.
    extra = Path(config.option.golive_json) if config.option.golive_json and not provisional else None
    if run.json_path is None:  # no usable reports directory (the run ends NO-GO saying so): --golive-json only
        if extra is not None:
            with contextlib.suppress(OSError):
                record.write_copy(document, extra)
        return
    try:
        record.write_record(document, run.json_path, run.reports_dir, extra)
    except OSError as error:
        if provisional:
            return  # the final write says why it cannot write
        assert run.decision is not None
        # Without its record the decision cannot be signed: the run is not trustworthy.
        sys.stderr.write(f"golive: cannot write the decision record: {error}\n")
        run.decision = Decision(Verdict.NO_GO, 2, (*run.decision.reasons, f"decision record not written: {error}"))
    if provisional or run.decision is None:
        return
    try:
        Timeline.in_reports(run.reports_dir).add(
            "gate",
            run.masker(f"gate {run.gate} on {run.env_name or '?'}: {run.decision.verdict.label} "
                       f"(exit {run.decision.exit_code}); record {run.json_path.name}"),
            source="golive gate",
        )
    except TimelineError as error:
        sys.stderr.write(f"golive: {error}\n")


# --- terminal summary --------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = gate_run(config)
    if run is None or run.decision is None or not run.is_controller:
        return
    decision = run.decision
    colour = {Verdict.GO: {"green": True}, Verdict.REVIEW: {"yellow": True}, Verdict.NO_GO: {"red": True}}[
        decision.verdict
    ]
    tw = terminalreporter  # writes through the masking stream (_mask_outputs): no credential reaches the terminal
    tw.write_sep("=", f"golive: gate {run.gate}: {decision.verdict.label}", bold=True, **colour)
    release = run.settings.release.version if run.settings else "?"
    tw.write_line(f"gate: {run.gate} (-m {run.expression or '<all>'})   environment: {run.env_name}   "
                  f"release: {release}")
    counts = count(run.results)
    tw.write_line("checks: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    for reason in decision.reasons:
        tw.write_line(f"  - {reason}", **colour)
    for result in run.results:
        if result.outcome is Outcome.WAIVED:
            tw.write_line(f"  waived: {result.id} [{result.severity.value}]: {result.waiver or ''}",
                          yellow=True)
    for note in decision.notes:
        tw.write_line(f"  note: {note}")
    if run.html_path:
        tw.write_line(f"report: {run.html_path}")
    if run.json_path:
        tw.write_line(f"record: {run.json_path}")
    tw.write_line(f"verdict: {decision.verdict.label} (exit {decision.exit_code})", bold=True, **colour)


# --- HTML report -------------------------------------------------------------------------------------


class HtmlReportHooks:
    """pytest-html hooks, registered on the controller only when pytest-html is active."""

    def __init__(self, run: GateRun) -> None:
        self.run = run

    def pytest_html_report_title(self, report: Any) -> None:
        title = gate_report.GATE_TITLES.get(self.run.gate, (f"gate {self.run.gate}", ""))[0]
        report.title = f"golive {title}: {self.run.env_name or '?'}"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: pytest.Session) -> None:
        facts = self._facts()
        if facts is None:
            return
        prefix.append(gate_report.banner(facts))
        postfix.append(gate_report.details(facts))

    def _facts(self) -> gate_report.ReportFacts | None:
        run = self.run
        if run.decision is None:
            return None
        settings = run.settings
        records: list[Attestation] = []
        problem = None
        if settings is not None:
            try:
                records = attestations.read(settings.attestations_path)
            except attestations.AttestationError as error:
                problem = str(error)
        try:
            timeline = Timeline.in_reports(run.reports_dir).entries()
        except TimelineError:
            timeline = []
        return gate_report.ReportFacts(
            gate=run.gate, expression=run.expression, decision=run.decision, results=run.results,
            environment=run.env_name or "?", release=settings.release.version if settings else "?",
            started_at=run.started_at.isoformat(timespec="seconds"),
            duration_s=(datetime.now(UTC) - run.started_at).total_seconds(),
            config=f"{settings.path} (from {settings.source})" if settings else "?",
            attestations=records, attestation_error=problem, waivers=_waiver_rules(settings), timeline=timeline,
            mask=run.masker, latencies=run.latencies,
            p95_threshold_ms=settings.document.thresholds.p95_ms if settings else None,
            partial=subset.describe() if (subset := partial(run.conditions)) else None,
        )
