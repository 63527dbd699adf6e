"""A running ``golive serve`` for tests, and the engines' side of it: how Argo Rollouts judges a web metric and
how Flagger judges a webhook, as their code does."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789abcdef"
TOKEN_VARIABLE = "GOLIVE_TEST_SERVE_TOKEN"


@dataclass
class Serving:
    url: str
    reports: Path
    process: subprocess.Popen[str]

    def get(self, path: str, token: str | None = TOKEN, timeout: float = 300, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=_auth(token), timeout=timeout, **kwargs)

    def post(self, path: str, token: str | None = TOKEN, timeout: float = 300, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, headers=_auth(token), timeout=timeout, **kwargs)

    def records(self) -> list[Path]:
        """The decision records the gate runs wrote (the reports directory's, not the serve/ copies)."""
        return sorted(path for path in self.reports.glob("*.json")
                      if not path.name.startswith(("latest-", "baseline-")))


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


@contextmanager
def running_serve(config: Path, reports: Path, *args: str, token: str = TOKEN) -> Iterator[Serving]:
    """``golive serve`` on a free loopback port, with the token in ``$GOLIVE_TEST_SERVE_TOKEN``; stopped after."""
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    environ[TOKEN_VARIABLE] = token
    process = subprocess.Popen(
        [sys.executable, "-m", "golive", "serve", "--bind", "127.0.0.1:0", f"--golive-config={config}",
         "--reports", str(reports), *args],
        cwd=REPO, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        first = lines.get(timeout=30)
    except queue.Empty:
        process.kill()
        raise AssertionError("golive serve did not say where it listens within 30 s") from None
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
    if match is None:
        process.kill()
        raise AssertionError(f"golive serve: {first!r}; stderr: {process.communicate(timeout=10)[1]}")
    try:
        yield Serving(match.group(1), reports, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- Argo Rollouts' side ------------------------------------------------------------------------------------
# The documented AnalysisTemplate (docs/ENGINES.md): no jsonPath, so `result` is the whole JSON body.
SUCCESS = 'result.verdict == "GO"'
FAILURE = 'result.verdict == "NO-GO"'


def argo_measurement(response: httpx.Response) -> str:
    """The phase Argo Rollouts' web provider gives a measurement: a non-2xx status or a body that is not JSON is
    an Error; then failureCondition true is Failed, successCondition true Successful, neither Inconclusive
    (argo-rollouts analysis/evaluate: EvaluateResult)."""
    if not 200 <= response.status_code < 300:
        return "Error"
    try:
        result = response.json()
    except ValueError:
        return "Error"
    verdict = result.get("verdict") if isinstance(result, dict) else None
    failed = verdict == "NO-GO"  # failureCondition: result.verdict == "NO-GO"
    succeeded = verdict == "GO"  # successCondition: result.verdict == "GO"
    if failed:
        return "Failed"
    if succeeded:
        return "Successful"
    return "Inconclusive"


# --- Flagger's side -----------------------------------------------------------------------------------------


def flagger_payload(environment: str, token: str | None = None, phase: str = "Progressing") -> dict[str, Any]:
    """What Flagger POSTs to a webhook (CanaryWebhookPayload): no headers of ours, the metadata of the hook."""
    metadata = {"env": environment, **({"token": token} if token else {})}
    return {"name": "orchestrator", "namespace": "prod", "phase": phase, "checksum": "6f9c1a", "metadata": metadata}


def flagger_passes(response: httpx.Response) -> bool:
    """Flagger fails a webhook whose status is above 202 (pkg/controller/webhook.go)."""
    return response.status_code <= 202


def argo_and_flagger(serving: Serving, flagger_gate: str = "2", wait_s: float = 400) -> tuple[httpx.Response,
                                                                                             httpx.Response]:
    """Argo's measurement and Flagger's webhook for Gate 2 on blue, sent at the same time."""
    answers: dict[str, httpx.Response] = {}
    threads = [
        threading.Thread(target=lambda: answers.__setitem__("argo", serving.get("/v1/gates/2?env=blue"))),
        threading.Thread(target=lambda: answers.__setitem__(
            "flagger", serving.post(f"/v1/flagger/{flagger_gate}", json=flagger_payload("blue")))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(wait_s)
    return answers["argo"], answers["flagger"]
