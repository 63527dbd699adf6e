"""A private Prometheus (the Debian binary, dynamic port, 1 s scrapes, temp data dir) and small real services for
it to scrape: each answers HTTP and exposes what it answered in one library's metric naming."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from golive.sandbox.app_metrics import Metrics
from tests.canned_http import Answer, CannedHTTP, Request
from tests.support.gates import stop_process
from tests.support.polling import wait_for


class Exporter:
    """A loopback service: ``/health`` answers 200, or 500 for ``error_rate`` of the requests (spread evenly: 0.2
    fails every fifth); ``/metrics`` exposes every answer in a naming of golive.sandbox.app_metrics.METRIC_NAMINGS.
    Served by the shared canned HTTP server (tests/canned_http.py), its routes being functions of the request."""

    def __init__(self, naming: str, error_rate: float = 0.0) -> None:
        self.metrics = Metrics("2.1.0", "blue", naming)
        self.error_rate = error_rate
        self._debt = 0.0
        self._lock = threading.Lock()
        self.server = CannedHTTP({"/metrics": self._exposition, "*": self._health})
        self.host_port = self.server.host_port
        self.url = self.server.url

    @property
    def crashed(self) -> bool:
        return self.server.closing.is_set()

    def _exposition(self, request: Request) -> Answer:
        return Answer(200, self.metrics.render(), content_type="text/plain; version=0.0.4")

    def _health(self, request: Request) -> Answer:
        started = time.perf_counter()
        status = 500 if self._fails() else 200
        self.metrics.observe("GET", "/health", status, time.perf_counter() - started)
        return Answer(status, {"status": "ok"})

    def _fails(self) -> bool:
        with self._lock:
            self._debt += self.error_rate
            if self._debt >= 1.0 - 1e-9:
                self._debt -= 1.0
                return True
            return False

    def crash(self) -> None:
        """Stop answering, as a crashed app does (connection refused)."""
        self.server.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def targets(url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/api/v1/targets", timeout=3).json()["data"]["activeTargets"]


@contextmanager
def private_prometheus(tmp_path: Path, jobs: dict[str, str]) -> Iterator[str]:
    """Prometheus scraping each ``job: host:port`` every second; yields its URL once every target was scraped up."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not installed: apt-get install -y prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [where]}]} for job, where in jobs.items()],
    }))  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        seen: dict[str, str] | None = None

        def every_target_up() -> bool:
            nonlocal seen
            try:
                seen = {t["labels"]["job"]: t["health"] for t in targets(url)}
            except (httpx.HTTPError, KeyError, ValueError):
                seen = None
            return bool(seen) and len(seen) == len(jobs) and set(seen.values()) == {"up"}

        wait_for("private Prometheus scraping every target up", every_target_up, 30, every_s=0.3, seen=lambda: seen)
        yield url
    finally:
        stop_process(process, grace_s=10)
        log.close()
