"""The orchestrator's request metrics in Prometheus text format, in the naming of one instrumentation library
(``golive sandbox up --metrics NAME``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from golive.sandbox import constants as c

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_PATHS = (
    "/health",
    "/ready",
    "/actuator/health",
    "/actuator/info",
    "/version",
    "/metrics",
    "/api/agents",
    "/api/messages",
    "/api/status",
    "/api/health",
    "/api/tasks",
)

Labels = Callable[[str, str, str], dict[str, str]]  # (method, path, status) -> the series' labels


def _outcome(status: str) -> str:
    """Micrometer's ``outcome`` tag for a status code."""
    outcomes = {"1": "INFORMATIONAL", "2": "SUCCESS", "3": "REDIRECTION", "4": "CLIENT_ERROR"}
    return outcomes.get(status[0], "SERVER_ERROR")


@dataclass(frozen=True)
class MetricNaming:
    """How one instrumentation library names its request metrics (golive.promql.PRESETS documents each, with
    its source); ``golive sandbox up --metrics NAME`` makes the apps expose theirs."""

    counter: str | None  # the request counter; None where the duration histogram's _count counts requests
    counter_labels: Labels
    histograms: tuple[tuple[str, Labels], ...]  # base name, labels
    zero_histograms: bool = True  # histogram series from zero for every zero-initialised request, as for counters


METRIC_NAMINGS: dict[str, MetricNaming] = {
    "golive": MetricNaming(
        "http_requests_total", lambda m, p, s: {"method": m, "path": p, "status": s},
        (("http_request_duration_seconds", lambda m, p, s: {"path": p}),), zero_histograms=False,
    ),
    "node": MetricNaming(
        "http_requests_total", lambda m, p, s: {"method": m, "route": p, "status_code": s},
        (("api_request_duration_seconds", lambda m, p, s: {"method": m, "route": p, "status_code": s}),),
    ),
    "micrometer": MetricNaming(
        None, lambda m, p, s: {},
        (("http_server_requests_seconds", lambda m, p, s: {"exception": "None", "method": m, "outcome": _outcome(s),
                                                           "status": s, "uri": p}),),
    ),
    "python": MetricNaming(
        "http_requests_total", lambda m, p, s: {"handler": p, "method": m, "status": f"{s[0]}xx"},
        (("http_request_duration_seconds", lambda m, p, s: {"handler": p, "method": m}),
         ("http_request_duration_highr_seconds", lambda m, p, s: {})),
    ),
    "go": MetricNaming(
        "http_requests_total", lambda m, p, s: {"code": s, "method": m.lower()},
        (("http_request_duration_seconds", lambda m, p, s: {"code": s, "method": m.lower()}),),
    ),
}  # fmt: skip


def _series(name: str, labels: dict[str, str], value: str) -> str:
    inner = ",".join(f'{key}="{val}"' for key, val in labels.items())
    return f"{name}{{{inner}}} {value}" if inner else f"{name} {value}"


class Metrics:
    """Request counter and duration histogram in Prometheus text exposition format, in one library's naming
    (``METRIC_NAMINGS``, chosen by ``$GOLIVE_SANDBOX_METRICS``; default ``golive``: ``http_requests_total`` and
    ``http_request_duration_seconds``)."""

    def __init__(self, version: str, environment: str, naming: str = c.DEFAULT_METRICS) -> None:
        if naming not in METRIC_NAMINGS:
            raise ValueError(f"unknown metrics naming {naming!r}; one of {', '.join(METRIC_NAMINGS)}")
        self.version = version
        self.environment = environment
        self.naming = METRIC_NAMINGS[naming]
        self.started = time.time()
        # Series start at 0, as instrumentation guides advise: a counter first seen at 20 has no increase, so
        # rate() would not show the first burst of 5xx answers at all.
        self.requests: dict[tuple[str, str, str], int] = {
            ("GET", path, status): 0 for path in KNOWN_PATHS for status in ("200", "500")
        }
        self.buckets: dict[tuple[str, str, str], list[int]] = {}
        self.sums: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        key = (method, path, str(status))
        with self._lock:
            self.requests[key] = self.requests.get(key, 0) + 1
            counts = self.buckets.setdefault(key, [0] * len(DURATION_BUCKETS))
            for index, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:
                    counts[index] += 1
            self.sums[key] = self.sums.get(key, 0.0) + seconds

    def render(self) -> str:
        with self._lock:
            return self._render()

    def _render(self) -> str:
        naming = self.naming
        lines = []
        if naming.counter:
            totals: dict[tuple[tuple[str, str], ...], int] = {}
            for key, value in self.requests.items():
                labels = tuple(naming.counter_labels(*key).items())
                totals[labels] = totals.get(labels, 0) + value
            lines += [
                f"# HELP {naming.counter} HTTP requests answered, by method, path and status code.",
                f"# TYPE {naming.counter} counter",
            ]
            lines += [_series(naming.counter, dict(labels), str(value)) for labels, value in sorted(totals.items())]
        keys = set(self.requests) if naming.zero_histograms else set(self.buckets)
        for name, label_of in naming.histograms:
            groups: dict[tuple[tuple[str, str], ...], tuple[list[int], float, int]] = {}
            for key in keys:
                labels = tuple(label_of(*key).items())
                buckets, total, count = groups.get(labels, ([0] * len(DURATION_BUCKETS), 0.0, 0))
                mine = self.buckets.get(key, [0] * len(DURATION_BUCKETS))
                groups[labels] = ([a + b for a, b in zip(buckets, mine, strict=True)], total + self.sums.get(key, 0.0),
                                  count + (self.requests.get(key, 0) if key in self.buckets else 0))  # fmt: skip
            lines += [f"# HELP {name} Time to answer an HTTP request.", f"# TYPE {name} histogram"]
            for labels, (buckets, total, count) in sorted(groups.items()):
                series = dict(labels)
                for bound, value in zip(DURATION_BUCKETS, buckets, strict=True):
                    lines.append(_series(f"{name}_bucket", {**series, "le": str(bound)}, str(value)))
                lines.append(_series(f"{name}_bucket", {**series, "le": "+Inf"}, str(count)))
                lines.append(_series(f"{name}_sum", series, f"{total:.6f}"))
                lines.append(_series(f"{name}_count", series, str(count)))
        lines += [
            "# HELP orchestrator_info The release this process runs.",
            "# TYPE orchestrator_info gauge",
            f'orchestrator_info{{version="{self.version}",environment="{self.environment}"}} 1',
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self.started:.3f}",
        ]
        return "\n".join(lines) + "\n"
