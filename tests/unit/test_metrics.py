"""golive.metrics and the synthetic transaction's helpers, without the sandbox: figures say where they came
from, Prometheus answers that measure nothing fail, and a p95 over the baseline is confirmed before it fails."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from golive import metrics
from golive.config import Prometheus as PrometheusSection
from golive.config import QueuePolicy
from golive.probes import sampling, synthetic
from golive.probes.errors import ProbeError
from golive.probes.prometheus import Prometheus
from tests.canned_http import Answer, CannedHTTP, Request


def a_sample(p95_ms: float | None = 42.0, errors: int = 0, completed: int = 100) -> sampling.Sample:
    return sampling.Sample(
        url="http://127.0.0.1:18001", paths=("/health",), requested=100, concurrency=10, completed=completed,
        errors=errors, duration_s=0.5, p50_ms=p95_ms, p95_ms=p95_ms, p99_ms=p95_ms,
        error_examples=("GET /health: HTTP 500",) if errors else (),
    )  # fmt: skip


def test_sampled_figures_name_their_source_and_what_was_measured():
    sampled = metrics.Sampled(a_sample(p95_ms=87.25, errors=20), finished_at=0.0)
    assert sampled.error_ratio.describe() == (
        "error ratio 0.2000 (sampled: 20 of 100 requests to http://127.0.0.1:18001/health, e.g. GET /health: HTTP 500)"
    )
    assert sampled.p95_ms.describe() == (
        "p95 87.2 ms (sampled: 100 requests to http://127.0.0.1:18001/health, concurrency 10)"
    )
    nothing = metrics.Sampled(a_sample(p95_ms=None, errors=100), finished_at=0.0).p95_ms
    assert nothing.value is None
    assert nothing.describe().startswith("p95 unknown (sampled: none of 100 requests to http://127.0.0.1:18001/health")
    beyond = metrics.Measurement("p95", math.inf, "ms", metrics.PROMETHEUS, "job x over 1m at http://p")
    assert beyond.figure == "p95 beyond the largest histogram bucket"


def vector(*values: str) -> dict:
    result = [{"metric": {}, "value": [1.0, value]} for value in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


@contextmanager
def api_server(answers: dict[str, Any]) -> Iterator[str]:
    """A loopback stand-in for the Prometheus HTTP API: each path answers its JSON, or what a function of the
    ``query`` parameter returns (the logic around it is what these tests exercise; the real Prometheus is in
    tests/validations/test_pre_cutover_prometheus.py)."""

    def route(answer: Any) -> Callable[[Request], Answer]:
        return lambda request: Answer(200, answer(request.query("query")) if callable(answer) else answer)

    routes = {"*": Answer(200, {"status": "error"})} | {path: route(a) for path, a in answers.items()}
    with CannedHTTP(routes) as server:
        yield server.url


def ok(data: object) -> dict:
    return {"status": "success", "data": data}


SECTION = PrometheusSection(url="http://127.0.0.1:9", jobs={"blue": "orchestrator-blue"}, preset="golive")
# What `timestamp(SELECTOR)` finds: one series of blue's, in its latest scrape.
FRESH = ok({"resultType": "vector", "result": [{"metric": {
    "job": "orchestrator-blue", "instance": "127.0.0.1:18001", "status": "200"},
    "value": [1.0, "1893456000.123"]}]})  # fmt: skip


def queries(figure: dict) -> Any:
    """/api/v1/query: FRESH for golive's look at the series, ``figure`` for the figure's own query."""
    return lambda query: FRESH if query.startswith("timestamp(") else figure


def target(job: str, instance: str, health: str = "up", last: str = "2030-01-01T00:00:00.123456789Z") -> dict:
    return {"labels": {"job": job, "instance": instance}, "scrapePool": job, "health": health, "lastError": "",
            "lastScrape": last, "scrapeUrl": f"http://{instance}/metrics"}  # fmt: skip


TARGETS = ok({"activeTargets": [target("api-blue", "127.0.0.1:18001"), target("api-green", "127.0.0.1:18002")]})
BLUE_UP = ok({"activeTargets": [target("orchestrator-blue", "127.0.0.1:18001")]})


def a_job(prom: Prometheus, section: PrometheusSection = SECTION) -> metrics.PrometheusJob:
    return metrics.prometheus_job(prom, section, "blue", "http://127.0.0.1:18001", fresh_after=1.0)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (vector("NaN"), "the error ratio is NaN: no requests to job orchestrator-blue in the last 1m"),
        (vector(), "query returned no data"),
        (vector("0.1", "0.2"), "query returned 2 series, expected one"),
    ],
)
def test_prometheus_figures_that_measure_nothing_raise(answer, expected):
    answers = {"/api/v1/query": queries(answer), "/api/v1/targets": BLUE_UP}
    with api_server(answers) as url, Prometheus(url, 3) as prom, pytest.raises(ProbeError, match=expected):
        metrics.prometheus_error_ratio(a_job(prom))


def test_prometheus_figures_name_job_window_and_server():
    answers = {"/api/v1/query": queries(vector("0.0125")), "/api/v1/targets": BLUE_UP}
    with api_server(answers) as url, Prometheus(url, 3) as prom:
        job = a_job(prom)
        measured = metrics.prometheus_p95(job)
    assert measured.value == 0.0125 and measured.source == "prometheus"
    assert measured.describe() == f"p95 0.0 ms (prometheus: job orchestrator-blue over 1m at {url})"
    assert job.facts() == {"job": "orchestrator-blue", "job_from": "prometheus.jobs.blue", "preset": "golive",
                           "preset_from": "prometheus.preset"}  # fmt: skip


def test_only_series_of_the_latest_scrape_count():
    """A series a target no longer exposes (or one a restarted Prometheus still holds, never marked stale)
    answers queries for minutes: golive counts a series only if its newest sample is from the latest scrape."""
    def series(instance: str, at: str) -> dict:
        return {"metric": {"job": "j", "instance": instance}, "value": [1.0, at]}

    answer = ok({"resultType": "vector", "result": [
        series("a:1", "1000.000"), series("a:1", "999.5"), series("b:1", "1000.0"), series("rule", "1e12")]})
    with api_server({"/api/v1/query": answer}) as url, Prometheus(url, 3) as prom:
        found = metrics.scraped_now(prom, "m", "m", {("j", "a:1"): 1000.0004, ("j", "b:1"): 1002.0}, window_s=60)
    assert found == [{"__name__": "m", "job": "j", "instance": name} for name in ("a:1", "rule")]


def test_the_job_is_found_by_the_environment_url_or_instances_else_an_error_naming_the_key():
    bare = PrometheusSection(url="http://127.0.0.1:9")
    with api_server({"/api/v1/targets": TARGETS}) as url, Prometheus(url, 3) as prom:
        assert metrics.resolve_job(prom, bare, "blue", "http://127.0.0.1:18001/") == (
            "api-blue", "discovered: target 127.0.0.1:18001 at 127.0.0.1:18001 (environments.blue.url)")
        by_instance = PrometheusSection(url="http://127.0.0.1:9", instances={"blue": "127.0.0.1:18002"})
        assert metrics.resolve_job(prom, by_instance, "blue", "https://api.example.com")[0] == "api-green"
        with pytest.raises(ProbeError) as raised:
            metrics.resolve_job(prom, bare, "blue", "https://api.example.com")
    assert raised.value.detail == (
        "no scrape target is at api.example.com:443 (environments.blue.url): set prometheus.jobs.blue to the job "
        "scraping blue; Prometheus has the jobs api-blue, api-green"
    )


def test_a_figure_waits_for_a_scrape_after_the_sample_and_never_reads_a_down_target():
    with api_server({"/api/v1/targets": TARGETS}) as url, Prometheus(url, 3) as prom:
        metrics.wait_for_fresh_scrape(prom, "api-blue", after=1.0)
        with pytest.raises(ProbeError, match=r"target 127.0.0.1:18001 not scraped within 0.3 s after golive's sample"):
            metrics.wait_for_fresh_scrape(prom, "api-blue", after=2e9, max_wait_s=0.3)
        with pytest.raises(ProbeError, match="no active target in job gone; Prometheus has the jobs api-blue, api"):
            metrics.wait_for_fresh_scrape(prom, "gone", after=1.0)
    # A job scraped less often is waited for longer: two of its intervals.
    slow = ok({"activeTargets": [{**target("api-blue", "127.0.0.1:18001"), "scrapeInterval": "400ms"}]})
    late = pytest.raises(ProbeError, match=r"not scraped within 0\.8 s after golive's sample")
    with api_server({"/api/v1/targets": slow}) as url, Prometheus(url, 3) as prom, late:
        metrics.wait_for_fresh_scrape(prom, "api-blue", after=2e9, max_wait_s=0.3)
    down = ok({"activeTargets": [target("api-blue", "127.0.0.1:18001", "down")]})
    refused = pytest.raises(ProbeError, match=r"job api-blue: target 127\.0\.0\.1:18001 is down at its last scrape")
    with api_server({"/api/v1/targets": down}) as url, Prometheus(url, 3) as prom, refused:
        metrics.wait_for_fresh_scrape(prom, "api-blue", after=1.0)


def test_dead_letter_queue_rule():
    queues = {
        "agent.tasks": QueuePolicy(min_consumers=1, max_messages=1000),
        "agent.tasks.DLQ": QueuePolicy(),
        "failed": QueuePolicy(max_messages=0),
        "audit": QueuePolicy(max_messages=10),
    }
    assert metrics.dead_letter_queues(queues) == ["agent.tasks.DLQ", "failed"]


def test_queue_growth_reads_each_queue_twice():
    depths = {"a.dlq": iter([1, 4]), "b.dlq": iter([0, 0])}
    assert metrics.queue_growth(lambda name: next(depths[name]), ["a.dlq", "b.dlq"], 0.0) == {
        "a.dlq": (1, 4), "b.dlq": (0, 0)
    }  # fmt: skip


class FakeSampler:
    """Stands in for metrics.sample: answers each environment's next p95."""

    def __init__(self, p95s: dict[str, list[float]]) -> None:
        self.p95s = p95s
        self.calls: list[str] = []

    def __call__(self, view, base_url=None):
        self.calls.append(view.name)
        return metrics.Sampled(a_sample(p95_ms=self.p95s[view.name].pop(0)), finished_at=0.0)


class View:
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.mark.parametrize(
    ("first", "again", "live_now", "ok", "looked_again"),
    [
        (60.0, None, None, True, False),  # within 1.25 x 50: no second look
        (70.0, 80.0, 40.0, False, True),  # confirmed: slower again, and green is as fast as ever
        (70.0, 61.0, 40.0, True, True),  # the first sample was a blip: the better one counts
        (70.0, 75.0, 65.0, True, True),  # green is slower now too: the host is slower, not the release
    ],
)
def test_compare_p95_confirms_before_failing(monkeypatch, first, again, live_now, ok, looked_again):
    sampler = FakeSampler({"blue": [again] if again else [], "green": [live_now] if live_now else []})
    monkeypatch.setattr(metrics, "sample", sampler)
    compared = metrics.compare_p95(View("blue"), metrics.Sampled(a_sample(first), 0.0), 50.0, 1.25, View("green"))
    assert compared.ok is ok
    assert sampler.calls == (["blue", "green"] if looked_again else [])
    assert (compared.live_now is not None) is looked_again


def test_synthetic_body_carries_the_golive_marker():
    marker = synthetic.new_marker()
    assert marker.startswith("golive-synthetic-") and len(marker) == len("golive-synthetic-") + 32
    body = {"agent": "planner", "payload": {"note": "made by {marker}", "tags": ["{marker}"]}}
    assert synthetic.marked_body(body, marker) == {
        "agent": "planner", "payload": {"note": f"made by {marker}", "tags": [marker]}
    }  # fmt: skip
    assert synthetic.marked_body({"agent": "planner"}, marker) == {"agent": "planner", "golive_synthetic": marker}


def test_a_failed_transaction_names_the_step_and_the_cleanup():
    transaction = synthetic.Transaction(where="http://app", marker="golive-synthetic-x", object_id=7, steps=[
        synthetic.Step("create", True, "POST /api/tasks answered 202, task_id 7"),
        synthetic.Step("consumed", False, "`SELECT ...` (id 7) returned 'queued', not 'done', within 2s"),
        synthetic.Step("cleanup", True, "DELETE /api/tasks/7 answered 200"),
    ])  # fmt: skip
    assert not transaction.ok
    assert transaction.describe() == (
        "synthetic transaction through http://app (golive-synthetic-x): step 'consumed' did not happen: "
        "`SELECT ...` (id 7) returned 'queued', not 'done', within 2s; cleanup: DELETE /api/tasks/7 answered 200"
    )


def test_a_few_milliseconds_are_noise_whatever_the_ratio():
    from golive.metrics import SAMPLED, Measurement, P95Comparison

    def candidate(ms: float) -> Measurement:
        return Measurement("p95", ms, "ms", SAMPLED, "test")

    assert P95Comparison(candidate(8.4), 5.2, 1.25, margin_ms=5.0).ok  # 1.6x, but 3.2 ms
    assert not P95Comparison(candidate(8.4), 5.2, 1.25, margin_ms=0.0).ok
    assert not P95Comparison(candidate(400.0), 60.0, 1.25, margin_ms=5.0).ok  # a real degradation still fails
    assert not P95Comparison(candidate(12.0), 5.0, 1.25, margin_ms=5.0).ok  # 7 ms over: beyond the margin


def test_sampling_requests_the_api_and_says_so_in_the_facts():
    """By default the GET endpoints of http.endpoints are sampled, not the health path; the check's facts say so."""
    from pathlib import Path

    from golive import facts
    from golive.config import parse_settings

    with CannedHTTP.everywhere({"status": "ok"}) as server:
        url = server.url
        text = (
            'release: {version: "2.1.0"}\n'
            f"environments: {{blue: {{url: '{url}', role: candidate}}}}\n"
            "http: {endpoints: [{path: /api/agents, expect: [200, 401]}, {path: /api/tasks, method: POST}],\n"
            "       sampling: {requests: 20, concurrency: 2}}\n"  # no sampling.paths
        )
        view = parse_settings(text, Path("golive.yaml"), "test", {}).select(None)
        properties: list[tuple[str, object]] = []
        token = facts.bind(properties)
        try:
            sampled = metrics.sample(view)
            metrics.note_sampling(view, sampled.sample)
        finally:
            facts.unbind(token)
    assert sampled.sample.paths == ("/api/agents",) and sampled.sample.completed == 20
    assert sampled.p95_ms.detail == f"20 requests to {url}/api/agents, concurrency 2"
    assert facts.collect(properties)["sampling"] == {
        "environment": "blue", "url": url, "paths": ["/api/agents"], "chosen_by": "http.endpoints", "requests": 20,
    }  # fmt: skip
