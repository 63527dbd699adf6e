"""Host probe: an application's processes, sockets, log, resource use and staged variables, through testinfra.

Every function takes a testinfra host (``local://``, ``ssh://...``), so the same measurement works on this
machine and on a remote one. Reads go through the host's own commands (``cat``, ``tail``, ``ps``); nothing is
ever written. Values of staged variables never leave this module except for the names a caller asks for,
so a failing check cannot print a credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from golive.masking import clip, mask_url
from golive.probes import bounded
from golive.probes.errors import ProbeError

# A log line counts as an error when it carries one of these words (Python, uvicorn, Java, Go loggers).
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|FATAL)\b|Traceback \(most recent call last\)")
# How long a CPU sample lasts: long enough to see a busy process, short enough for a gate.
CPU_SAMPLE_S = 1.0
_LINE_SAMPLE = 160
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")


def name_of(host: Any) -> str:
    """The host as messages name it: ``local`` or the ssh/... host name."""
    return str(getattr(host.backend, "hostname", None) or "local")


def connect(spec: str) -> Any:
    """A testinfra host for a spec such as ``local://`` or ``ssh://deploy@10.0.0.5`` (testinfra caches it)."""
    import testinfra

    return testinfra.get_host(spec)


def file_exists(host: Any, path: str) -> bool:
    """Whether a regular file exists at ``path`` on the host."""
    try:
        file = host.file(path)
        return bool(file.exists and file.is_file)
    except Exception as exc:
        where = f"{name_of(host)}:{path}"
        raise ProbeError("host", where, f"cannot look: {type(exc).__name__}: {exc}") from None


def command_exists(host: Any, command: str) -> bool:
    """Whether ``command`` is on the host's PATH (``command -v``)."""
    try:
        return bool(host.exists(command))
    except Exception as exc:
        raise ProbeError("host", name_of(host), f"cannot look for {command}: {type(exc).__name__}: {exc}") from None


def _read(host: Any, path: str, what: str) -> str:
    """The text of a file on the host; a missing or unreadable file raises ProbeError."""
    where = f"{name_of(host)}:{path}"
    try:
        file = host.file(path)
        if not file.exists:
            raise ProbeError("host", where, f"{what} does not exist")
        if not file.is_file:
            raise ProbeError("host", where, f"{what} is not a regular file")
        return str(file.content_string)
    except ProbeError:
        raise
    except Exception as exc:  # testinfra raises assorted types for unreachable hosts and failed commands
        raise ProbeError("host", where, f"cannot read the {what}: {type(exc).__name__}: {exc}") from None


# --- staged environment variables ----------------------------------------------------------------------


def _parse_env(text: str) -> dict[str, str]:
    """KEY=VALUE lines (``export`` allowed, quotes removed, comments and blank lines skipped)."""
    variables: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            continue
        value = match.group("value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        variables[match.group("key")] = value
    return variables


def staged_keys(host: Any, path: str) -> set[str]:
    """The names of the variables an env file sets to a non-empty value (never the values)."""
    return {key for key, value in _parse_env(_read(host, path, "env file")).items() if value.strip()}


def staged_values(host: Any, path: str, names: Iterable[str]) -> dict[str, str]:
    """The values of the named, non-secret variables (LOG_LEVEL, DEBUG, ...) an env file sets."""
    wanted = set(names)
    return {key: value for key, value in _parse_env(_read(host, path, "env file")).items() if key in wanted}


# --- processes and sockets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    pid: int
    args: str


def processes_matching(host: Any, substring: str) -> list[Process]:
    """The processes whose command line contains ``substring`` (testinfra's process module; no systemd)."""
    try:
        found = [Process(int(p.pid), str(p.args)) for p in host.process.filter()]
    except Exception as exc:
        raise ProbeError("host", name_of(host), f"cannot list processes: {type(exc).__name__}: {exc}") from None
    return [process for process in found if substring in process.args]


def is_listening(host: Any, port: int) -> bool:
    """Whether something on the host listens on TCP ``port``, on any address.

    Not ``host.socket("tcp://PORT").is_listening``: testinfra reads that as "on 0.0.0.0 and ::", which is
    False for an app bound to 127.0.0.1 or to 0.0.0.0 alone.
    """
    try:
        sockets = host.socket.get_listening_sockets()
    except Exception as exc:
        raise ProbeError("host", name_of(host), f"cannot list sockets: {type(exc).__name__}: {exc}") from None
    return any(s.startswith(("tcp://", "tcp6://")) and s.rsplit(":", 1)[-1] == str(port) for s in sockets)


# --- logs ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogErrors:
    lines_read: int
    errors: list[str]  # the error lines, masked and shortened

    @property
    def first(self) -> str:
        return self.errors[0] if self.errors else ""


def log_errors(host: Any, path: str, tail_lines: int) -> LogErrors:
    """The error lines among the last ``tail_lines`` lines of a log file on the host."""
    where = f"{name_of(host)}:{path}"
    try:
        if not host.file(path).exists:
            raise ProbeError("host", where, "log file does not exist")
        result = host.run("tail -n %s -- %s", str(tail_lines), path)
    except ProbeError:
        raise
    except Exception as exc:
        raise ProbeError("host", where, f"cannot read the log: {type(exc).__name__}: {exc}") from None
    if result.rc != 0:
        raise ProbeError("host", where, f"tail exited {result.rc}: {result.stderr.strip()[:_LINE_SAMPLE]}")
    lines = result.stdout.splitlines()
    errors = [clip(mask_url(line.strip()), _LINE_SAMPLE) for line in lines if ERROR_LINE.search(line)]
    return LogErrors(lines_read=len(lines), errors=errors)


# --- resource use --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What a set of processes uses, as shares of the host's capacity."""

    pids: tuple[int, ...]
    rss_bytes: int
    mem_total_bytes: int
    cpu_seconds: float
    sample_s: float
    cpus: int

    @property
    def memory_ratio(self) -> float:
        return self.rss_bytes / self.mem_total_bytes

    @property
    def cpu_ratio(self) -> float:
        """CPU time used over the sample, as a share of all the host's CPUs (1.0: every CPU busy)."""
        return self.cpu_seconds / (self.sample_s * self.cpus)


def _meminfo_kib(text: str, key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+)\s*kB", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {key}")
    return int(match.group(1))


def _cpu_snapshot(host: Any, pids: tuple[int, ...]) -> tuple[float, int]:
    """(host uptime in seconds, CPU ticks used by the pids) read in one command, so both share one clock."""
    command = "cat /proc/uptime" + "".join(f" /proc/{pid}/stat" for pid in pids)
    output = host.check_output(command)
    uptime_line, *stat_lines = output.splitlines()
    ticks = 0
    for line in stat_lines:
        # The command name (field 2) may hold spaces: split after its last ')'; utime and stime follow.
        fields = line[line.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])
    return float(uptime_line.split()[0]), ticks


def usage(host: Any, pids: Iterable[int], sample_s: float = CPU_SAMPLE_S, cpu: bool = True) -> Usage:
    """Resident memory of the processes against the host's MemTotal and (with ``cpu``) their CPU share over
    ``sample_s`` seconds, from /proc. A process that exits mid-sample raises ProbeError."""
    ids = tuple(pids)
    where = name_of(host)
    try:
        mem_total = _meminfo_kib(host.check_output("cat /proc/meminfo"), "MemTotal") * 1024
        rss = sum(_meminfo_kib(host.check_output("cat /proc/%s/status", str(pid)), "VmRSS") * 1024 for pid in ids)
        if not cpu:
            return Usage(ids, rss, mem_total, 0.0, 0.0, 1)
        clock_ticks = int(host.check_output("getconf CLK_TCK"))
        cpus = int(host.check_output("getconf _NPROCESSORS_ONLN"))
        started, ticks_before = _cpu_snapshot(host, ids)
        bounded.observe(sample_s)
        ended, ticks_after = _cpu_snapshot(host, ids)
    except Exception as exc:  # testinfra's check_output raises AssertionError on a failed command
        detail = " ".join(str(exc).split())[:_LINE_SAMPLE]
        raise ProbeError("host", where, f"cannot read /proc for pids {list(ids)}: {detail}") from None
    return Usage(ids, rss, mem_total, (ticks_after - ticks_before) / clock_ticks, max(ended - started, 1e-3), cpus)
