"""One way to measure a running environment, shared by the gates, the dashboard and the watch loop.

Every figure is a ``Measurement`` that says where it came from (``source``: ``sampled`` or ``prometheus``) and
what exactly was measured (``detail``), so a message can name both:
``error ratio 0.2000 (sampled: 20 of 100 requests to http://127.0.0.1:18001/health)``.

- Active sampling (``sample``, ``sampled``): N requests at concurrency C against the sampling paths
  (``Http.sampling_paths``: ``http.sampling.paths``, else the API's GET endpoints, else the health path;
  golive.probes.sampling); an error is a transport failure or a 5xx answer. ``note_sampling`` puts what was
  sampled in the running check's facts.
- Prometheus (``wait_for_scrape``, ``prometheus_error_ratio``, ``prometheus_p95``): the configured
  ``prometheus.queries`` with ``{job}`` and ``{window}`` filled in. No data, or NaN (no request in the window:
  0/0), raises ProbeError: a figure that could not be read never passes.
- Dead-letter queues (``dead_letter_queues``, ``queue_growth``): which configured queues are dead-letter
  queues, and how much they grow while golive watches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from golive import facts
from golive.config import EnvironmentView, QueuePolicy
from golive.config import Prometheus as PrometheusSection
from golive.masking import mask_url
from golive.probes import sampling
from golive.probes.errors import ProbeError
from golive.probes.prometheus import Prometheus

SAMPLED = "sampled"
PROMETHEUS = "prometheus"

# How long to wait for Prometheus to scrape a job after golive's own sample, so the sample's requests are in
# the figures (the sandbox scrapes every 2 s; production intervals are commonly 15 to 30 s).
SCRAPE_WAIT_S = 30.0
_SCRAPE_POLL_S = 0.5
_EXAMPLES = 3


@dataclass(frozen=True)
class Measurement:
    """One figure, where it came from and what was measured."""

    name: str  # "error ratio", "p95"
    value: float | None  # None: nothing to measure (no request was answered)
    unit: str  # "" (a ratio) or "ms"
    source: str  # SAMPLED or PROMETHEUS
    detail: str  # what was measured: "20 of 100 requests to http://host/health"

    @property
    def figure(self) -> str:
        """``error ratio 0.2000``, ``p95 412.3 ms``, ``p95 unknown``."""
        if self.value is None:
            return f"{self.name} unknown"
        if math.isinf(self.value):
            return f"{self.name} beyond the largest histogram bucket"
        if self.unit == "ms":
            return f"{self.name} {self.value:.1f} ms"
        return f"{self.name} {self.value:.4f}"

    def describe(self) -> str:
        """The figure with its source: ``p95 412.3 ms (sampled: 100 requests to ...)``."""
        return f"{self.figure} ({self.source}: {self.detail})"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "source": self.source,
                "detail": self.detail}  # fmt: skip


# --- active sampling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sampled:
    """A sample of one environment and the figures taken from it."""

    sample: sampling.Sample
    finished_at: float  # wall-clock time (time.time()) the sample ended: Prometheus must scrape after it

    @property
    def error_ratio(self) -> Measurement:
        sample = self.sample
        detail = f"{sample.errors} of {sample.completed} requests to {_targets(sample)}"
        if sample.error_examples:
            detail += f", e.g. {'; '.join(sample.error_examples[:_EXAMPLES])}"
        return Measurement("error ratio", sample.error_ratio, "", SAMPLED, detail + _truncation(sample))

    @property
    def p95_ms(self) -> Measurement:
        sample = self.sample
        if sample.p95_ms is None:
            detail = f"none of {sample.completed} requests to {_targets(sample)} was answered"
            if sample.error_examples:
                detail += f", e.g. {'; '.join(sample.error_examples[:_EXAMPLES])}"
        else:
            detail = f"{sample.completed} requests to {_targets(sample)}, concurrency {sample.concurrency}"
        return Measurement("p95", sample.p95_ms, "ms", SAMPLED, detail + _truncation(sample))


def sample(view: EnvironmentView, base_url: str | None = None) -> Sampled:
    """Sample an environment (or another URL, a load balancer's, with its settings) as ``http.sampling`` says."""
    policy = view.http.sampling
    measured = sampling.sample(
        base_url or view.url,
        view.http.sampling_paths,
        requests=policy.requests,
        concurrency=policy.concurrency,
        max_duration_s=policy.max_duration_s,
        timeout_s=view.http.timeout_s,
        verify_tls=view.http.verify_tls,
    )
    return Sampled(sample=measured, finished_at=time.time())


def note_sampling(view: EnvironmentView, sample: sampling.Sample) -> None:
    """Say in the running check's facts (golive.facts) which paths were sampled, and which key chose them."""
    facts.note("sampling", {
        "environment": view.name, "url": sample.url, "paths": list(sample.paths),
        "chosen_by": view.http.sampling_paths_key, "requests": sample.completed,
    })  # fmt: skip


@dataclass(frozen=True)
class P95Comparison:
    """The candidate's p95 against the live environment's, as Gate 1 captured it and, when needed, as it is now.

    ``candidate`` is the better of the candidate's samples; ``live_now`` is None when the first sample was within
    the allowed ratio of the baseline (no second look needed).
    """

    candidate: Measurement
    baseline_ms: float
    allowed_ratio: float
    live_now: Measurement | None = None
    # Below this many milliseconds a difference is timer and scheduler noise, whatever ratio it makes (on a
    # busy 2-core host 12.8 ms against 6 ms is 2x): the candidate may always be this much slower; the absolute
    # thresholds.p95_ms still applies.
    margin_ms: float = 0.0

    @property
    def reference_ms(self) -> float:
        """What the candidate is held against: the live p95 at Gate 1, or now if the live environment is slower now."""
        now = self.live_now.value if self.live_now is not None and self.live_now.value is not None else 0.0
        return max(self.baseline_ms, now)

    @property
    def ratio(self) -> float | None:
        return None if self.candidate.value is None else self.candidate.value / self.reference_ms

    @property
    def ok(self) -> bool:
        if self.candidate.value is None or self.ratio is None:
            return False
        return self.ratio <= self.allowed_ratio or self.candidate.value - self.reference_ms <= self.margin_ms


def compare_p95(
    candidate: EnvironmentView, first: Sampled, baseline_ms: float, allowed_ratio: float,
    live: EnvironmentView | None, margin_ms: float = 0.0,
) -> P95Comparison:
    """Hold the candidate's sampled p95 against ``allowed_ratio`` x the live baseline's, confirming before failing.

    Two samples taken seconds apart on a busy host differ by 25 % and more, as much as the ratio allows; so a first
    sample over the limit is confirmed: the candidate is sampled again (its better p95 counts) and the live
    environment is sampled now (if it is slower now than at Gate 1, the host is slower, not the release).
    """
    comparison = P95Comparison(first.p95_ms, baseline_ms, allowed_ratio, margin_ms=margin_ms)
    if comparison.ok or first.p95_ms.value is None:
        return comparison
    again = sample(candidate).p95_ms
    better = min((m for m in (first.p95_ms, again) if m.value is not None), key=lambda m: m.value or 0.0)
    live_now = sample(live).p95_ms if live is not None else None
    return P95Comparison(better, baseline_ms, allowed_ratio, live_now, margin_ms)


def _targets(sample: sampling.Sample) -> str:
    base = sample.url.rstrip("/")
    if len(sample.paths) == 1:
        return f"{base}{sample.paths[0]}"
    return f"{base} ({', '.join(sample.paths)})"


def _truncation(sample: sampling.Sample) -> str:
    if not sample.truncated:
        return ""
    return f"; only {sample.completed} of {sample.requested} sent within http.sampling.max_duration_s"


# --- Prometheus --------------------------------------------------------------------------------------


def _promql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def job_for(section: PrometheusSection, environment: str) -> str | None:
    """The scrape job of an environment (``prometheus.jobs``), or None when the configuration names none."""
    return section.jobs.get(environment)


def wait_for_scrape(prom: Prometheus, job: str, after: float, max_wait_s: float = SCRAPE_WAIT_S) -> float | None:
    """Wait (bounded) until Prometheus has scraped ``job`` after the wall-clock time ``after``.

    Returns the latest scrape time seen (None when Prometheus has no target for the job: the metric queries
    then find no data and fail). Waiting longer than ``max_wait_s`` is not an error: the figures are then read
    as they are, and ``scrape_note`` says how stale they were.
    """
    expr = f'max(timestamp(up{{job="{_promql_string(job)}"}}))'
    deadline = time.monotonic() + max_wait_s
    while True:
        series = prom.query(expr)
        if not series:
            return None
        latest = series[0].value
        if latest >= after or time.monotonic() >= deadline:
            return latest
        time.sleep(_SCRAPE_POLL_S)


def _query(section: PrometheusSection, template: str, job: str) -> str:
    return template.format(job=_promql_string(job), window=section.window)


def _value(prom: Prometheus, expr: str, what: str, job: str, window: str) -> float:
    value = prom.scalar(expr)  # no data or several series: ProbeError
    if math.isnan(value):
        raise ProbeError(
            "prometheus", f"{prom.url.rstrip('/')}/api/v1/query",
            f"{what} is NaN: no requests to job {job} in the last {window} ({expr})",
        )  # fmt: skip
    return value


def prometheus_error_ratio(prom: Prometheus, section: PrometheusSection, job: str) -> Measurement:
    """5xx rate over total request rate (``prometheus.queries.error_ratio``); NaN or no data raises ProbeError."""
    expr = _query(section, section.queries.error_ratio, job)
    value = _value(prom, expr, "the error ratio", job, section.window)
    return Measurement("error ratio", value, "", PROMETHEUS, _prometheus_detail(prom, job, section.window))


def prometheus_p95(prom: Prometheus, section: PrometheusSection, job: str) -> Measurement:
    """p95 from the request-duration histogram (``prometheus.queries.p95_ms``); NaN or no data raises ProbeError."""
    expr = _query(section, section.queries.p95_ms, job)
    value = _value(prom, expr, "p95", job, section.window)
    return Measurement("p95", value, "ms", PROMETHEUS, _prometheus_detail(prom, job, section.window))


def _prometheus_detail(prom: Prometheus, job: str, window: str) -> str:
    return f"job {job} over {window} at {mask_url(prom.url)}"


# --- queues ------------------------------------------------------------------------------------------


def is_dead_letter_queue(name: str, policy: QueuePolicy) -> bool:
    """The rule golive uses: a configured queue is a dead-letter queue when its name ends in ``.dlq`` (any case)
    or its ``max_messages`` is 0 (a queue that must stay empty is where failed messages land)."""
    return name.lower().endswith(".dlq") or policy.max_messages == 0


def dead_letter_queues(queues: Mapping[str, QueuePolicy]) -> list[str]:
    """The configured queues that are dead-letter queues (``is_dead_letter_queue``), in configuration order."""
    return [name for name, policy in queues.items() if is_dead_letter_queue(name, policy)]


def queue_growth(depth_of: Any, queues: Sequence[str], observe_s: float) -> dict[str, tuple[int, int]]:
    """Each queue's depth now and ``observe_s`` seconds later: ``{name: (before, after)}``.

    ``depth_of(name)`` reads one queue's message count (a probe call; ProbeError propagates).
    """
    before = {name: int(depth_of(name)) for name in queues}
    time.sleep(observe_s)
    return {name: (before[name], int(depth_of(name))) for name in queues}
