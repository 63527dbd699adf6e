"""The golive pytest plugin (the ``pytest11`` entry point): turns a run of the validations into a decision.

Data flows one way: configuration -> fixtures -> checks -> per-check results -> verdict -> exit code,
decision record and HTML report. Only the controller decides (under xdist every worker report is replayed to
it through ``pytest_runtest_logreport``); workers run checks and attach severity and component to reports.

This module only registers options and hooks, reads the configuration and wires the rooms that do the work:

- ``golive.run``: the gate run's state (``GateRun``) in ``config.stash``, shared with the fixtures;
- ``golive.fixtures``: what checks use (environments, service clients, baseline, attestations);
- ``golive.marker_rules``: what a validation's markers must be and what they say (``requires``, ``phase``);
- ``golive.selection``: which checks run and how many the gate has;
- ``golive.recording``: each check's reports, gathered and masked;
- ``golive.decision``: the verdict, the record, the timeline line, the terminal summary;
- ``golive.watchdog``: the gate's bound (the longest ``timeout_s`` + 5 s for the checks), held whatever a target does;
- ``golive.html_hooks``: pytest-html's title, banner and details;
- ``golive.hooks``: the hooks golive calls for outputs of your own (``pytest_golive_decision``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive import evidence, hooks, record, reports_dir, rootdir
from golive.config import ConfigError, load_settings, resolve_path
from golive.decision import finish_without_session
from golive.html_hooks import HtmlReportHooks
from golive.marker_rules import unknown_markers
from golive.markers import declared_markers, gate_markers, gate_table_problem
from golive.recording import RunRecorder, XdistWatcher
from golive.run import GATE_RUN, GateRun, decides_nothing, gate_run
from golive.selection import is_gate_run, subset_args

# The modules whose hooks run in every session (each returns at once when the session is not a gate run).
pytest_plugins = ["golive.fixtures", "golive.marker_rules", "golive.selection", "golive.recording", "golive.decision",
                  "golive.watchdog", "golive.github_actions"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


# --- options -----------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("golive", "golive go/no-go gates")
    group.addoption("--golive-config", dest="golive_config", metavar="PATH",
                    help="golive configuration file (default: $GOLIVE_CONFIG, else ./golive.yaml)")
    group.addoption("--env", dest="golive_env", metavar="NAME",
                    help="environment under test (default: the one whose role is candidate)")
    group.addoption("--golive-json", dest="golive_json", metavar="PATH",
                    help="also write the decision record to PATH")
    group.addoption(reports_dir.OPTION, dest="golive_reports", metavar="DIR",
                    help=f"directory for decision records and HTML reports (default: ${reports_dir.VARIABLE}, else "
                         f"the ini's {reports_dir.INI_KEY}, else ./{reports_dir.DEFAULT})")
    group.addoption("--golive-phase", dest="golive_phase", metavar="NAME",
                    help="run the checks of one cutover step (marked phase(NAME), e.g. 50); others never run them")
    group.addoption("--golive-catalog", dest="golive_catalog", action="store_true", default=False,
                    help=argparse.SUPPRESS)  # collection for `golive checks`: no configuration, no record
    parser.addini("golive_validations", "directory holding the validations (default: validations)",
                  default="validations")
    parser.addini(reports_dir.INI_KEY, f"directory for decision records and reports, unless {reports_dir.OPTION} or "
                  f"${reports_dir.VARIABLE} says (default: {reports_dir.DEFAULT})", default="")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    # Before any conftest: `--golive-config PATH` (a separate value) must not have moved the rootdir.
    rootdir.reroot(early_config, args)


# --- configuration -----------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for marker in declared_markers():
        config.addinivalue_line("markers", marker.ini_line)
    drift = gate_table_problem()
    if drift:
        pytest.exit(f"golive: {drift}", returncode=2)
    reroot_error = rootdir.reroot_error(config)
    if reroot_error:
        pytest.exit(f"golive: {reroot_error}", returncode=2)
    validations_dir = (config.rootpath / str(config.getini("golive_validations"))).resolve()
    if not is_gate_run(config, validations_dir):
        return

    expression = " ".join((config.option.markexpr or "").split())
    gate = record.gate_name(expression)
    started = datetime.now(UTC).replace(microsecond=0)
    reports = _reports_dir(config)
    is_controller = not hasattr(config, "workerinput")
    run = GateRun(
        validations_dir=validations_dir, expression=expression, gate=gate, started_at=started,
        reports_dir=reports.path, stem=reports.path / "pending", is_controller=is_controller,
        reports_source=reports.source,
    )
    config.stash[GATE_RUN] = run
    if config.option.golive_catalog:
        run.is_controller = False  # only collection: markers are checked, nothing is decided or written
        return
    if decides_nothing(config):
        # Listing, collecting or planning runs no check: no verdict, record, report or timeline line, and
        # pytest's own exit status. The configuration is read when it can be, for --setup-only's fixtures.
        run.is_controller = False
        with contextlib.suppress(ConfigError):
            _load_configuration(config, run)
        return
    run.env_name = config.option.golive_env
    unusable = _reports_problem(reports) if is_controller else None
    if unusable:
        # Nowhere to write the record: the run cannot be signed. --golive-json still gets the NO-GO.
        run.conditions.config_error = unusable
        finish_without_session(config, run, reports_usable=False)
        pytest.exit(f"golive: {unusable}", returncode=2)
    run.subset_args = subset_args(config, validations_dir)
    if run.subset_args:
        # Collect the whole gate, to count it, and deselect down to what was named (golive.selection).
        config.args = [str(validations_dir)]
    unknown = unknown_markers(config, expression)
    if unknown:
        # pytest would raise a usage error (exit 4) mid-session under strict markers, or select nothing:
        # either way nothing would be verified, so it is a NO-GO with a clear line.
        run.conditions.selection_error = (
            f"-m {expression!r}: unknown marker{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
            f" (gates: {', '.join(gate_markers())})"
        )
        if is_controller:
            finish_without_session(config, run)
        pytest.exit(f"golive: {run.conditions.selection_error}", returncode=2)
    try:
        _load_configuration(config, run)
        if is_controller:  # a key that cannot sign (readable by others, inside reports/): NO-GO before any check
            run.signer = evidence.configured_signer(run.settings, reports.path)
    except (ConfigError, evidence.EvidenceError) as error:
        run.conditions.config_error = str(error)
        if is_controller:
            finish_without_session(config, run)
        pytest.exit(f"golive: {error}", returncode=2)

    if is_controller:
        _wire_controller(config, run)


def _wire_controller(config: pytest.Config, run: GateRun) -> None:
    """The deciding process: where its record and report go, and the plugins that gather what it decides on."""
    run.stem = record.unique_stem(run.reports_dir, run.gate, run.env_name or "unknown", run.started_at)
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


def _load_configuration(config: pytest.Config, run: GateRun) -> None:
    """Read the configuration and pick the environment under test into ``run``; ConfigError when it cannot."""
    path, source = resolve_path(config.option.golive_config, os.environ, config.invocation_params.dir)
    run.settings = load_settings(path, source)
    run.masker = run.settings.masker
    run.environment = run.settings.select(config.option.golive_env)
    run.env_name = run.environment.name


def _reports_dir(config: pytest.Config) -> reports_dir.ReportsDir:
    """The reports directory by golive's one rule (golive.reports_dir), the ini read through pytest's own eyes."""
    ini = reports_dir.IniSetting(str(config.getini(reports_dir.INI_KEY)) or None, config.rootpath, config.inipath)
    return reports_dir.resolve(config.option.golive_reports, os.environ, config.invocation_params.dir, ini)


def _reports_problem(reports: reports_dir.ReportsDir) -> str | None:
    """Why the reports directory cannot take the decision record (one line naming it), or None once it exists."""
    given, directory = reports.named, reports.path
    if directory.exists() and not directory.is_dir():
        return f"{given}: not a directory"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"{given}: cannot create it ({error.strerror or type(error).__name__})"
    if not os.access(directory, os.W_OK | os.X_OK):
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
        f"reports: {run.reports_dir} (from {run.reports_source})",
    ]
