"""How long `golive verify` takes over one release's whole chain of signed decisions and attestations.

A benchmark, not a test: it measures and prints. In a temporary directory it makes a key, writes a release's
decision records as gate runs write them (golive.record.write_record, signed and chained by golive.evidence:
``--decisions`` of them, Gate 1, Gate 2 and Gate 3 in turn, each with ``--checks`` checks, on one
environment) and ``--attestations`` signed sign-offs, plus as many records of other releases beside them (what
a reports directory looks like after months), then times ``evidence.verify`` over the release ``--rounds``
times and prints the median. Target: under 1 s.

    python benchmarks/verify_chain.py [--decisions 30] [--checks 120] [--attestations 20] [--rounds 5]

Exit 0 when the median is under the target, 1 when it is not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from golive import evidence, record  # noqa: E402

TARGET_S = 1.0
GATES = ("pre", "immediate", "post")


def _write(reports: Path, signer: evidence.Signer, release: str, index: int, of: int, checks: int) -> None:
    gate = GATES[index * len(GATES) // of]  # re-runs of Gate 1, then of Gate 2, then of Gate 3
    document = {
        "gate": gate, "verdict": "GO", "release": release, "environment": "blue",
        "finished_at": f"2026-12-02T10:00:{index:02d}+00:00",
        "checks": [{"id": f"validations/test_area.py::test_{n}", "severity": "critical", "component": "http",
                    "outcome": "passed", "message": "", "duration_s": 0.01} for n in range(checks)],
    }
    path = reports / f"{gate}-blue-{release}-{index:04d}.json"
    record.write_signed(document, path, reports, signer, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=30)
    parser.add_argument("--checks", type=int, default=120)
    parser.add_argument("--attestations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="golive-verify-bench-") as scratch:
        root = Path(scratch)
        pair = evidence.generate(root / "keys", "bench")
        reports = root / "reports"
        reports.mkdir()
        signer = evidence.load_signer(pair.private_path, evidence.Identity("bench", "CI"), reports)
        trust = evidence.trusted([{"name": "bench", "role": "CI", "public_key": "keys/bench.pub"}], root)
        for index in range(arguments.decisions):
            _write(reports, signer, "2.1.0", index, arguments.decisions, arguments.checks)
            _write(reports, signer, "2.0.5", index, arguments.decisions, arguments.checks)  # another release
        book = reports / "attestations.jsonl"
        for index in range(arguments.attestations):
            line = json.dumps({"item": f"item.{index}", "by": "bench", "release": "2.1.0"}) + "\n"
            evidence.append_signed_attestation(signer, book, line.encode(), "2.1.0")
        times = []
        for _ in range(arguments.rounds):
            started = time.perf_counter()
            story = evidence.verify(reports, "2.1.0", trust, book)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        files = len(list(reports.iterdir()))
        print(f"verified release 2.1.0: {len(story.chains['blue'])} decisions of {arguments.checks} checks and "
              f"{len(story.attestations)} attestations, among {files} files in reports/")
        print(f"median {median:.3f} s over {arguments.rounds} rounds (min {min(times):.3f} s, max {max(times):.3f} s);"
              f" target under {TARGET_S:.0f} s: {'met' if median < TARGET_S else 'NOT MET'}")
        return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
