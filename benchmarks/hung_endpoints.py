"""How long a gate takes when the candidate hangs, trickles or answers without end: each beside its bound.

A benchmark, not a test: it measures and prints. The sandbox's configuration is copied with ``http.timeout_s``
set to 2 and the candidate's (blue's) URL pointed at a small server of this script's own that, per scenario,
accepts and never answers, answers its headers and then one byte every 50 ms, or sends an endless body. Gates 1
and 2 run against it serial and under ``-n auto``; each line shows the wall time, the bound golive promises
(the longest ``timeout_s`` + 5 s for a gate's checks, issue 12; golive.watchdog holds it), the verdict (never
GO) and whether the watchdog had to stop the run (``stopped``: the checks themselves ran past the bound). The
bound counts from the first check: the wall time also holds the start-up (interpreter, pytest, plugins,
collection, xdist's workers), measured first for each gate and mode with ``--collect-only`` and printed as
``start-up``. The healthy sandbox runs first, for comparison: a hung candidate should cost a gate about one
timeout more than a healthy one, not one per check.

    python benchmarks/hung_endpoints.py

Takes the lock the test suite takes on the machine's one sandbox, then brings the sandbox up (healthy) and
writes its configuration to a scratch directory. Exit 0 after printing, 2 when the sandbox does not come up or
a gate writes no decision record.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from gate_duration import REPO, SANDBOX_LOCK, VERDICTS, run_gate  # the same gate runs as the other benchmark

from golive.sandbox.cli import main as sandbox_main

TIMEOUT_S = 2.0
BOUND_S = TIMEOUT_S + 5
GATES = (("Gate 1", "pre"), ("Gate 2", "immediate"))


def hang(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait()


def trickle(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
    while not stop.is_set():
        conn.sendall(b" ")
        time.sleep(0.05)


def endless(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    while not stop.is_set():
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


SCENARIOS: dict[str, Callable[[socket.socket, threading.Event], None] | None] = {
    "accepts, never answers": hang, "trickles a byte every 50 ms": trickle, "endless body": endless,
}


def serve(behaviour: Callable[[socket.socket, threading.Event], None], stop: threading.Event) -> int:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.2)

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                behaviour(conn, stop)
            except OSError:
                pass

    def accept() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return int(listener.getsockname()[1])


def startup_s(config: Path, marker: str, workers: list[str]) -> float:
    """Wall seconds of the same pytest command line collecting the gate's checks and running none."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pytest", "-m", marker, f"--golive-config={config}", "--collect-only",
                    "-p", "no:cacheprovider", "-q", *workers], cwd=REPO, capture_output=True, timeout=300)  # fmt: skip
    return time.monotonic() - started


def stopped_by_watchdog(reports: Path) -> bool:
    latest = sorted(reports.glob("latest-*.json"), key=lambda path: path.stat().st_mtime_ns)[-1]
    return any(reason.startswith("bound exceeded:") for reason in json.loads(latest.read_text())["reasons"])


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with open(SANDBOX_LOCK, "a") as lock, tempfile.TemporaryDirectory() as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sandbox = Path(tmp) / "golive.sandbox.yaml"
        if sandbox_main(["up", "--config-out", str(sandbox)]) != 0:
            print("golive sandbox up failed", file=sys.stderr)
            return 2
        document = yaml.safe_load(sandbox.read_text())
        healthy_url = document["environments"]["blue"]["url"]
        document.setdefault("http", {})["timeout_s"] = TIMEOUT_S
        (Path(tmp) / "hung.yaml").write_text(yaml.safe_dump(document))
        for mode, workers in (("serial", []), ("-n auto", ["-n", "auto"])):
            for gate, marker in GATES:
                wall = startup_s(Path(tmp) / "hung.yaml", marker, workers)
                print(f"start-up (--collect-only)      {gate:7} {mode:8} {wall:6.1f}s", flush=True)
        print(f"{'scenario':30} {'gate':7} {'mode':8} {'wall':>7} {'bound':>6} {'verdict':8} checks")
        for scenario, behaviour in {"healthy (for comparison)": None, **SCENARIOS}.items():
            stop = threading.Event()
            url = healthy_url if behaviour is None else f"http://127.0.0.1:{serve(behaviour, stop)}"
            document.setdefault("http", {})["timeout_s"] = TIMEOUT_S
            document["environments"]["blue"]["url"] = url
            config = Path(tmp) / "hung.yaml"
            config.write_text(yaml.safe_dump(document))
            try:
                for mode, workers in (("serial", []), ("-n auto", ["-n", "auto"])):
                    for gate, marker in GATES:
                        reports = Path(tempfile.mkdtemp(dir=tmp))
                        wall, code, checks = run_gate(config, marker, reports, workers)
                        within = "ok" if wall <= BOUND_S else "over (start-up included)"
                        verdict = VERDICTS.get(code, str(code))
                        line = f"{scenario:30} {gate:7} {mode:8} {wall:6.1f}s {BOUND_S:5.0f}s {verdict:8} {checks:6}"
                        stopped = " stopped" if stopped_by_watchdog(reports) else ""
                        print(f"{line} {within}{stopped}", flush=True)
            finally:
                stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
