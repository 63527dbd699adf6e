"""Helpers for the Gate 3 tests: the Gate 1 baseline they compare with, and the cutover they verify."""

from __future__ import annotations

from pathlib import Path

from golive.config import load_settings
from golive.probes import load_balancer as lb_probe
from golive.sandbox import manager as sandbox_manager
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


def weights(config: Path) -> dict[str, tuple[int, int]]:
    """(blue, green) on the sandbox's ALB (as golive's probe reads it, from the sandbox's configuration) and on
    HAProxy (where its traffic goes)."""
    settings = load_settings(config, "test")
    assert settings.document.load_balancer is not None
    alb = lb_probe.connect(settings.document.load_balancer, settings.document.aws, 5).weights()
    manager = sandbox_manager.Manager()
    return {"alb": (alb["blue"], alb["green"]),
            "haproxy": (manager.haproxy_weight("blue"), manager.haproxy_weight("green"))}  # fmt: skip
