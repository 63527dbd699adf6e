"""Waiting for something the test can look at: poll it, bounded; never sleep for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_for(what: str, condition: Callable[[], Any], timeout_s: float = 20.0, every_s: float = 0.2,
             seen: Callable[[], object] | None = None) -> Any:
    """Poll until ``condition()`` is truthy (bounded) and return what it returned; at the deadline fail naming
    ``what`` and the last answer (or what ``seen()`` shows)."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(every_s)
    pytest.fail(f"{what}: not within {timeout_s} s (last seen {seen() if seen else last!r})")
