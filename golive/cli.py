"""The ``golive`` command: gates, the sandbox and the demo."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

GATES = {
    "1": "pre",
    "pre": "pre",
    "final": "final",
    "config": "config",
    "2": "immediate",
    "immediate": "immediate",
    "3": "extended or data_integrity",
    "post": "extended or data_integrity",
}
GATE_TITLES = {"pre": "Gate 1", "immediate": "Gate 2", "extended or data_integrity": "Gate 3"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"golive: {message} (see golive --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="golive", description="Go/no-go gates for blue-green deployments, on pytest.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gate = commands.add_parser("gate", help="run a gate; exit 0 GO, 1 REVIEW, 2 NO-GO")
    gate.add_argument("gate", choices=sorted(GATES), help="1 (pre), 2 (immediate), 3 (post), final or config")
    gate.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (-n auto, --env green, ...)")

    sandbox = commands.add_parser("sandbox", help="the reference orchestrator on this machine", add_help=False)
    sandbox.add_argument("sandbox_args", nargs=argparse.REMAINDER)

    demo = commands.add_parser("demo", help="sandbox up, then Gate 1 and Gate 2 against it")
    demo.add_argument("--config-out", default="golive.sandbox.yaml")
    return parser


def run_gate(gate: str, pytest_args: Sequence[str]) -> tuple[int, dict[str, object] | None]:
    """Run one gate in a child pytest and check it left a decision record agreeing with its exit code.

    A child that died without deciding (a crash, a kill, an ``os._exit`` inside a check) is a NO-GO.
    """
    expression = GATES[gate]
    args = _joined_path_options(pytest_args)
    if any(arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")) for arg in args):
        print("golive: gate sets the marker expression itself; drop -m", file=sys.stderr)
        return 2, None
    with tempfile.TemporaryDirectory(prefix="golive-gate-") as scratch:
        record_path = _json_option(args)
        extra: list[str] = []
        if record_path is None:
            record_path = Path(scratch) / "record.json"
            extra = ["--golive-json", str(record_path)]
        code = subprocess.call([sys.executable, "-m", "pytest", "-m", expression, *extra, *args])
        if code == 4:  # a pytest usage error, before any check ran: pytest said why
            return 4, None
        try:
            document = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            document = None
        if document is None or document.get("exit_code") != code or code not in (0, 1, 2):
            print(
                f"golive: the gate run ended with exit {code} without a matching decision record: NO-GO",
                file=sys.stderr,
            )
            return 2, document
        return code, document


_PATH_OPTIONS = ("--golive-config", "--golive-json", "--golive-reports", "--html")


def _joined_path_options(args: Sequence[str]) -> list[str]:
    """`--golive-config PATH` -> `--golive-config=PATH`.

    pytest picks its rootdir before plugins register their options, so a separate path value outside the
    project would be taken for a test path and move the rootdir (and with it testpaths and reports/).
    """
    joined: list[str] = []
    index = 0
    while index < len(args):
        if args[index] in _PATH_OPTIONS and index + 1 < len(args):
            joined.append(f"{args[index]}={args[index + 1]}")
            index += 2
        else:
            joined.append(args[index])
            index += 1
    return joined


def _json_option(args: Sequence[str]) -> Path | None:
    """The path given with --golive-json, if the caller passed one."""
    for arg in args:
        if arg.startswith("--golive-json="):
            return Path(arg.split("=", 1)[1])
    return None


def _demo(config_out: str) -> int:
    from golive.sandbox import cli as sandbox_cli

    code = sandbox_cli.main(["up", "--config-out", config_out])
    if code != 0:
        return code
    worst = 0
    for gate in ("1", "2"):
        code, document = run_gate(gate, ["--golive-config", config_out, "-n", "auto", "-q"])
        verdict = document.get("verdict") if document else "NO-GO"
        report = document.get("html_report") if document else None
        print(f"{GATE_TITLES[GATES[gate]]}: {verdict} (exit {code}); report: {report}")
        worst = max(worst, code)
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "gate":
        return run_gate(arguments.gate, arguments.pytest_args)[0]
    if arguments.command == "sandbox":
        from golive.sandbox import cli as sandbox_cli

        return int(sandbox_cli.main(arguments.sandbox_args))
    if arguments.command == "demo":
        return _demo(arguments.config_out)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
