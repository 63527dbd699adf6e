"""Prometheus probe: instant queries, scrape targets and rule names over the HTTP API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from golive.masking import clip
from golive.probes import http
from golive.probes.errors import ProbeError


@dataclass(frozen=True)
class Sample:
    """One series of an instant query result: its labels and its value."""

    labels: dict[str, str]
    value: float


class Prometheus:
    """One Prometheus server's HTTP API, every request bounded by timeout_s."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self._client = http.make_client(url, timeout_s)

    def query(self, expr: str) -> list[Sample]:
        """The series an instant query returns now (an empty list when nothing matches)."""
        path = "/api/v1/query"
        data = self._data(path, {"query": expr})
        result_type, result = data.get("resultType"), data.get("result")
        try:
            if result_type == "vector" and isinstance(result, list):
                return [Sample(labels=dict(item["metric"]), value=float(item["value"][1])) for item in result]
            if result_type == "scalar" and isinstance(result, list):
                return [Sample(labels={}, value=float(result[1]))]
        except (KeyError, IndexError, TypeError, ValueError):
            pass
        raise self._error(path, f"query {expr!r} gave an unusable {result_type} result: {clip(str(result), 80)}")

    def scalar(self, expr: str) -> float:
        """The single value an instant query returns; no data, or more than one series, raises ProbeError."""
        samples = self.query(expr)
        if not samples:
            raise self._error("/api/v1/query", f"query returned no data: {expr}")
        if len(samples) > 1:
            raise self._error("/api/v1/query", f"query returned {len(samples)} series, expected one: {expr}")
        return samples[0].value

    def targets(self) -> list[dict[str, Any]]:
        """Each active scrape target's job, instance, scrape URL, health ("up", "down", "unknown"), last error,
        last scrape (Unix seconds, None when never scraped) and scrape interval (seconds, None if not given)."""
        path = "/api/v1/targets"
        data = self._data(path, {"state": "active"})
        try:
            return [
                {
                    "job": target["labels"].get("job", target.get("scrapePool")),
                    "instance": target["labels"].get("instance"),
                    "scrapeUrl": target.get("scrapeUrl", ""),
                    "health": target["health"],
                    "lastError": target.get("lastError", ""),
                    "lastScrape": _timestamp(target.get("lastScrape")),
                    "scrapeInterval": _duration(target.get("scrapeInterval")),
                }
                for target in data["activeTargets"]
            ]
        except (KeyError, TypeError, AttributeError, ValueError):
            raise self._error(path, "targets answer lacks activeTargets with labels and health") from None

    def label_names(self, selector: str, start: float, end: float) -> list[str]:
        """The label names of the series a selector matches between start and end (Unix seconds)."""
        path = "/api/v1/labels"
        result = self._result(path, {"match[]": selector, "start": f"{start:.3f}", "end": f"{end:.3f}"})
        if not isinstance(result, list):
            raise self._error(path, f"labels answer for {selector} is not a list")
        return sorted(str(name) for name in result)

    def label_values(self, label: str, selector: str, start: float, end: float) -> list[str]:
        """The values a label takes on the series a selector matches between start and end (Unix seconds)."""
        path = f"/api/v1/label/{label}/values"
        result = self._result(path, {"match[]": selector, "start": f"{start:.3f}", "end": f"{end:.3f}"})
        if not isinstance(result, list):
            raise self._error(path, f"label values answer for {selector} is not a list")
        return sorted(str(value) for value in result)

    def rule_names(self) -> set[str]:
        """The names of every alerting and recording rule the server has loaded."""
        path = "/api/v1/rules"
        data = self._data(path, None)
        try:
            return {rule["name"] for group in data["groups"] for rule in group["rules"]}
        except (KeyError, TypeError):
            raise self._error(path, "rules answer lacks groups of named rules") from None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _data(self, path: str, params: dict[str, str] | None) -> dict[str, Any]:
        """The "data" object of a successful API answer; an error answer raises ProbeError with its text."""
        data = self._result(path, params)
        if not isinstance(data, dict):
            raise self._error(path, "answer has no data object")
        return data

    def _result(self, path: str, params: dict[str, str] | None) -> Any:
        """The "data" member of a successful API answer (an object or, for series and labels, a list)."""
        response = http.request(self._client, "GET", path, component="prometheus", params=params)
        body = http.json_body(response, "prometheus")
        if not isinstance(body, dict):
            raise self._error(path, f"HTTP {response.status_code}: answer is not a JSON object")
        status = body.get("status")
        if status != "success":
            kind = body.get("errorType") or f"status {status!r}"
            error = body.get("error") or "no error text"
            raise self._error(path, f"HTTP {response.status_code}: {kind}: {error}")
        if "data" not in body:
            raise self._error(path, f"HTTP {response.status_code}: answer has no data object")
        return body["data"]

    def _error(self, path: str, detail: str) -> ProbeError:
        return ProbeError("prometheus", http.url_of(self._client, path), detail)


def _timestamp(value: object) -> float | None:
    """An RFC 3339 time from the API as Unix seconds; None for Go's zero time (never) or no value."""
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None if moment.year <= 1 else moment.timestamp()


_DURATION_PART = re.compile(r"([0-9.]+)(ms|s|m|h|d)")
_DURATION_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _duration(value: object) -> float | None:
    """A Prometheus duration (``15s``, ``1m30s``) in seconds; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(float(number) * _DURATION_UNIT[unit] for number, unit in parts)
