"""How long each gate takes against the sandbox, serial and under ``-n auto``.

A benchmark, not a test: it measures and prints. Gate 1 runs first (its baseline is what Gates 2 and 3 compare
with), Gate 2 on the sandbox as it is, Gate 3 after the sandbox's cutover helper has moved traffic to blue 100
(put back to green 100 afterwards). Each gate runs ``--rounds`` times per mode; the median wall time is shown
next to the gate's verdict and number of checks. Human items are whatever the attestations file holds, so Gate 1
may be a NO-GO: the time is what is measured here.

    golive sandbox up && python benchmarks/gate_duration.py [--rounds 3] [--config golive.sandbox.yaml]

Takes the lock the test suite takes on the machine's one sandbox, so it never runs beside the tests.
Exit 0 after printing, 2 when the sandbox is not up or a gate writes no decision record.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SANDBOX_LOCK = Path("/tmp/golive-tests-sandbox.lock")
GATES = (("Gate 1", "pre"), ("Gate 2", "immediate"), ("Gate 3", "extended or data_integrity"))
VERDICTS = {0: "GO", 1: "REVIEW", 2: "NO-GO"}


def run_gate(config: Path, marker: str, reports: Path, workers: list[str]) -> tuple[float, int, int]:
    """(wall seconds, exit code, checks in the decision record) of one gate run."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", marker, f"--golive-config={config}", f"--golive-reports={reports}",
         "-p", "no:cacheprovider", "-q", *workers],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    wall = time.monotonic() - started
    records = sorted(reports.glob("latest-*.json"), key=lambda path: path.stat().st_mtime_ns)
    if not records:
        raise SystemExit(f"{marker}: no decision record written (exit {done.returncode})\n{done.stdout[-2000:]}")
    return wall, done.returncode, len(json.loads(records[-1].read_text())["checks"])


def sandbox(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "golive", "sandbox", *args], check=True, capture_output=True, timeout=300)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("golive.sandbox.yaml"), help="what `up` wrote")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.config = args.config.resolve()
    if not args.config.exists():
        print(f"{args.config}: not found; run `golive sandbox up` first", file=sys.stderr)
        return 2
    with open(SANDBOX_LOCK, "a") as lock, tempfile.TemporaryDirectory(prefix="golive-bench-") as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if subprocess.run([sys.executable, "-m", "golive", "sandbox", "status"], capture_output=True).returncode:
            print("the sandbox is not (all) up: run `golive sandbox up`", file=sys.stderr)
            return 2
        print(f"{'gate':8} {'mode':8} {'checks':>6} {'verdict':8} {'median s':>9}  rounds")
        for mode, workers in (("serial", []), ("-n auto", ["-n", "auto"])):
            reports = Path(tmp) / mode.replace(" ", "")
            for gate, marker in GATES:
                if marker.startswith("extended"):
                    sandbox("helper", "cutover", "--blue", "100")
                try:
                    runs = [run_gate(args.config, marker, reports, workers) for _ in range(args.rounds)]
                finally:
                    if marker.startswith("extended"):
                        sandbox("helper", "cutover", "--clear")
                walls = [wall for wall, _code, _checks in runs]
                _wall, code, checks = runs[-1]
                shown = " ".join(f"{wall:.1f}" for wall in walls)
                print(f"{gate:8} {mode:8} {checks:>6} {VERDICTS.get(code, code)!s:8} "
                      f"{statistics.median(walls):>9.1f}  {shown}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
