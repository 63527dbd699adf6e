"""Pre-cutover verification: the candidate measured before traffic moves to it, against thresholds and Gate 1.

Each figure comes from one source and has its own check, so the record says where it came from: active
sampling (always; ``http.sampling``, one sample per session shared by every check, of the API's GET endpoints
unless ``http.sampling.paths`` says otherwise) and the Prometheus HTTP API
(when configured: the environment's job from prometheus.jobs or found among Prometheus's targets, its queries from
prometheus.queries or the instrumentation library's preset; read only once Prometheus has scraped the job, up, after
golive's own sample, and only from selectors that match series). Comparisons use the baseline Gate 1
captured from the live environment; without one they fail as warnings (REVIEW), never pass.

A dead-letter queue is a configured queue whose name ends in ``.dlq`` or whose ``max_messages`` is 0.
"""

import pytest

from golive import expect, facts, judgements, metrics
from golive.fixtures import fail_as_warning, not_configured
from golive.probes import postgres as pg
from golive.probes import rabbitmq as rabbitmq_probe
from golive.probes import synthetic

pytestmark = pytest.mark.immediate

DLQ_OBSERVATION_S = 3.0


@pytest.fixture(scope="session")
def target_sample(target):
    """One active sample of the environment under test (http.sampling), shared by the checks of the session."""
    return metrics.sample(target.view)


@pytest.fixture(autouse=True)
def _sampling_fact(request, target):
    """Each check that reads the shared sample says in its facts which paths were sampled, and why those."""
    if "target_sample" in request.fixturenames:
        metrics.note_sampling(target.view, request.getfixturevalue("target_sample").sample)


@pytest.fixture(scope="session")
def target_job(prometheus, target, target_sample):
    """The target's Prometheus job and queries, once Prometheus has scraped it, up, after golive's sample."""
    return metrics.prometheus_job(prometheus, target.view.prometheus, target.name, target.url,
                                  fresh_after=target_sample.finished_at)


def _assert_at_most(measured, judge, limits):
    """The measurement holds to its judgement (``judgements.error_ratio`` or ``judgements.p95``)."""
    __tracebackhide__ = True
    judged = judge(measured.value, limits)
    limit = f"{judged.allowed:g} ms" if measured.unit == "ms" else f"{judged.allowed:.4f}"
    assert measured.value is not None, f"{measured.describe()}; expected at most {limit} ({judged.key})"
    assert judged.ok, f"{measured.describe()} exceeds {limit} ({judged.key})"


@pytest.mark.critical
def test_health_dependencies_ok(target):
    """Every dependency in the candidate's health answer (database, rabbitmq, redis) reports healthy."""
    expect.dependencies_ok(target, everything_reported=True)


@pytest.mark.critical
def test_error_ratio_sampled(target_sample, golive_settings):
    """Error ratio within thresholds.error_rate, by active sampling of the candidate."""
    _assert_at_most(target_sample.error_ratio, judgements.error_ratio, golive_settings.document.thresholds)


@pytest.mark.critical
def test_p95_sampled(target, target_sample, golive_settings, latency_picture):
    """p95 latency within thresholds.p95_ms, by active sampling of the candidate."""
    latency_picture(f"{target.name} (candidate)", {**target_sample.sample.to_json(), "source": "sampled"})
    _assert_at_most(target_sample.p95_ms, judgements.p95, golive_settings.document.thresholds)


@pytest.mark.critical
@pytest.mark.component("prometheus")
def test_error_ratio_prometheus(target_job, golive_settings):
    """Error ratio (5xx rate over request rate) within thresholds.error_rate, from Prometheus."""
    facts.note("prometheus", target_job.facts())
    measured = metrics.prometheus_error_ratio(target_job)
    _assert_at_most(measured, judgements.error_ratio, golive_settings.document.thresholds)


@pytest.mark.critical
@pytest.mark.component("prometheus")
def test_p95_prometheus(target_job, golive_settings):
    """p95 latency from the request-duration histogram within thresholds.p95_ms, from Prometheus."""
    facts.note("prometheus", target_job.facts())
    measured = metrics.prometheus_p95(target_job)
    _assert_at_most(measured, judgements.p95, golive_settings.document.thresholds)


def _baseline_sample(request, gate1_baseline, target_sample):
    """The live environment's sample from the Gate 1 baseline, if it measured what this run measured."""
    __tracebackhide__ = True
    base = gate1_baseline.figures(request, "http")
    where = f"Gate 1 baseline of {gate1_baseline.data.get('environment')} at {gate1_baseline.where}"
    if list(base.get("paths") or []) != list(target_sample.sample.paths):
        fail_as_warning(request, f"the {where} sampled {base.get('paths')}, this run "
                                 f"{list(target_sample.sample.paths)} (http.sampling.paths, else the GET endpoints "
                                 "of http.endpoints): run Gate 1 again")
    return base, where


@pytest.mark.critical
def test_p95_within_baseline(request, gate1_baseline, target, target_sample, golive_settings, latency_picture):
    """Candidate's p95 not worse than the live baseline's by more than thresholds.p95_ratio_to_baseline."""
    base, where = _baseline_sample(request, gate1_baseline, target_sample)
    label = f"{gate1_baseline.data.get('environment')} (Gate 1 baseline)"
    latency_picture(label, {**base, "source": "sampled at Gate 1"})
    base_p95 = base.get("p95_ms")
    assert base_p95, f"the {where} has no p95 (none of its requests was answered); run Gate 1 again"
    allowed = golive_settings.document.thresholds.p95_ratio_to_baseline
    live = golive_settings.environment_by_role("live")
    margin = golive_settings.document.thresholds.p95_margin_ms
    compared = metrics.compare_p95(target.view, target_sample, base_p95, allowed, live, margin)
    assert compared.ratio is not None, f"{compared.candidate.describe()}; the {where} has p95 {base_p95:.1f} ms"
    # The live figure alone: its detail would name the sampled paths again and push the limits out of the message.
    now = f" and {compared.live_now.figure} of {live.name} now (sampled)" if compared.live_now and live else ""
    assert compared.ok, (
        f"{compared.candidate.describe()} is {compared.ratio:.2f}x the larger of the p95 "
        f"{base_p95:.1f} ms of the {where}{now}; allowed {allowed:g}x (thresholds.p95_ratio_to_baseline) or "
        f"{margin:g} ms more (thresholds.p95_margin_ms)"
    )


@pytest.mark.critical
def test_error_ratio_within_baseline(request, gate1_baseline, target_sample, golive_settings):
    """Candidate's error ratio not above the live baseline's by more than thresholds.error_rate_margin."""
    base, where = _baseline_sample(request, gate1_baseline, target_sample)
    margin = golive_settings.document.thresholds.error_rate_margin
    measured = target_sample.error_ratio
    base_ratio = float(base.get("error_ratio", 1.0))
    assert measured.value <= base_ratio + margin, (
        f"{measured.describe()} exceeds the error ratio {base_ratio:.4f} of the {where} by "
        f"{measured.value - base_ratio:.4f}; allowed {margin:.4f} (thresholds.error_rate_margin)"
    )


@pytest.mark.data_integrity  # Gate 3 runs the same check
@pytest.mark.critical
@pytest.mark.requires("postgres.schema_version")
def test_schema_version_is_the_release(postgres, target):
    """Schema version as expected: postgres.schema_version.query returns postgres.schema_version.expect."""
    schema = target.view.postgres.schema_version
    version = pg.scalar(postgres, schema.query)
    assert str(version) == schema.expect, (
        f"{postgres.endpoint}: {schema.query!r} returned {version!r}; expected {schema.expect!r} "
        "(postgres.schema_version.expect)"
    )


@pytest.mark.extended  # Gate 3 runs the same check
@pytest.mark.critical
@pytest.mark.requires("rabbitmq.queues[].min_consumers")
def test_queues_have_consumers(rabbitmq, target):
    """The worker is consuming: every queue with min_consumers has at least that many consumers."""
    section = target.view.rabbitmq
    wanted = {name: policy.min_consumers for name, policy in section.queues.items() if policy.min_consumers}
    short = []
    for name, minimum in wanted.items():
        judged = judgements.queue_consumers(name, rabbitmq_probe.queue_state(rabbitmq, name).consumers, minimum)
        if not judged.ok:
            short.append(f"{name} has {judged.seen}, expected {judged.limit}")
    assert not short, (
        f"rabbitmq {rabbitmq_probe.endpoint(section.url)}: {'; '.join(short)} (rabbitmq.queues.<name>.min_consumers)"
    )


@pytest.mark.critical
@pytest.mark.component("rabbitmq")
@pytest.mark.requires("rabbitmq.queues")
def test_dead_letter_queues_not_growing(request, target, gate1_baseline, golive_settings):
    """Dead-letter queues not growing: by at most thresholds.dlq_growth since Gate 1, and while golive watches."""
    section = target.view.rabbitmq
    queues = metrics.dead_letter_queues(section.queues)
    if not queues:  # decided from the configuration alone, before the broker is connected
        not_configured("dead-letter queues in rabbitmq.queues (a name ending .dlq, or max_messages 0)")
    rabbitmq = request.getfixturevalue("rabbitmq")
    allowed = golive_settings.document.thresholds.dlq_growth
    depths = metrics.queue_growth(
        lambda name: rabbitmq_probe.queue_state(rabbitmq, name).messages, queues, DLQ_OBSERVATION_S
    )
    where = f"rabbitmq {rabbitmq_probe.endpoint(section.url)}"
    growing = [f"{name} went from {before} to {after} messages in {DLQ_OBSERVATION_S:g}s"
               for name, (before, after) in depths.items() if after - before > allowed]  # fmt: skip
    assert not growing, f"{where}: {'; '.join(growing)}; allowed growth {allowed} (thresholds.dlq_growth)"
    at_gate1 = gate1_baseline.figures(request, "queue_depths")  # no baseline: fails as a warning
    then = {name: (at_gate1.get(name) or {}).get("messages") for name in queues}
    grown = [f"{name} has {now} messages, {now - then[name]} more than at Gate 1 ({then[name]})"
             for name, (_before, now) in depths.items() if then[name] is not None and now - then[name] > allowed]
    assert not grown, f"{where}: {'; '.join(grown)}; allowed growth {allowed} (thresholds.dlq_growth)"
    unknown = [name for name in queues if then[name] is None]
    if unknown:
        fail_as_warning(request, f"the Gate 1 baseline at {gate1_baseline.where} has no depth of "
                                 f"{', '.join(unknown)}: run Gate 1 again")  # fmt: skip


@pytest.mark.critical
@pytest.mark.component("http")
@pytest.mark.requires("synthetic")
def test_synthetic_transaction(target, postgres, golive_settings):
    """A synthetic transaction goes end to end: created through the API, consumed, in PostgreSQL and in the API."""
    section = golive_settings.document.synthetic
    deadline_s = golive_settings.document.thresholds.synthetic_deadline_s
    transaction = synthetic.run(target.http, postgres, section, deadline_s)
    assert transaction.ok, transaction.describe()
