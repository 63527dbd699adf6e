"""``golive serve [--bind HOST:PORT] [--token-file FILE] [--golive-config PATH] [--reports DIR]``."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golive import acceptance, gates, reports_dir
from golive.config import ConfigError, Settings, load_settings, resolve_path
from golive.config_commands import Serve
from golive.evidence import EvidenceError
from golive.timeline import Timeline, TimelineError

if TYPE_CHECKING:
    from golive.serve.api import Server
    from golive.serve.runs import RunBook

MIN_TOKEN_CHARS = 16
SOMAXCONN_FILE = Path("/proc/sys/net/core/somaxconn")


class ServeError(Exception):
    """``golive serve`` cannot start. One line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``golive serve`` (golive.cli registers the subcommand)."""
    parser.add_argument("--bind", metavar="HOST:PORT", help="where to listen (default: serve.bind, else "
                        "127.0.0.1:8765; port 0 picks a free one)")
    parser.add_argument("--token-file", metavar="FILE", help="the bearer token (default: serve.token_file, "
                        "else the variable serve.token_env names)")
    parser.add_argument("--golive-config", dest="golive_config", metavar="PATH",
                        help="configuration file (default: $GOLIVE_CONFIG, else ./golive.yaml)")
    reports_dir.add_option(parser, "records, timeline and serve/ runs")


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port)."""
    host, colon, port_text = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ServeError(f"--bind {text!r}: expected HOST:PORT (for example 127.0.0.1:8765)")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(section: Serve, settings: Settings, token_file: str | None) -> tuple[str, str]:
    """(token, where it came from). A token is required; a short one is refused."""
    if token_file or section.token_file:
        path = Path(token_file) if token_file else settings.path.parent / str(section.token_file)
        origin = f"--token-file {path}" if token_file else f"serve.token_file {path}"
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise ServeError(f"{origin}: cannot read it ({getattr(error, 'strerror', None) or type(error).__name__})"
                             ) from None
    elif section.token_env:
        origin = f"serve.token_env {section.token_env}"
        token = os.environ.get(section.token_env, "").strip()
    else:
        raise ServeError(f"{settings.path.name}: serve: no token: set serve.token_file or serve.token_env, "
                         "or pass --token-file")
    if len(token) < MIN_TOKEN_CHARS or any(ch.isspace() for ch in token):
        raise ServeError(f"{origin}: the token must be at least {MIN_TOKEN_CHARS} characters, without spaces")
    return token, origin


def build(arguments: argparse.Namespace) -> tuple[Server, RunBook, str]:
    """The server, its run book, and the line that says where it listens. ServeError/ConfigError: one line."""
    # Late: `golive` loads the HTTP server and the run machinery only for `golive serve`.
    from golive.serve.api import Server, Service, gate_spellings, longest_wait_s
    from golive.serve.runs import GateCommand, RunBook

    path, source = resolve_path(arguments.golive_config, os.environ, Path.cwd())
    settings = load_settings(path, source)
    section = settings.document.serve or Serve()
    for index, name in enumerate(section.gates or []):
        if name not in gates.BY_ARGUMENT:
            raise ServeError(f"{path.name}: serve.gates[{index}]: no gate {name!r} (have: "
                             f"{', '.join(sorted(gates.BY_ARGUMENT))})")
    for index, name in enumerate(section.environments or []):
        if name not in settings.environments:
            raise ServeError(f"{path.name}: serve.environments[{index}]: no environment {name!r} (have: "
                             f"{', '.join(sorted(settings.environments))})")
    token, _origin = read_token(section, settings, arguments.token_file)
    settings.masker.add(token)
    host, port = parse_bind(arguments.bind or section.bind)
    reports = Path(arguments.reports).resolve()
    runs_dir = reports / "serve"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ServeError(f"--reports {reports}: cannot create {runs_dir} ({error.strerror})") from None
    timeline = Timeline.in_reports(reports)

    def announce(kind: str, message: str) -> None:
        try:
            timeline.add(kind, settings.masker(message), source="golive serve")
        except TimelineError as error:
            sys.stderr.write(f"golive serve: {error}\n")

    try:
        # Each run's own gate and environment are set per run (GateCommand.run); here: release and trust.
        expect = acceptance.expectation(settings, next(iter(settings.environments)), max_age=None,
                                        reports_dirs=[reports])
    except (acceptance.AcceptanceError, EvidenceError) as error:
        raise ServeError(str(error)) from None
    command = GateCommand(path.resolve(), reports, tuple(section.pytest_args), section.timeout_s, expect,
                          hidden_variables=(section.token_env,) if section.token_env else ())
    book = RunBook(command, runs_dir, section.keep_runs, settings.masker, announce)
    allowed = gate_spellings(section.gates)
    service = Service(
        book=book, token=token, gates_allowed=allowed,
        environments=tuple(section.environments or settings.environments), masker=settings.masker,
        max_body_bytes=section.max_body_bytes, flagger_token_in_metadata=section.flagger_token_in_metadata,
        announce=announce, wait_s=longest_wait_s(section.timeout_s, len({g.name for g in allowed.values()})),
        request_timeout_s=section.request_timeout_s,
    )
    try:
        server = Server((host, port), service)
    except OSError as error:
        raise ServeError(f"--bind {host}:{port}: cannot listen ({error.strerror or error})") from None
    bound_host, bound_port = bound_address(server)
    shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    announce("event", f"serve: listening on http://{shown}:{bound_port} (config {path.name})")
    return server, book, f"golive serve: listening on http://{shown}:{bound_port}"


def accept_queue_cap(path: Path = SOMAXCONN_FILE) -> int | None:
    """The kernel's cap on a listening socket's accept queue (net.core.somaxconn), where it can be read."""
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def bound_address(server: Server) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return (host.decode() if isinstance(host, bytes) else str(host)), int(port)


def run(arguments: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 2 with one line when it cannot start."""
    try:
        server, book, line = build(arguments)
    except (ConfigError, ServeError) as error:
        print(f"golive serve: {error}" if isinstance(error, ServeError) else f"golive: {error}", file=sys.stderr)
        return 2
    print(line, flush=True)
    host = bound_address(server)[0]
    if not is_loopback(host):
        print(f"golive serve: {host} is not a loopback address: anyone who can reach it and holds the token can "
              "run gates", file=sys.stderr, flush=True)
    from golive.serve.api import MIN_ACCEPT_QUEUE  # loaded by build() already

    cap = accept_queue_cap()
    if cap is not None and cap < MIN_ACCEPT_QUEUE:
        print(f"golive serve: net.core.somaxconn is {cap}: the kernel holds at most {cap} connections waiting to "
              f"be accepted (golive asks for {server.request_queue_size}; raise it to at least {MIN_ACCEPT_QUEUE} "
              "for bursts of engine requests)", file=sys.stderr, flush=True)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()  # not from serve_forever's own thread

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        book.close()
        server.server_close()
    print("golive serve: stopped", flush=True)
    return 0
