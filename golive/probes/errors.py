"""The error every probe raises when it cannot look, and the services that gave no answer in time this run.

A service that hung once in a run (a connect or a request that timed out) is not asked again: later probes of it
fail at once with the first failure's message, so a hung dependency costs a gate one timeout, not one per check.
The dashboard and watch forget at each frame or reading (``forget_unanswered``); the tests forget between tests.
"""

from __future__ import annotations

import threading

from golive.masking import mask_url


class ProbeError(Exception):
    """A component could not be reached, timed out, or answered something unusable.

    The message names the component and the endpoint (credentials masked) and says what was seen, so the
    check that used the probe fails with a line a release engineer can act on.
    """

    def __init__(self, component: str, endpoint: str, detail: str) -> None:
        self.component = component
        self.endpoint = mask_url(endpoint)
        self.detail = mask_url(detail)
        super().__init__(f"{component} at {self.endpoint}: {self.detail}")


class _Unanswered:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, str] = {}

    def first(self, key: str) -> str | None:
        with self._lock:
            return self._seen.get(key)

    def remember(self, key: str, message: str) -> None:
        with self._lock:
            self._seen.setdefault(key, message)

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()


_UNANSWERED = _Unanswered()


def unanswered(key: str) -> str | None:
    """The first failure's message when the service ``key`` (``scheme://host:port``) timed out earlier."""
    return _UNANSWERED.first(key)


def remember_unanswered(key: str, message: str) -> None:
    """Note that the service ``key`` gave no answer in time; ``message`` says what happened, where."""
    _UNANSWERED.remember(key, mask_url(message))


def forget_unanswered() -> None:
    """Start afresh: ask every service again."""
    _UNANSWERED.forget()


def not_asked_again(component: str, key: str, where: str) -> None:
    """Raise ProbeError at once when the service ``key`` gave no answer in time earlier in this run."""
    earlier = unanswered(key)
    if earlier is not None:
        raise ProbeError(component, where, f"{earlier} (earlier in this run; not asked again)")
