"""``golive hook codedeploy|ecs --event FILE|-``: a lifecycle hook run from a shell, a container or a test.

Exit codes: 0 the hook passes (CodeDeploy Succeeded reported; ECS SUCCEEDED), 1 it fails (Failed reported;
FAILED), 3 ECS IN_PROGRESS (a REVIEW waiting for its attestation), 2 it cannot: a bad event or configuration,
or a status CodeDeploy did not take (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

from golive import reports_dir
from golive.config import ConfigError

# CodeDeploy's statuses and ECS's hookStatus values.
EXIT = {"Succeeded": 0, "Failed": 1, "SUCCEEDED": 0, "FAILED": 1, "IN_PROGRESS": 3}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    engines = parser.add_subparsers(dest="engine", required=True, metavar="codedeploy|ecs")
    for name, text in (("codedeploy", "run the gate for a CodeDeploy lifecycle hook event and report its status"),
                       ("ecs", "run the gate for an ECS blue/green lifecycle hook event; print the hookStatus")):
        engine = engines.add_parser(name, help=text)
        engine.add_argument("--event", required=True, metavar="FILE|-", help="the event (JSON); - reads stdin")
        engine.add_argument("--gate", help="the gate to run (default: hooks.gate)")
        engine.add_argument("--golive-config", dest="golive_config", metavar="PATH",
                            help="configuration file (default: $GOLIVE_CONFIG, else ./golive.yaml)")
        reports_dir.add_option(engine, "records, runs and timeline")


def run(arguments: argparse.Namespace) -> int:
    # Late: boto3 and the run machinery load only for `golive hook`.
    from golive.engines import codedeploy, ecs
    from golive.engines.hooks import HookError, load_context, read_event

    source = f"golive hook {arguments.engine}"
    try:
        event = read_event(arguments.event)
        context = load_context(arguments.golive_config, arguments.reports, arguments.gate)
        if arguments.engine == "codedeploy":
            done = codedeploy.report(event, context)
            print(done.line(context), flush=True)
            return EXIT[done.status]
        answer, line = ecs.respond(event, context)
    except ConfigError as error:
        print(f"golive: {error}", file=sys.stderr)
        return 2
    except HookError as error:
        print(f"{source}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(answer), flush=True)
    print(f"{source}: {line}", file=sys.stderr, flush=True)
    return EXIT[answer["hookStatus"]]
