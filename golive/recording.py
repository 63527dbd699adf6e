"""Recording: what each check did, gathered on the deciding process, with every credential masked.

Workers and the only process alike attach a check's severity, component, title and area to its reports
(``pytest_runtest_makereport``) and mask them; under xdist every worker report is replayed to the controller
through ``pytest_runtest_logreport``, where ``RunRecorder`` gathers the phases, facts and pictures that
golive.decision turns into the verdict.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from golive import facts
from golive.decision import junit_properties
from golive.marker_rules import check_metadata
from golive.masking import MaskingFilter, MaskingStream
from golive.probes.bounded import BoundExceeded
from golive.probes.errors import ProbeError
from golive.run import LATENCY_PROPERTY, OVERRUN_OUTPUT, GateRun, decides_nothing, first_line, gate_run
from golive.verdict import Phase

_MAXFAIL_STOP = re.compile(r"stopping after \d+ failures?")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    run = gate_run(session.config)
    if run is not None and not decides_nothing(session.config):
        _mask_outputs(session.config, run)


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
        # pytest-metadata is optional (it comes with pytest-html): imported only when a run has it.
        from pytest_metadata.plugin import metadata_key

        run.masker.deep(config.stash[metadata_key])


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
    if call.excinfo is not None and call.excinfo.errisinstance((ProbeError, OSError, BoundExceeded)):
        # A probe (or a client library underneath) could not reach or read the component: not a finding.
        report.golive_could_not_look = True
    # Credentials never reach the terminal, the HTML report or the record, whatever a check raised.
    report.longrepr = run.masker.deep(report.longrepr)
    report.sections = [(title, run.masker(content)) for title, content in report.sections]
    report.user_properties = run.masker.deep(list(report.user_properties))  # facts and pictures reach JUnit XML
    if hasattr(report, "extras"):
        report.extras = run.masker.deep(list(report.extras))  # pytest-html's extras
    return report


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
    return first_line(head, 500)


class RunRecorder:
    """Registered on the deciding process only (the controller, or the only process): gathers the facts."""

    def __init__(self, run: GateRun) -> None:
        self.run = run

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.run.conditions.collection_errors.append(self.run.masker(first_line(str(report.longrepr), 400)))

    @pytest.hookimpl(tryfirst=True)  # before JUnit XML's, which reads the teardown report's user properties
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        run = self.run
        crashed = report.when == "???"  # xdist's report for the check a crashed worker was running
        if crashed and not run.conditions.overrun:
            run.conditions.worker_crashes.append(run.masker(first_line(str(report.longrepr))))
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
        if report.when == "teardown" and not crashed:
            # The check is finished: JUnit XML shows its severity, component, gate and waiver as properties.
            report.user_properties = [*report.user_properties, *junit_properties(run, report.nodeid)]

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        text = str(excinfo.value)
        if isinstance(excinfo.value, pytest.exit.Exception) and self.run.conditions.config_error:
            return
        if self.run.conditions.overrun:
            return  # golive's watchdog interrupted the run at the gate's bound; the reason says so
        if _MAXFAIL_STOP.fullmatch(text.strip()):
            # -x / --maxfail under xdist surfaces as an interruption; the failures themselves decide.
            self.run.stopped_at_maxfail = True
            return
        self.run.conditions.interrupted = self.run.masker(first_line(text) or excinfo.typename)

    def pytest_internalerror(self, excrepr: Any, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.run.conditions.internal_error = self.run.masker(first_line(str(excinfo.value)) or excinfo.typename)


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
        output = getattr(node, "workeroutput", None) or {}
        gate_checks = output.get("golive_gate_checks")
        if isinstance(gate_checks, int):
            self.run.conditions.gate_checks = gate_checks
        overrun = output.get(OVERRUN_OUTPUT)
        if isinstance(overrun, str):
            # The worker's watchdog stopped it at the gate's bound (golive.watchdog): that, not a crash, is why.
            self.run.conditions.overrun = self.run.conditions.overrun or self.run.masker(overrun)
            return
        if error:
            worker = getattr(getattr(node, "gateway", None), "id", "worker")
            self.run.conditions.worker_crashes.append(f"{worker} went down: {first_line(str(error))}")
