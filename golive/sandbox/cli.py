"""``golive sandbox ...``: up, status, down, fault, helper. Also ``python -m golive.sandbox.cli ...``.

Exit codes: 0 done (``status``: every piece up), 1 ``status`` with a piece down, 2 an error the user can
act on (printed as one line, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx
import pika.exceptions
import psycopg
import redis

from golive.promql import PRESET_NAMES
from golive.sandbox import constants as c
from golive.sandbox.manager import (
    ALARMS,
    DATA_FAULT_TABLES,
    DEFAULT_FILL,
    DNS_RECORD,
    DNS_TTL,
    REPOSITORY,
    Manager,
    SandboxError,
)

HELPERS = """\
helpers (each undone by its --clear, and all of them by `up`):
  pause-replay                 pause WAL replay on the standby (lag grows with every write); --clear resumes
  fill-queue [--queue Q] [--count N]
                               publish N filler messages (default 1500) into agent.tasks (stopping the
                               worker so they stay) or agent.tasks.dlq; --clear purges and restarts the worker
  poison [--count N]           publish N poison tasks the worker dead-letters to agent.tasks.dlq; --clear purges
  memory-alarm                 raise a RabbitMQ memory alarm (watermark 0.0000001, node-wide, blocks publishers);
                               --clear restores the original watermark
  redis-maxmemory [--bytes N]  shrink the shared Redis's maxmemory to just above what it uses (or N bytes);
                               --clear restores the original value
  age-backup [--hours H]       make every backup under s3://golive-sandbox-backups/postgres/ H hours old
                               (default 48); --clear uploads a fresh one
  alb-weights --blue N --green N
                               set the moto ALB listener's forward weights; --clear sets blue 0, green 100
  haproxy-weights --blue N --green N
                               set HAProxy's runtime weights (be/blue, be/green); --clear sets 0 and 100
  haproxy-health ENV           turn off HAProxy's health checks of be/ENV (as if it had no `check`); --clear
                               turns them on
  cutover --blue N             a cutover step: blue N, green 100-N on both the ALB and HAProxy (so what the
                               configuration reads and where traffic goes agree); --clear sets blue 0, green 100
  alarm-state NAME [--state S] set a CloudWatch alarm (orchestrator-5xx, orchestrator-p95) to S (default ALARM);
                               --clear sets every sandbox alarm to OK
  plant-secret                 write a hard-coded AWS key pair into the release's source tree (STATE/src);
                               --clear removes it
  dns-ttl [--ttl N]            set the TTL of the weighted records of api.orchestrator.sandbox. (default 300);
                               --clear sets 60
  image-findings [--critical N] [--high N]
                               re-push the release image (2.1.0) and make its ECR scan report N critical (default
                               1) and N high findings; --clear re-pushes it with a clean scan
  alb-target-group ENV [--deregister] [--health-check-path P]
                               deregister ENV's ALB targets and/or point its health check at P; --clear
                               re-registers and restores /health
  delete-rows [--count N]      delete the newest N (default 1) rows of messages (an integrity table)
  break-invariant              insert a message whose agent does not exist (an invariant's violation)
  change-immutable             change agent scheduler's kind (agents is an immutable table)
                               --clear on any of these three undoes all of them (rows put back as they were)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="golive sandbox",
        description="The reference AI Agent Orchestrator (blue and green) on this machine's services.",
        epilog=f"State, logs and PIDs live in ${c.ENV_STATE_DIR} (default {c.DEFAULT_STATE_DIR}).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start (or repair) every piece, clear faults, write the golive config")
    up.add_argument(
        "--config-out",
        type=Path,
        default=Path("golive.sandbox.yaml"),
        metavar="PATH",
        help="where to write the golive configuration (default: ./golive.sandbox.yaml)",
    )
    up.add_argument(
        "--dialect",
        choices=c.DIALECTS,
        default=c.DEFAULT_DIALECT,
        help=f"how blue and green answer health (default {c.DEFAULT_DIALECT}); apps restart when it changes",
    )
    up.add_argument(
        "--metrics",
        choices=PRESET_NAMES,
        help=f"the metric naming blue and green expose (default: {c.DEFAULT_METRICS}); another restarts them",
    )
    commands.add_parser("status", help="each piece with PID, port, up/down; exit 1 if one is down")
    commands.add_parser("down", help="stop every sandbox process and restore shared-service settings")

    fault = commands.add_parser("fault", help="inject faults into one environment's app")
    fault.add_argument("env", choices=("blue", "green"), metavar="ENV", help="blue or green")
    fault.add_argument(
        "--error-rate", type=_fraction, metavar="F", help="fraction (0..1) of /health and /api/* answering 500"
    )
    fault.add_argument("--latency-ms", type=_non_negative, metavar="N", help="ms added to /health and /api/*")
    fault.add_argument("--crash", action="store_true", help="kill the app process (connections refused)")
    fault.add_argument("--stop-worker", action="store_true", help="stop the agent worker (no consumer)")
    fault.add_argument(
        "--dependency-down",
        choices=c.DEPENDENCIES,
        metavar="NAME",
        help=f"the app reports this dependency down in its health answers ({', '.join(c.DEPENDENCIES)})",
    )
    fault.add_argument("--clear", action="store_true", help="clear faults; restart a crashed app or worker")

    helper = commands.add_parser(
        "helper",
        help="break a piece of infrastructure on purpose",
        epilog=HELPERS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    names = helper.add_subparsers(dest="helper", required=True, metavar="NAME")
    for name, text in (
        ("pause-replay", "pause WAL replay on the standby"),
        ("memory-alarm", "raise a RabbitMQ memory alarm"),
        ("plant-secret", "hard-code an AWS key in the release's source tree"),
    ):
        names.add_parser(name, help=text).add_argument("--clear", action="store_true")
    fill = names.add_parser("fill-queue", help="publish filler messages into a queue")
    fill.add_argument("--queue", choices=(c.TASK_QUEUE, c.DEAD_LETTER_QUEUE), default=c.TASK_QUEUE)
    fill.add_argument("--count", type=int, default=DEFAULT_FILL)
    fill.add_argument("--clear", action="store_true")
    poison = names.add_parser("poison", help="publish tasks the worker dead-letters")
    poison.add_argument("--count", type=int, default=5)
    poison.add_argument("--clear", action="store_true")
    shrink = names.add_parser("redis-maxmemory", help="shrink the shared Redis's maxmemory")
    shrink.add_argument("--bytes", type=int, dest="limit_bytes")
    shrink.add_argument("--clear", action="store_true")
    age = names.add_parser("age-backup", help="make the S3 backups old")
    age.add_argument("--hours", type=_non_negative, default=48.0)
    age.add_argument("--clear", action="store_true")
    for name, text in (("alb-weights", "the moto ALB listener's weights"), ("haproxy-weights", "HAProxy's weights")):
        weights = names.add_parser(name, help=f"set {text}")
        weights.add_argument("--blue", type=int)
        weights.add_argument("--green", type=int)
        weights.add_argument("--clear", action="store_true")
    health = names.add_parser("haproxy-health", help="turn off HAProxy's health checks of one server")
    health.add_argument("env", choices=("blue", "green"), metavar="ENV")
    health.add_argument("--clear", action="store_true")
    cutover = names.add_parser("cutover", help="move a share of traffic to blue on the ALB and HAProxy together")
    cutover.add_argument("--blue", type=_percent, metavar="N", help="blue's share in percent (green gets the rest)")
    cutover.add_argument("--clear", action="store_true")
    ttl = names.add_parser("dns-ttl", help="set the TTL of the orchestrator's weighted DNS records")
    ttl.add_argument("--ttl", type=int, default=300)
    ttl.add_argument("--clear", action="store_true")
    findings = names.add_parser("image-findings", help="make the release image's ECR scan report findings")
    findings.add_argument("--critical", type=int, default=1)
    findings.add_argument("--high", type=int, default=0)
    findings.add_argument("--clear", action="store_true")
    group = names.add_parser("alb-target-group", help="deregister targets or move the health check of a group")
    group.add_argument("env", choices=("blue", "green"), metavar="ENV")
    group.add_argument("--deregister", action="store_true")
    group.add_argument("--health-check-path", metavar="PATH")
    group.add_argument("--clear", action="store_true")
    delete = names.add_parser("delete-rows", help="delete rows of an integrity table (data lost)")
    delete.add_argument("--table", choices=DATA_FAULT_TABLES, default=DATA_FAULT_TABLES[0])
    delete.add_argument("--count", type=int, default=1)
    delete.add_argument("--clear", action="store_true")
    for name, text in (
        ("break-invariant", "insert a row that violates a data invariant"),
        ("change-immutable", "change a row of an immutable table"),
    ):
        names.add_parser(name, help=text).add_argument("--clear", action="store_true")
    alarm = names.add_parser("alarm-state", help="set a CloudWatch alarm's state")
    alarm.add_argument("name", nargs="?", choices=ALARMS)
    alarm.add_argument("--state", choices=("ALARM", "OK", "INSUFFICIENT_DATA"), default="ALARM")
    alarm.add_argument("--clear", action="store_true")
    return parser


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("must be between 0 and 100")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _helper(manager: Manager, args: argparse.Namespace) -> str:
    name, clear = args.helper, args.clear
    with manager.locked():
        if not manager.state.processes:
            raise SandboxError("the sandbox is not running: run `golive sandbox up`")
        if name == "pause-replay":
            manager.pause_replay(not clear)
            return "standby replay resumed" if clear else "standby replay paused"
        if name in ("fill-queue", "poison"):
            if clear:
                manager.clear_queues()
                restarted = manager.start_missing(("worker",))
                return "queues purged" + (", worker restarted" if restarted else "")
            if name == "poison":
                manager.poison(args.count)
                return f"{args.count} poison tasks published to {c.TASK_QUEUE}"
            manager.fill_queue(args.queue, args.count)
            return f"{args.count} messages published to {args.queue}"
        if name == "plant-secret":
            planted = manager.plant_secret(not clear)
            return f"removed {planted}" if clear else f"hard-coded AWS key pair written to {planted}"
        if name == "memory-alarm":
            manager.memory_alarm(not clear)
            return "memory alarm cleared" if clear else "memory alarm raised (watermark 0.0000001)"
        if name == "redis-maxmemory":
            limit = manager.redis_maxmemory(not clear, args.limit_bytes)
            return f"redis maxmemory {'restored to' if clear else 'set to'} {limit}"
        if name == "age-backup":
            if clear:
                manager._ensure_backup(force=True)
                return "fresh backup uploaded"
            aged = manager.age_backup(args.hours)
            return f"{len(aged)} backup object(s) now {args.hours:g} h old"
        if name in ("alb-weights", "haproxy-weights"):
            if clear:
                blue, green = 0, 100
            elif args.blue is None or args.green is None:
                raise SandboxError(f"helper {name}: give --blue N and --green N, or --clear")
            else:
                blue, green = args.blue, args.green
            if name == "alb-weights":
                manager.set_alb_weights(blue, green)
            else:
                manager.set_haproxy_weights(blue, green)
            return f"{name.split('-')[0]} weights: blue {blue}, green {green}"
        if name == "haproxy-health":
            manager.set_haproxy_health(args.env, clear)
            return f"HAProxy health checks of be/{args.env} {'on' if clear else 'off'}"
        if name == "cutover":
            if not clear and args.blue is None:
                raise SandboxError("helper cutover: give --blue N (percent) or --clear")
            blue = 0 if clear else args.blue
            manager.set_alb_weights(blue, 100 - blue)
            manager.set_haproxy_weights(blue, 100 - blue)
            return f"cutover: blue {blue}, green {100 - blue} on the ALB and HAProxy"
        if name == "dns-ttl":
            ttl = DNS_TTL if clear else args.ttl
            manager.set_dns_ttl(ttl)
            return f"DNS records of {DNS_RECORD} have TTL {ttl} s"
        if name == "image-findings":
            counts = None if clear else {"CRITICAL": args.critical, "HIGH": args.high}
            manager.set_image_findings(c.BLUE_VERSION, counts)
            return f"{REPOSITORY}:{c.BLUE_VERSION} re-pushed; its scan reports " + (
                "no critical findings" if counts is None else f"{args.critical} critical, {args.high} high findings"
            )
        if name == "alb-target-group":
            if clear:
                manager.restore_alb_targets()
                return "ALB targets registered, health checks on /health"
            if not (args.deregister or args.health_check_path):
                raise SandboxError("helper alb-target-group: give --deregister, --health-check-path PATH or --clear")
            manager.break_alb_target_group(args.env, args.deregister, args.health_check_path)
            done = ["targets deregistered"] if args.deregister else []
            done += [f"health check path {args.health_check_path}"] if args.health_check_path else []
            return f"{args.env} target group: {', '.join(done)}"
        if name in ("delete-rows", "break-invariant", "change-immutable"):
            if clear:
                return f"data faults undone ({manager.clear_data_faults()} statement(s))"
            if name == "delete-rows":
                return f"{manager.delete_rows(args.table, args.count)} row(s) deleted from {args.table}"
            if name == "break-invariant":
                manager.break_invariant()
                return "a message of agent -1 (no such agent) inserted"
            manager.change_immutable()
            return "agents: scheduler's kind changed"
        if name == "alarm-state":
            if clear:
                for alarm in ALARMS:
                    manager.set_alarm(alarm, "OK")
                return "every sandbox alarm is OK"
            if args.name is None:
                raise SandboxError(f"helper alarm-state: name an alarm ({', '.join(ALARMS)}) or give --clear")
            manager.set_alarm(args.name, args.state)
            return f"{args.name} is {args.state}"
    raise SandboxError(f"unknown helper {name!r}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help is 0, a usage error 2
        return int(exc.code or 0)
    manager = Manager()
    try:
        if args.command == "up":
            return manager.up(args.config_out, {"dialect": args.dialect, "metrics": args.metrics})
        if args.command == "status":
            return manager.status()
        if args.command == "down":
            return manager.down()
        if args.command == "fault":
            return manager.fault(args.env, args.error_rate, args.latency_ms, args.crash, args.stop_worker, args.clear,
                                 args.dependency_down)
        print(_helper(manager, args))
        return 0
    except SandboxError as exc:
        print(f"golive sandbox {args.command}: {exc}", file=sys.stderr)
        return 2
    except (OSError, httpx.HTTPError, psycopg.Error, pika.exceptions.AMQPError, redis.RedisError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"golive sandbox {args.command}: {type(exc).__name__}: {text}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
