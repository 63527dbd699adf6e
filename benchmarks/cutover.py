"""How fast ``golive cutover`` rolls back, how soon the front door stops answering from blue, and how long the
machine-side runbook takes on the sandbox. A benchmark, not a test: it measures and prints, each figure beside
the bound issue 14 sets.

1. Rollback: a cutover with a long 50 % bake; a fault injected on blue (20 % of answers 5xx, then a crash);
   from the moment the fault starts (just before the sandbox command) to the journal's ``restored`` line
   (weights back on green, read back), beside the bound: the trigger's window + two intervals + 1 s.
2. The front door after the rollback call returned: the cutover samples it until no answer comes from blue;
   the record says when the last answer from blue came (bound: 0 answers from blue within 2 s).
3. The whole runbook, machine side: Gate 1, the cutover (Gate 2 before 50 %, a bake, Gate 2 with the 50 %
   step's checks, 100 %, a bake) and Gate 3, with bakes of 3 s; its wall time (target: under 60 s).

    python benchmarks/cutover.py [--interval 1] [--window 5]

Takes the lock the test suite takes on the machine's one sandbox. Exit 0 after printing, 2 when the sandbox
does not come up or a run leaves no record.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml
from gate_duration import REPO, SANDBOX_LOCK

from golive.sandbox.cli import main as sandbox_main

ENVIRON = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}


def golive(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "golive", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=ENVIRON)  # fmt: skip


def configure(sandbox: Path, out: Path, interval: float, window: float) -> Path:
    document = yaml.safe_load(sandbox.read_text())
    document["rollback_triggers"] = {"error_rate": {"above": 0.10, "for_s": window}, "crash": {"for_s": window}}
    document["cutover"] = {"interval_s": interval, "steps": [{"blue": 50, "bake_s": 120}, {"blue": 100, "bake_s": 1}]}
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return out


def rollback(config: Path, reports: Path, fault: list[str], bound: float) -> None:
    child = subprocess.Popen([sys.executable, "-m", "golive", "cutover", f"--golive-config={config}",
                              f"--reports={reports}"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=ENVIRON)  # fmt: skip
    assert child.stdout is not None
    for line in child.stdout:
        if "blue 50%; baking" in line:
            break
    time.sleep(2)  # a few healthy readings first
    fault_started = time.time()
    sandbox_main(["fault", "blue", *fault])
    child.communicate(timeout=300)
    journal = next((reports / "cutover").glob("*.journal.jsonl")).read_text().splitlines()
    restored = [json.loads(line) for line in journal if '"restored"' in line]
    story = json.loads((reports / "latest-cutover.json").read_text())
    sandbox_main(["fault", "blue", "--clear"])
    if not restored:
        print(f"  {' '.join(fault):<18} NOT restored (exit {child.returncode}): {story.get('reason')}")
        return
    back = datetime.fromisoformat(restored[-1]["at"]).timestamp() - fault_started
    verdict = "within" if back <= bound else "OVER"
    blue_after = story["rollback"].get("blue_answers_until_s")
    print(f"  {' '.join(fault):<18} trigger {story['trigger']:<10} fault -> weights on green {back:5.2f} s "
          f"(bound {bound:.1f} s: {verdict}); call {story['rollback']['call_s']:.3f} s; "
          f"last answer from blue {blue_after} s after the call returned "
          f"(bound 2 s: {'within' if blue_after is not None and blue_after <= 2 else 'OVER'}); "
          f"front door: {story['rollback']['detail']}")


def runbook(sandbox: Path, reports: Path) -> None:
    document = yaml.safe_load(sandbox.read_text())
    config = sandbox.with_name("runbook.yaml")
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    gate_args = [f"--golive-config={config}", f"--golive-reports={reports}", "-n", "auto", "-q"]
    golive("demo", "--config-out", str(sandbox))  # signs the human items of Gate 1 (not timed)
    sandbox_main(["up", "--config-out", str(sandbox)])
    parts: list[tuple[str, float, int]] = []
    started = time.monotonic()
    for name, argv in (("Gate 1", ["gate", "1", *gate_args]),
                       ("cutover", ["cutover", f"--golive-config={config}", f"--reports={reports}", "--bake", "3s"]),
                       ("Gate 3", ["gate", "3", *gate_args])):  # fmt: skip
        began = time.monotonic()
        done = golive(*argv)
        parts.append((name, time.monotonic() - began, done.returncode))
    total = time.monotonic() - started
    shown = ", ".join(f"{name} {seconds:.1f} s (exit {code})" for name, seconds, code in parts)
    print(f"  Gate 1 + cutover (Gate 2, 50 % + 3 s, Gate 2 at 50 %, 100 % + 3 s) + Gate 3: {total:.1f} s "
          f"(target under 60 s: {'within' if total < 60 else 'OVER'}); {shown}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--window", type=float, default=5.0)
    args = parser.parse_args()
    bound = args.window + 2 * args.interval + 1
    with open(SANDBOX_LOCK, "a") as lock, tempfile.TemporaryDirectory(prefix="golive-bench-") as scratch:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sandbox = Path(scratch) / "golive.sandbox.yaml"
        if sandbox_main(["up", "--config-out", str(sandbox)]) != 0:
            print("the sandbox did not come up", file=sys.stderr)
            return 2
        config = configure(sandbox, Path(scratch) / "cutover.yaml", args.interval, args.window)
        print(f"rollback (interval {args.interval:g} s, trigger windows {args.window:g} s):")
        for number, fault in enumerate((["--error-rate", "0.2"], ["--crash"])):
            sandbox_main(["up", "--config-out", str(sandbox)])
            rollback(config, Path(scratch) / f"reports-{number}", fault, bound)
        print("runbook:")
        runbook(sandbox, Path(scratch) / "reports-runbook")
        sandbox_main(["down"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
