"""Helpers for the Gate 3 tests: the Gate 1 baseline they compare with, and the cutover they verify."""

from __future__ import annotations

from pathlib import Path

from tests.support.gates import gate1_baseline, sandbox_command

GATE3 = "extended or data_integrity"


def cut_over(blue_percent: int = 100) -> None:
    """Move traffic to blue on the ALB (what the configuration reads) and HAProxy (where requests go)."""
    sandbox_command("helper", "cutover", "--blue", str(blue_percent))


def after_cutover(config: Path, tmp_path: Path) -> Path:
    """Gate 1's baseline of the healthy sandbox saved in a reports directory, then all traffic moved to blue: the
    state Gate 3 runs in. Returns the reports directory (pass it to run_gate)."""
    reports = tmp_path / "reports"
    gate1_baseline(config, reports)
    cut_over(100)
    return reports
