"""Helpers for the Gate 1 catalog tests: configuration variants and small local servers to point checks at."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from golive import baseline, metrics
from golive.config import load_settings
from golive.probes.errors import ProbeError
from golive.probes.prometheus import Prometheus
from golive.sandbox import constants as c
from golive.sandbox.cli import main as sandbox_main


def sandbox_command(*argv: str) -> None:
    """Run a sandbox command; fail the test if it does not succeed."""
    assert sandbox_main(list(argv)) == 0, f"golive sandbox {' '.join(argv)} failed"


def variant(config: Path, out: Path, changes: dict[str, Any]) -> Path:
    """A copy of a configuration with dotted keys set (``{"aws.image.tag": "9.9.9"}``); None deletes a key."""
    document = yaml.safe_load(config.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = document
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return out


def minimal_config(out: Path, extra: dict[str, Any] | None = None) -> Path:
    """A configuration with nothing but the release and two environments on closed loopback ports."""
    document: dict[str, Any] = {
        "release": {"version": "2.1.0", "previous": "2.0.5"},
        "environments": {
            "blue": {"url": "http://127.0.0.1:9", "role": "candidate"},
            "green": {"url": "http://127.0.0.1:9", "role": "live"},
        },
    }
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return variant(out, out, extra or {})


# --- the sandbox between gates ---------------------------------------------------------------------------


def gate1_baseline(config: Path, reports: Path) -> Path:
    """What Gate 1 leaves behind: the live environment's baseline in the reports directory."""
    settings = load_settings(config, "test")
    live = settings.environment_by_role("live")
    assert live is not None
    return baseline.save(baseline.capture(settings, live), reports, settings.masker)


def baseline_of(config: Path, reports: Path) -> tuple[Path, str]:
    """Where Gate 1 keeps the baseline of this configuration's live environment, and that environment as messages
    name it (``green (http://..., postgres ..., rabbitmq ...)``)."""
    settings = load_settings(config, "test")
    live = settings.environment_by_role("live")
    assert live is not None
    identity = baseline.identity(live)
    return baseline.path_for(reports, settings.release.version, identity), baseline.describe(identity)


def prometheus_window_clean(config: Path) -> bool:
    """Whether blue's figures over the Prometheus window are within the thresholds (earlier tests' faults gone)."""
    section = load_settings(config, "test").environments["blue"].prometheus
    assert section is not None
    with Prometheus(section.url, 3) as prom:
        try:
            # Answers given just now may not be scraped yet: judge the window only once they are in it.
            job = metrics.prometheus_job(prom, section, "blue", f"http://{c.HOST}:{c.BLUE_PORT}", time.time())
            ratio = metrics.prometheus_error_ratio(job).value
            p95 = metrics.prometheus_p95(job).value
        except ProbeError:
            return False
    return ratio is not None and p95 is not None and ratio <= 0.001 and p95 <= 200


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 5) -> None:
    """Terminate a server a test started; kill it if it has not gone within ``grace_s``."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
