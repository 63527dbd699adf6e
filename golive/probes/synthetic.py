"""Synthetic end-to-end transaction: one golive-owned object through an environment's API and back end.

Steps, as the ``synthetic`` section describes them:

1. ``create``: POST ``post_path`` with ``body`` (``{marker}`` in any string becomes ``golive-synthetic-<uuid>``;
   a body that names no ``{marker}`` gets a top-level ``golive_synthetic`` field); the answer's ``id_field`` is
   the new object's id.
2. ``consumed``: ``sql`` (``%(id)s`` bound), in the read-only session, returns ``done_value``.
3. ``visible``: GET ``get_path`` (``{id}`` filled in) answers 200.
4. ``cleanup``: DELETE ``delete_path`` answers 2xx (or 404: already gone). It runs whatever happened before;
   an object left behind is a finding.

Steps 2 and 3 poll within one deadline that starts when the create answers. A step that does not happen is
recorded with what was seen; only a database that cannot be read at all raises ProbeError (after cleanup).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from golive.config import Synthetic
from golive.probes import bounded, http
from golive.probes import postgres as pg
from golive.probes.errors import ProbeError

MARKER_PREFIX = "golive-synthetic-"
_POLL_S = 0.25
_BODY_SAMPLE = 120


@dataclass(frozen=True)
class Step:
    name: str  # create, consumed, visible, cleanup
    ok: bool
    detail: str


@dataclass
class Transaction:
    """What one synthetic transaction did, step by step."""

    where: str  # the environment's base URL
    marker: str
    object_id: Any = None
    steps: list[Step] = field(default_factory=list)

    @property
    def failed(self) -> Step | None:
        """The first step that did not happen."""
        return next((step for step in self.steps if not step.ok), None)

    @property
    def ok(self) -> bool:
        return self.failed is None

    def describe(self) -> str:
        """One line: the step that did not happen first, then how the cleanup went."""
        head = f"synthetic transaction through {self.where} ({self.marker})"
        failed = self.failed
        if failed is None:
            return f"{head}: " + "; ".join(f"{step.name}: {step.detail}" for step in self.steps)
        text = f"{head}: step {failed.name!r} did not happen: {failed.detail}"
        cleanup = next((step for step in self.steps if step.name == "cleanup"), None)
        if cleanup is not None and cleanup is not failed:
            text += f"; cleanup: {cleanup.detail}"
        return text


def new_marker() -> str:
    return f"{MARKER_PREFIX}{uuid.uuid4().hex}"


def marked_body(body: Any, marker: str) -> Any:
    """The body with every ``{marker}`` replaced; a mapping that names none gets ``golive_synthetic``."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{marker}", marker)
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    filled = fill(body)
    if marker not in repr(filled) and isinstance(filled, dict):
        filled["golive_synthetic"] = marker
    return filled


def _path(template: str, object_id: Any) -> str:
    return template.replace("{id}", quote(str(object_id), safe=""))


def _answer(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    sample = text if len(text) <= _BODY_SAMPLE else text[: _BODY_SAMPLE - 3] + "..."
    return f"HTTP {response.status_code}" + (f" {sample!r}" if sample else "")


def run(client: httpx.Client, conn: Any, section: Synthetic, deadline_s: float) -> Transaction:
    """Run the synthetic transaction through ``client`` (the environment's), reading ``sql`` on ``conn``."""
    transaction = Transaction(where=str(client.base_url).rstrip("/"), marker=new_marker())
    transaction.steps.append(_create(client, section, transaction))
    if transaction.object_id is None:
        return transaction
    try:
        deadline = time.monotonic() + deadline_s
        consumed = _consumed(conn, section, transaction.object_id, deadline, deadline_s)
        transaction.steps.append(consumed)
        if consumed.ok:
            transaction.steps.append(_visible(client, section, transaction.object_id, deadline, deadline_s))
    finally:
        transaction.steps.append(_cleanup(client, section, transaction.object_id))
    return transaction


def _create(client: httpx.Client, section: Synthetic, transaction: Transaction) -> Step:
    what = f"POST {section.post_path}"
    try:
        response = http.request(client, "POST", section.post_path, json=marked_body(section.body, transaction.marker))
    except ProbeError as exc:
        return Step("create", False, f"{what}: {exc.detail} (an object marked {transaction.marker} may exist)")
    if not 200 <= response.status_code < 300:
        return Step("create", False, f"{what} answered {_answer(response)}; expected 2xx")
    try:
        body = response.json()
    except ValueError:
        body = None
    object_id = body.get(section.id_field) if isinstance(body, dict) else None
    if object_id is None:
        return Step("create", False, f"{what} answered {_answer(response)} without {section.id_field!r} (id_field)")
    transaction.object_id = object_id
    return Step("create", True, f"{what} answered {response.status_code}, {section.id_field} {object_id}")


def _consumed(conn: Any, section: Synthetic, object_id: Any, deadline: float, deadline_s: float) -> Step:
    last: Any = "no row"
    while True:
        result = pg.rows(conn, section.sql, {"id": object_id})  # cannot read at all: ProbeError
        last = result[0][0] if result and result[0] else "no row"
        if result and result[0] and str(result[0][0]) == section.done_value:
            return Step("consumed", True, f"{section.done_value!r} in PostgreSQL")
        if time.monotonic() >= deadline:
            return Step(
                "consumed", False,
                f"`{section.sql}` (id {object_id}) returned {last!r}, not {section.done_value!r}, within "
                f"{deadline_s:g}s (thresholds.synthetic_deadline_s)",
            )  # fmt: skip
        bounded.observe(_POLL_S)


def _visible(client: httpx.Client, section: Synthetic, object_id: Any, deadline: float, deadline_s: float) -> Step:
    path = _path(section.get_path, object_id)
    seen = ""
    while True:
        try:
            response = http.request(client, "GET", path)
            if response.status_code == 200:
                return Step("visible", True, f"GET {path} answered 200")
            seen = _answer(response)
        except ProbeError as exc:
            seen = exc.detail
        if time.monotonic() >= deadline:
            return Step(
                "visible", False,
                f"GET {path} answered {seen}, not 200, within {deadline_s:g}s (thresholds.synthetic_deadline_s)",
            )  # fmt: skip
        bounded.observe(_POLL_S)


def _cleanup(client: httpx.Client, section: Synthetic, object_id: Any) -> Step:
    if section.delete_path is None:
        return Step("cleanup", False, f"no synthetic.delete_path: object {object_id} is left behind")
    path = _path(section.delete_path, object_id)
    try:
        response = http.request(client, "DELETE", path)
    except ProbeError as exc:
        return Step("cleanup", False, f"DELETE {path}: {exc.detail}; object {object_id} may be left behind")
    if 200 <= response.status_code < 300:
        return Step("cleanup", True, f"DELETE {path} answered {response.status_code}")
    if response.status_code == 404:
        return Step("cleanup", True, f"DELETE {path} answered 404 (already gone)")
    return Step("cleanup", False, f"DELETE {path} answered {_answer(response)}; object {object_id} is left behind")
