"""One way to measure a running environment, shared by the gates, the dashboard and the watch loop.

Every figure is a ``Measurement`` that says where it came from (``source``: ``sampled`` or ``prometheus``) and
what exactly was measured (``detail``), so a message can name both:
``error ratio 0.2000 (sampled: 20 of 100 requests to http://127.0.0.1:18001/health)``.

- Active sampling (``sample``, ``sampled``): N requests at concurrency C against the sampling paths
  (``Http.sampling_paths``: ``http.sampling.paths``, else the API's GET endpoints, else the health path;
  golive.probes.sampling); an error is a transport failure or a 5xx answer. ``note_sampling`` puts what was
  sampled in the running check's facts.
- Prometheus (``prometheus_job``, ``wait_for_fresh_scrape``, ``prometheus_error_ratio``, ``prometheus_p95``,
  ``prometheus_request_rate``): the environment's job (``prometheus.jobs``, else found among Prometheus's targets
  by ``prometheus.instances`` or the environment URL's host:port) and its queries (``prometheus.queries`` where
  set, else the preset of the instrumentation library, ``prometheus.preset`` or detected: golive.promql), with
  ``{job}`` and ``{window}`` filled in. A figure counts only when every target of the job was up in a scrape
  after golive's sample, and every selector of its query matches series (an ``or vector(0)`` operand may match
  none only where its metric's series carry its labels). Otherwise, and for no data or NaN (no request in the
  window: 0/0), ProbeError: a figure that could not be read, or was read from nothing, never passes.
- Dead-letter queues (``dead_letter_queues``, ``queue_growth``): which configured queues are dead-letter
  queues, and how much they grow while golive watches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from golive import facts, promql
from golive.config import EnvironmentView, QueuePolicy
from golive.config import Prometheus as PrometheusSection
from golive.masking import mask_url
from golive.probes import bounded, sampling
from golive.probes.errors import ProbeError
from golive.probes.prometheus import Prometheus

SAMPLED = "sampled"
PROMETHEUS = "prometheus"

# How long to wait for Prometheus to scrape a job after golive's own sample, so the sample's requests are in
# the figures (the sandbox scrapes every 2 s; production intervals are commonly 15 to 30 s).
SCRAPE_WAIT_S = 30.0
_SCRAPE_WAIT_MAX_S = 180.0  # a job scraped every minute waits up to two intervals; never longer than this
_SCRAPE_POLL_S = 0.5
_EXAMPLES = 3
_SHOWN_NAMES = 6  # metric names or label values listed in a message


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
        max_body_bytes=view.http.max_body_bytes,
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


def _window_s(window: str) -> float:
    """``30s`` / ``1m`` / ``2h`` (prometheus.window's pattern) in seconds."""
    return float(window[:-1]) * {"s": 1, "m": 60, "h": 3600}[window[-1]]


@dataclass(frozen=True)
class PrometheusJob:
    """An environment's scrape job and the queries golive reads its figures with, and where each came from."""

    prom: Prometheus
    section: PrometheusSection
    environment: str
    job: str
    job_from: str  # "prometheus.jobs.blue", "prometheus.instances.blue", "discovered: ..."
    preset: str  # a promql.PRESETS name, or "custom" when prometheus.queries gives every query
    preset_from: str  # "prometheus.preset", "detected: http_requests_total{status_code}", "prometheus.queries"
    queries: dict[str, str]  # promql.QUERY_FIELDS -> template with {job} and {window}
    scraped_at: dict[tuple[str, str], float]  # (job, instance) -> a scrape of that target, up, after the sample

    def facts(self) -> dict[str, str]:
        """What the record shows under the check's facts (``golive.facts.note("prometheus", ...)``)."""
        return {"job": self.job, "job_from": self.job_from, "preset": self.preset, "preset_from": self.preset_from}

    def where(self, field: str) -> str:
        """Which setting a query comes from: ``prometheus.queries.error_ratio`` or ``preset node's error_ratio``."""
        if getattr(self.section.queries, field) is not None:
            return f"prometheus.queries.{field}"
        return f"preset {self.preset}'s {field}"


def prometheus_job(
    prom: Prometheus, section: PrometheusSection, environment: str, url: str, fresh_after: float,
    max_wait_s: float = SCRAPE_WAIT_S,
) -> PrometheusJob:
    """An environment's job (``resolve_job``), once its targets were scraped up after ``fresh_after`` (a sample's
    end; 0: their last scrape, no wait: ``wait_for_fresh_scrape``), and its queries (``resolve_queries``).

    ProbeError when any of the three cannot be had (could not look: never a skip).
    """
    job, job_from = resolve_job(prom, section, environment, url)
    scraped_at = wait_for_fresh_scrape(prom, job, fresh_after, max_wait_s, job_from)
    preset, preset_from, queries = resolve_queries(prom, section, job, scraped_at)
    return PrometheusJob(prom, section, environment, job, job_from, preset, preset_from, queries, scraped_at)


def _host_port(url: str) -> str:
    parsed = urlsplit(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{(parsed.hostname or '').lower()}:{port}"


def _target_at(target: dict[str, Any], host_port: str) -> bool:
    """Whether a scrape target is at host:port: its instance label, or its scrape URL's host and port."""
    instance = str(target.get("instance") or "").lower()
    scrape_url = str(target.get("scrapeUrl") or "")
    return instance == host_port or (bool(scrape_url) and _host_port(scrape_url) == host_port)


def resolve_job(prom: Prometheus, section: PrometheusSection, environment: str, url: str) -> tuple[str, str]:
    """The environment's scrape job and where it came from.

    ``prometheus.jobs.<env>`` when set; else the job of the targets at ``prometheus.instances.<env>`` (an instance
    label or a scrape URL's host:port), else at the environment URL's host:port. None found, or several jobs,
    raises ProbeError naming ``prometheus.jobs.<env>`` and listing the jobs Prometheus has.
    """
    if environment in section.jobs:
        return section.jobs[environment], f"prometheus.jobs.{environment}"
    targets = prom.targets()
    wanted = section.instances.get(environment)
    host_port = wanted.lower() if wanted else _host_port(url)
    setting = f"prometheus.instances.{environment}" if wanted else f"environments.{environment}.url"
    matching = [target for target in targets if _target_at(target, host_port)]
    jobs = sorted({str(target["job"]) for target in matching})
    if len(jobs) == 1:
        instances = ", ".join(sorted({str(target["instance"]) for target in matching}))
        return jobs[0], f"discovered: target {instances} at {host_port} ({setting})"
    have = ", ".join(sorted({str(target["job"]) for target in targets})) or "none"
    seen = f"targets of several jobs ({', '.join(jobs)}) are" if jobs else "no scrape target is"
    raise ProbeError(
        "prometheus", f"{prom.url.rstrip('/')}/api/v1/targets",
        f"{seen} at {host_port} ({setting}): set prometheus.jobs.{environment} to the job scraping "
        f"{environment}; Prometheus has the jobs {have}",
    )  # fmt: skip


def resolve_queries(
    prom: Prometheus, section: PrometheusSection, job: str, scraped_at: dict[tuple[str, str], float]
) -> tuple[str, str, dict[str, str]]:
    """The preset's name, where it came from, and the query templates: ``prometheus.queries`` where set, else
    from ``prometheus.preset`` or, without it, the preset detected from the request counters in the job's latest
    scrape (``scraped_now``)."""
    explicit = {name: getattr(section.queries, name) for name in promql.QUERY_FIELDS
                if getattr(section.queries, name) is not None}  # fmt: skip
    if len(explicit) == len(promql.QUERY_FIELDS) and section.preset is None:
        return "custom", "prometheus.queries", explicit
    quoted = _promql_string(job)
    window_s = _window_s(section.window)

    def exposed(names: tuple[str, ...], suffix: str = "") -> list[dict[str, str]]:
        return [labels for name in names
                for labels in scraped_now(prom, f'{name}{suffix}{{job="{quoted}"}}', name + suffix, scraped_at,
                                          window_s)]  # fmt: skip

    def first(names: tuple[str, ...], suffix: str = "") -> str:
        for name in names[:-1]:
            if exposed((name,), suffix):
                return name
        return names[-1]

    if section.preset is not None:
        preset = promql.PRESETS[section.preset]
        counter, preset_from = first(preset.counters), "prometheus.preset"
    else:
        detected = promql.detect(exposed(promql.DETECTION_METRICS))
        if detected is None:
            end = time.time()
            raise ProbeError(
                "prometheus", f"{prom.url.rstrip('/')}/api/v1/query",
                f"job {job} exposes no request counter golive knows ({', '.join(promql.DETECTION_METRICS)} with a "
                f"status label, presets {', '.join(promql.PRESET_NAMES)}): set prometheus.preset or "
                f"prometheus.queries; {_job_metrics(prom, job, end - window_s, end)}",
            )  # fmt: skip
        preset, counter = detected
        preset_from = f"detected: {counter}{{{preset.status_label}}}"
    histogram = first(preset.histograms, "_bucket")
    return preset.name, preset_from, {**preset.queries(counter, histogram), **explicit}


def scraped_now(
    prom: Prometheus, selector: str, metric: str | None, scraped_at: dict[tuple[str, str], float], window_s: float
) -> list[dict[str, str]]:
    """The label sets (``__name__`` set to ``metric``) of the series a selector matches in their target's latest
    scrape.

    A series counts when its newest sample is from a scrape at or after the one ``wait_for_fresh_scrape`` saw for
    its target (``scraped_at``, by job and instance): a series the target no longer exposes, or one a restarted
    Prometheus still holds from before (never marked stale), does not. A series of no known target (a recording
    rule's) counts when its newest sample is within the window. ``timestamp()`` must apply to the selector
    itself (applied to a function's result it gives the evaluation time), and it drops the metric name: hence
    one query per metric name.
    """
    oldest = time.time() - window_s
    found = []
    for sample in prom.query(f"timestamp({selector})"):
        labels = {**sample.labels, "__name__": metric} if metric else dict(sample.labels)
        since = scraped_at.get((labels.get("job", ""), labels.get("instance", "")))
        if sample.value >= (since - 0.001 if since is not None else oldest):
            found.append(labels)
    return found


def _job_metrics(prom: Prometheus, job: str, start: float, end: float) -> str:
    """``it has the metrics ...; its labels: ...``: what a user needs to write a query for the job."""
    selector = f'{{job="{_promql_string(job)}"}}'
    labels = [name for name in prom.label_names(selector, start, end) if name != "__name__"]
    if not labels:
        return f"job {job} has no series at all"
    names = prom.label_values("__name__", selector, start, end)
    requestish = [name for name in names if any(word in name for word in ("request", "http", "response"))]
    shown = requestish[:_SHOWN_NAMES] or names[:_SHOWN_NAMES]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return f"it has {', '.join(shown)}{more}; its labels: {', '.join(labels)}"


def wait_for_fresh_scrape(
    prom: Prometheus, job: str, after: float, max_wait_s: float = SCRAPE_WAIT_S, job_from: str = ""
) -> dict[tuple[str, str], float]:
    """Wait (bounded) until every target of ``job`` has been scraped after the wall-clock time ``after`` and
    answered (``up`` 1, Prometheus's target health "up"); returns each target's (job, instance) -> that scrape.

    The wait is ``max_wait_s``, or longer for a job scraped less often (two of its intervals, at most
    ``_SCRAPE_WAIT_MAX_S``). A target down at that scrape, or not scraped since ``after`` within the wait, or a
    job without targets (``job_from``: the setting that named it), raises ProbeError: the figures would be old
    data, which never counts.
    """
    where = f"{prom.url.rstrip('/')}/api/v1/targets"
    started = time.monotonic()
    while True:
        targets = prom.targets()
        mine = [target for target in targets if target["job"] == job]
        if not mine:
            have = ", ".join(sorted({str(target["job"]) for target in targets})) or "none"
            named = f" ({job_from})" if job_from else ""
            raise ProbeError("prometheus", where,
                             f"no active target in job {job}{named}; Prometheus has the jobs {have}")  # fmt: skip
        interval = max((target.get("scrapeInterval") or 0.0 for target in mine), default=0.0)
        wait_s = max(max_wait_s, min(2 * interval, _SCRAPE_WAIT_MAX_S))
        stale = [target for target in mine if target["lastScrape"] is None or target["lastScrape"] < after]
        down = [target for target in mine if target not in stale and target["health"] != "up"]
        if down:
            target = down[0]
            raise ProbeError(
                "prometheus", where,
                f"job {job}: target {target['instance']} is {target['health']} at its last scrape "
                f"({target['lastError'] or 'no error text'}): no fresh figures to read",
            )  # fmt: skip
        if not stale:
            return {(job, str(target["instance"])): float(target["lastScrape"]) for target in mine}
        if time.monotonic() - started >= wait_s:
            target = stale[0]
            last = target["lastScrape"]
            when = "never scraped" if last is None else f"last scraped {after - last:.1f} s before the sample ended"
            raise ProbeError(
                "prometheus", where,
                f"job {job}: target {target['instance']} not scraped within {wait_s:g} s after golive's sample "
                f"({when}, health {target['health']}): its figures would be old data",
            )  # fmt: skip
        bounded.observe(_SCRAPE_POLL_S)


def check_selectors(measured: PrometheusJob, field: str, expr: str) -> None:
    """Every selector of a query matches series of the job's latest scrape (``scraped_now``), or is an
    `or vector(0)` operand whose metric's series there carry its labels (promql.fill_allowed); otherwise
    ProbeError naming the metric and the labels that do exist (a query that matches nothing never produces a
    figure)."""
    prom = measured.prom
    window_s = _window_s(measured.section.window)
    end = time.time()
    start = end - window_s
    for selector in promql.selectors(expr):
        if scraped_now(prom, selector.text, selector.metric, measured.scraped_at, window_s):
            continue
        related_selector = selector.only({"job", "__name__"})
        related = (scraped_now(prom, related_selector.text, selector.metric, measured.scraped_at, window_s)
                   if related_selector.text != "{}" else [])  # fmt: skip
        present = {name for labels in related for name in labels} - {"__name__"}
        if promql.fill_allowed(selector, present):
            continue
        metric = selector.metric or related_selector.text
        if not related:
            detail = f"job {measured.job} has no {metric}; {_job_metrics(prom, measured.job, start, end)}"
        else:
            missing = [label for label in selector.labels if label not in present]
            if missing:
                detail = f"{metric} of job {measured.job} has no label {', '.join(missing)}"
            else:
                values = {m.label: sorted({labels.get(m.label, "") for labels in related})[:_SHOWN_NAMES]
                          for m in selector.matchers if m.label not in {"job", "__name__"}}  # fmt: skip
                detail = f"{metric} of job {measured.job} has no series with " + "; ".join(
                    f"{label} among {', '.join(repr(v) for v in vals)}" for label, vals in values.items()
                )
            detail += f"; its labels: {', '.join(sorted(present))}"
        # The record keeps a message's first 300 characters: what is missing comes first.
        raise ProbeError(
            "prometheus", f"{prom.url.rstrip('/')}/api/v1/query",
            f"{selector.text} ({measured.where(field)}) matches no series: {detail}",
        )  # fmt: skip


def _figure(measured: PrometheusJob, field: str, what: str) -> float:
    """One figure: its selectors checked, then the instant query's single value; NaN or no data raises."""
    section, prom = measured.section, measured.prom
    expr = measured.queries[field].format(job=_promql_string(measured.job), window=section.window)
    check_selectors(measured, field, expr)
    value = prom.scalar(expr)  # no data or several series: ProbeError
    if math.isnan(value):
        raise ProbeError(
            "prometheus", f"{prom.url.rstrip('/')}/api/v1/query",
            f"{what} is NaN: no requests to job {measured.job} in the last {section.window} ({expr})",
        )  # fmt: skip
    return value


def prometheus_error_ratio(measured: PrometheusJob) -> Measurement:
    """5xx rate over total request rate (the ``error_ratio`` query); an unmatched selector, NaN or no data raises."""
    value = _figure(measured, "error_ratio", "the error ratio")
    return Measurement("error ratio", value, "", PROMETHEUS, _prometheus_detail(measured))


def prometheus_p95(measured: PrometheusJob) -> Measurement:
    """p95 from the request-duration histogram (the ``p95_ms`` query); an unmatched selector, NaN or no data
    raises."""
    value = _figure(measured, "p95_ms", "p95")
    return Measurement("p95", value, "ms", PROMETHEUS, _prometheus_detail(measured))


def prometheus_request_rate(measured: PrometheusJob) -> Measurement:
    """Requests per second (the ``request_rate`` query); an unmatched selector, NaN or no data raises."""
    value = _figure(measured, "request_rate", "the request rate")
    return Measurement("request rate", value, " req/s", PROMETHEUS, _prometheus_detail(measured))


def _prometheus_detail(measured: PrometheusJob) -> str:
    return f"job {measured.job} over {measured.section.window} at {mask_url(measured.prom.url)}"


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
    bounded.observe(observe_s)
    return {name: (before[name], int(depth_of(name))) for name in queues}
