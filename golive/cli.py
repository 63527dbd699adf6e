"""The ``golive`` command: gates, the sandbox and the demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from golive import __version__, attestations, catalog, gates, history, human_items, reports_dir, review_exit
from golive import watch as watch_module
from golive.attestations import AttestationError
from golive.catalog import CatalogError
from golive.config import ConfigError, Settings, json_schema, load_settings, resolve_path
from golive.decision_record import DecisionRecord
from golive.engines import cli as hook_cli
from golive.engines import protection_rule
from golive.gate_process import GateResult, run_gate
from golive.history import HistoryError
from golive.serve import cli as serve_cli
from golive.timeline import Timeline, TimelineError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"golive: {message} (see golive --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="golive", description="Go/no-go gates for blue-green deployments, on pytest.")
    parser.add_argument("--version", action="version", version=f"golive {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gate = commands.add_parser("gate", help="run a gate; exit 0 GO, 1 REVIEW, 2 NO-GO")
    gate.add_argument("gate", choices=sorted(gates.BY_ARGUMENT), help=", ".join(
        f"{g.number} ({g.name})" if g.number else g.name for g in gates.GATES))
    gate.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (-n auto, --env green, ...)")
    gate.add_argument(review_exit.OPTION, metavar="K", help="exit K for a REVIEW (for engines reading 0/non-0)")

    sandbox = commands.add_parser("sandbox", help="the reference orchestrator on this machine", add_help=False)
    sandbox.add_argument("sandbox_args", nargs=argparse.REMAINDER)

    serve_cli.add_arguments(commands.add_parser("serve", help="run gates on request over HTTP (docs/ENGINES.md)"))
    hook_cli.add_arguments(commands.add_parser("hook", help="an AWS lifecycle hook: codedeploy, ecs (docs/ENGINES.md)"))
    protection_rule.add_arguments(commands.add_parser(
        "protection-rule", help="approve or reject a GitHub deployment from a decision record (docs/ENGINES.md)"))

    demo = commands.add_parser("demo", help="sandbox up, then Gate 1 and Gate 2 against it")
    demo.add_argument("--config-out", default="golive.sandbox.yaml")
    demo.add_argument("--cutover", action="store_true", help="then the cutover (short bakes) and Gate 3")
    reports_dir.add_option(demo, "records, reports and timeline")

    cutover = commands.add_parser("cutover", help="move traffic to the candidate step by step, gated; WRITES to the "
                                  "load balancer; exit 0 GO, 2 rolled back")
    cutover.add_argument("--plan", metavar="SHARES", help="the candidate's share at each step (default: cutover.steps,"
                         " else 50,100)")
    cutover.add_argument("--bake", metavar="DURATION", help="each step's bake (120s, 2m; default: cutover.steps)")
    cutover.add_argument("--dry-run", action="store_true", help="print the plan and the calls; change nothing")
    mode = cutover.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the cutover the journal records")
    mode.add_argument("--abort", action="store_true", help="put all traffic back on the live environment")
    cutover.add_argument("--on-rollback", metavar="CMD", help="shell command to run once when it rolls back")
    reports_dir.add_option(cutover, "records, journal and timeline")
    _config_options(cutover)

    checks = commands.add_parser("checks", help="the check catalog, read from validations/")
    checks.add_argument("--markdown", action="store_true", help="as docs/CHECKS.md")

    attest = commands.add_parser("attest", help="sign a human checklist item for this release")
    attest.add_argument("item", help="the item id (golive checklist lists them)")
    attest.add_argument("--by", required=True, help="your name")
    attest.add_argument("--role", required=True, help="the role you sign as (e.g. 'Release Manager')")
    attest.add_argument("--note", default="", help="what you checked, links, ...")
    _config_options(attest)
    _validations_option(attest)
    reports_dir.add_option(attest, "the reports directory (a signing key must not be inside it)")

    timeline = commands.add_parser("timeline", help="the deployment timeline under reports/")
    timeline.add_argument("action", choices=("init", "start", "phase", "event", "warning", "error", "complete",
                                             "report"))
    timeline.add_argument("message", nargs="*", help="what happened (phase name, event text)")
    reports_dir.add_option(timeline, "the reports directory")

    dashboard = commands.add_parser("dashboard", help="health panels of one or both environments")
    dashboard.add_argument("--env", dest="env", metavar="NAME", help="default: both environments side by side")
    dashboard.add_argument("--continuous", action="store_true", help="refresh every interval until Ctrl-C")
    dashboard.add_argument("--interval", type=_positive, default=5.0, metavar="S", help="seconds between frames")
    _config_options(dashboard)

    watch = commands.add_parser("watch", help="watch one environment; exit 2 when a rollback trigger fires")
    watch.add_argument("--env", dest="env", metavar="NAME", help="default: the candidate")
    watch.add_argument("--interval", type=_positive, default=1.0, metavar="S", help="seconds between readings")
    watch.add_argument("--duration", type=_positive, default=600.0, metavar="S", help="stop (exit 0) after S s")
    watch.add_argument("--on-rollback", metavar="CMD", help="shell command to run once when a trigger fires")
    reports_dir.add_option(watch, "the reports directory, for the timeline")
    _config_options(watch)

    history = commands.add_parser("history", help="index.html of the decision records in the reports directory")
    history.add_argument("directory", nargs="?", metavar="DIR", help="the reports directory (as --golive-reports)")
    reports_dir.add_option(history, "the reports directory")

    config = commands.add_parser("config", help="about the configuration file: `golive config schema`")
    config.add_argument("action", choices=("schema",), help="schema: print its JSON Schema (for editors)")

    record = commands.add_parser("record", help="about the decision record: `golive record schema`")
    record.add_argument("action", choices=("schema",), help="schema: print its JSON Schema (for consumers)")

    init = commands.add_parser("init", help="a commented starting golive.yaml, from what the running service answers")
    init.add_argument("--url", action="append", required=True, metavar="URL",
                      help="the candidate (blue) first, then the live environment (green)")
    init.add_argument("--prometheus", metavar="URL", help="find each environment's scrape job and metric naming")
    init.add_argument("--dsn", metavar="DSN", help="the PostgreSQL DSN (a password in it becomes ${PGPASSWORD})")
    init.add_argument("--amqp", metavar="URL", help="the RabbitMQ URL (a password becomes ${RABBITMQ_PASSWORD})")
    init.add_argument("--redis", metavar="URL", help="the Redis URL (a password becomes ${REDIS_PASSWORD})")
    init.add_argument("--out", default="golive.yaml", metavar="FILE", help="where to write (default: golive.yaml)")
    init.add_argument("--force", action="store_true", help="replace FILE if it exists")
    init.add_argument("--timeout", type=_positive, default=2.0, metavar="S", help="per request (default: 2 s)")

    from golive import evidence_cli  # golive keys init, golive verify (golive/evidence_cli.py)

    evidence_cli.add_arguments(commands)

    checklist = commands.add_parser("checklist", help="the human items still open for this release")
    checklist.add_argument("--all", action="store_true", help="list signed items too")
    _config_options(checklist)
    _validations_option(checklist)
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 86400: {text!r}")
    return value


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--golive-config", dest="golive_config", metavar="PATH",
                        help="configuration file (default: $GOLIVE_CONFIG, else ./golive.yaml)")


def _validations_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--validations", metavar="DIR", help="where the <area>.checklist.yaml files are (default: "
                        f"${human_items.VALIDATIONS_ENV_VAR}, else ./validations)")


def _settings(arguments: argparse.Namespace) -> Settings:
    path, source = resolve_path(arguments.golive_config, os.environ, Path.cwd())
    return load_settings(path, source)


def _demo(config_out: str, reports: Path, cutover: bool = False) -> int:
    """Sandbox up; Gate 1 as a release team lives it (open human items, then signed); Gate 2. With ``cutover``:
    the cutover (whose first step runs Gate 2 itself) with short bakes, then Gate 3."""
    from golive.sandbox import cli as sandbox_cli  # late, like each command's own module: see main()

    code = sandbox_cli.main(["up", "--config-out", config_out])
    if code != 0:
        return code
    gate_args = ["--golive-config", config_out, f"--golive-reports={reports}", "-n", "auto", "-q", "--no-header",
                 "--tb=no", "-p", "no:warnings"]  # fmt: skip
    settings = load_settings(Path(config_out), "--golive-config")
    timeline = Timeline.in_reports(reports)
    timeline.init(f"golive demo: release {settings.release.version} on the sandbox")
    timeline.add("start", "deployment rehearsal started (T+0)")

    first = _demo_gate("1", gate_args)
    records = attestations.read(settings.attestations_path)
    release, max_age = settings.release.version, settings.document.attestations.max_age_h
    items = human_items.load_all(human_items.validations_dir(None))
    pending = attestations.open_items(records, release, max_age, items)
    if pending:
        print(f"\n{len(pending)} human checklist items are open for release {release}; the sandbox's release team"
              " signs them now:")
        for status in pending:
            role = status.item.roles[0]
            signed = attestations.record(
                settings.attestations_path, status.item.id, f"Sandbox {role}", role, release, "golive demo",
                items=items, mask=settings.masker,
            )
            print(f"  golive attest {signed.item} --by '{signed.by}' --role '{signed.role}'")
        first = _demo_gate("1", gate_args)
    results: list[tuple[str, GateResult]] = [("1", first)]
    if not cutover:
        results.append(("2", _demo_gate("2", gate_args)))
    elif first.exit_code == 0:
        from golive.cutover import runner

        print(f"\n$ golive cutover --golive-config {config_out} --golive-reports {reports} --bake {DEMO_BAKE}",
              flush=True)
        cutover_code = runner.run(settings, runner.Options(bake=DEMO_BAKE, reports_dir=reports))
        print(f"cutover: {'GO' if cutover_code == 0 else 'ROLLED-BACK'} (exit {cutover_code})")
        if cutover_code != 0:
            return cutover_code
        results.append(("3", _demo_gate("3", gate_args)))
    for gate, result in results:
        report = result.record.html_report if result.record is not None else None
        print(f"{gates.BY_ARGUMENT[gate].short_title}: {result.verdict} (exit {result.exit_code}); report: {report}")
    return max(result.exit_code for _gate, result in results)


DEMO_BAKE = "3s"  # `golive demo --cutover`: each step's bake, long enough for a few readings


def _demo_gate(gate: str, gate_args: list[str]) -> GateResult:
    print(f"\n$ golive gate {gate} {' '.join(gate_args)}", flush=True)
    return run_gate(gate, gate_args)


def _reports(arguments: argparse.Namespace) -> Path:
    """The command's reports directory by the one rule (golive.reports_dir); ``golive history DIR`` and ``golive
    verify DIR`` name it as --golive-reports does. ValueError: one line."""
    positional = getattr(arguments, "directory", None)
    if positional and arguments.reports and Path(positional) != Path(arguments.reports):
        raise ValueError(f"DIR {positional} and {reports_dir.OPTION} {arguments.reports}: two reports directories; "
                         "give one")
    return reports_dir.resolve(positional or arguments.reports, os.environ, Path.cwd()).path


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "gate":
        review_code, pytest_args = review_exit.split(arguments.pytest_args, arguments.review_exit_code)
        gate_result = run_gate(arguments.gate, pytest_args)
        recorded = gate_result.record.verdict if gate_result.record is not None else None
        return review_exit.exit_status(gate_result.status, recorded, review_code)
    if "reports" in vars(arguments):  # every command that reads or writes the reports directory: one rule
        try:
            arguments.reports = str(_reports(arguments))
        except ValueError as error:
            print(f"golive {arguments.command}: {error}", file=sys.stderr)
            return 2
    # The sandbox, the dashboard and init load their probes and client libraries only for their own command,
    # so every other command starts quickly; none of these late imports dodges an import cycle.
    if arguments.command == "sandbox":
        from golive.sandbox import cli as sandbox_cli

        return int(sandbox_cli.main(arguments.sandbox_args))
    if arguments.command == "serve":
        return serve_cli.run(arguments)
    if arguments.command == "hook":
        return hook_cli.run(arguments)
    if arguments.command == "protection-rule":
        return protection_rule.run(arguments)
    if arguments.command == "config":
        print(json.dumps(json_schema(), indent=2))
        return 0
    if arguments.command == "record":
        print(DecisionRecord.schema_text())
        return 0
    if arguments.command == "init":
        return _init(arguments)
    if arguments.command in ("keys", "verify"):
        from golive import evidence_cli

        return evidence_cli.run(arguments)
    try:
        if arguments.command == "demo":
            return _demo(arguments.config_out, Path(arguments.reports), arguments.cutover)
        if arguments.command == "cutover":
            return _cutover(arguments)
        if arguments.command == "checks":
            return _checks(arguments.markdown)
        if arguments.command == "attest":
            return _attest(arguments)
        if arguments.command == "checklist":
            return _checklist(arguments)
        if arguments.command == "timeline":
            return _timeline(arguments)
        if arguments.command == "history":
            return _history(Path(arguments.reports))
        if arguments.command == "dashboard":
            from golive import dashboard as dashboard_module

            return dashboard_module.run(_settings(arguments), arguments.env, arguments.continuous, arguments.interval)
        if arguments.command == "watch":
            settings = _settings(arguments)
            result = watch_module.watch(settings, settings.select(arguments.env), arguments.interval,
                                        arguments.duration, arguments.on_rollback, reports_dir=Path(arguments.reports))
            return result.code
    except (ConfigError, AttestationError, CatalogError, TimelineError, HistoryError) as error:
        print(f"golive: {error}", file=sys.stderr)
        return 2
    return 2


def _init(arguments: argparse.Namespace) -> int:
    from golive import init

    request = init.Request(tuple(arguments.url), arguments.prometheus, arguments.dsn, arguments.amqp,
                           arguments.redis, arguments.timeout)  # fmt: skip
    try:
        result = init.run(request, Path(arguments.out), arguments.force)
    except init.InitError as error:
        print(f"golive init: {error}", file=sys.stderr)
        return 2
    for line in result.summary:
        print(f"  {line}")
    print(f"wrote {arguments.out}: review its TODO lines, then run `golive gate 1 --golive-config {arguments.out}`")
    if result.variables:
        print(f"set {', '.join(result.variables)} in the environment before running a gate (the file references them)")
    return 0


_TIMELINE_DEFAULTS = {"init": "timeline initialised", "start": "deployment started (T+0)",
                      "complete": "deployment complete"}
_TIMELINE_STYLES = {"init": "dim", "start": "bold cyan", "phase": "bold blue", "event": "", "warning": "yellow",
                    "error": "bold red", "complete": "bold green", "gate": "magenta"}


def _timeline(arguments: argparse.Namespace) -> int:
    book = Timeline.in_reports(Path(arguments.reports))
    message = " ".join(arguments.message).strip() or _TIMELINE_DEFAULTS.get(arguments.action, "")
    if arguments.action == "report":
        return _timeline_report(book)
    if not message:
        raise TimelineError(f"timeline {arguments.action}: say what happened")
    event = book.init(message) if arguments.action == "init" else book.add(arguments.action, message)
    print(f"{event.at} {event.kind}: {event.message}")
    return 0


def _timeline_report(book: Timeline) -> int:
    from rich.console import Console
    from rich.text import Text

    entries = book.entries()
    if not entries:
        raise TimelineError(f"{book.path}: no timeline yet (golive timeline init)")
    console = Console(highlight=False, soft_wrap=True)
    console.print(Text(f"deployment timeline: {book.path}", style="bold"))
    for entry in entries:
        event = entry.event
        line = Text(f"{event.at.replace('+00:00', 'Z')}  {entry.elapsed}  ")
        line.append(f"{event.kind:<8}", style=_TIMELINE_STYLES.get(event.kind, ""))
        line.append(f"  {event.message}")
        line.append(f"  ({event.source}, pid {event.pid})", style="dim")
        console.print(line)
    return 0


def _history(directory: Path) -> int:
    index, runs, histories = history.build(directory)
    flapping = [h for h in histories if h.flaps]
    print(f"{index}: {len(runs)} runs, {len(histories)} checks, {len(flapping)} flapping")
    return 0


def _checks(markdown: bool) -> int:
    entries = catalog.collect()
    sys.stdout.write(catalog.as_markdown(entries) if markdown else catalog.as_text(entries))
    return 0


def _cutover(arguments: argparse.Namespace) -> int:
    from golive.cutover import runner

    options = runner.Options(plan=arguments.plan, bake=arguments.bake, dry_run=arguments.dry_run,
                             resume=arguments.resume, abort=arguments.abort, on_rollback=arguments.on_rollback,
                             reports_dir=Path(arguments.reports))  # fmt: skip
    return runner.run(_settings(arguments), options)


def _attest(arguments: argparse.Namespace) -> int:
    settings = _settings(arguments)
    items = human_items.load_all(human_items.validations_dir(arguments.validations))
    from golive.cutover import plan as cutover_plan

    step_item = cutover_plan.attestation_item(arguments.item, settings.document.cutover)
    from golive import evidence  # evidence.key configured: the line is signed and chained (<attestations>.dsse.jsonl)

    try:
        signer = evidence.configured_signer(settings, Path(arguments.reports))
    except evidence.EvidenceError as error:
        raise AttestationError(str(error)) from None
    signed = attestations.record(
        settings.attestations_path, arguments.item, arguments.by, arguments.role, settings.release.version,
        arguments.note, items=[*items, *([step_item] if step_item else [])],
        seal=(lambda path, line: evidence.append_signed_attestation(signer, path, line, settings.release.version))
        if signer else None, mask=settings.masker,
    )
    print(f"{signed.item}: signed by {signed.by} ({signed.role}) at {signed.at} for release {signed.release}")
    return 0


def _checklist(arguments: argparse.Namespace) -> int:
    settings = _settings(arguments)
    records = attestations.read(settings.attestations_path)
    release, max_age = settings.release.version, settings.document.attestations.max_age_h
    items = human_items.load_all(human_items.validations_dir(arguments.validations))
    standings = [attestations.standing(item, records, release, max_age) for item in items]
    open_count = 0
    for status in standings:
        if status.valid is None:
            open_count += 1
        elif not arguments.all:
            continue
        mark = "open  " if status.valid is None else "signed"
        severity = "critical" if status.item.critical else "warning"
        print(f"[{mark}] {status.item.id} ({severity}): {status.item.title}: {status.reason}")
    print(f"{open_count} of {len(standings)} human items open for release {release} ({settings.attestations_path})")
    return 1 if open_count else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
