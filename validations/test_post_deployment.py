"""Post-deployment verification: the candidate serves all traffic, its log stays quiet, integrations and business
numbers hold.

Gate 3 (``extended``), after the cutover, on the environment under test (the candidate, now serving). Some of
Gate 3 is Gate 1 run again with the same thresholds: every endpoint, resource use and the warning level of log
errors (validations/test_blue_environment.py), database sessions and replication (validations/test_database.py).
Backing services are in test_post_deployment_services.py.
"""

from urllib.parse import urlsplit, urlunsplit

import pytest

from golive.fixtures import not_configured
from golive.masking import mask_url
from golive.probes import host as host_probe
from golive.probes import http as http_probe
from golive.probes import load_balancer as lb_probe
from golive.probes import postgres as pg
from golive.probes.errors import ProbeError

pytestmark = pytest.mark.extended


@pytest.fixture(scope="module")
def balancer(load_balancer, target):
    """The configured load balancer (ALB through boto3, HAProxy through its admin socket)."""
    return lb_probe.connect(load_balancer, target.view.aws, target.view.timeout_s("aws"))


# --- traffic ---------------------------------------------------------------------------------------------


@pytest.mark.critical
def test_load_balancer_sends_all_traffic_to_candidate(balancer, target):
    """Traffic switched: the load balancer gives the candidate all the weight (100%)."""
    weights = balancer.weights()
    shares = lb_probe.traffic_shares(weights)
    seen = ", ".join(f"{env} {weights.get(env, 0)} ({shares.get(env, 0.0):.0f}%)" for env in sorted(weights))
    assert shares.get(target.name, 0.0) == 100.0, (
        f"load balancer {balancer.where} weights {seen}; expected {target.name} 100%"
    )


@pytest.mark.critical
@pytest.mark.component("load_balancer")
def test_front_door_answers_from_candidate(load_balancer, target, golive_settings):
    """Users reach the new release: requests through the load balancer's front URL are answered by its version."""
    if load_balancer.front_url is None:
        not_configured("load_balancer.front_url")
    expected = target.expected_version
    assert expected, f"environment {target.name} has no expected version: give it role candidate or live, or a version"
    http_settings = target.view.http
    sample = lb_probe.front_door_versions(
        load_balancer.front_url,
        http_probe.version_path(http_settings),
        requests=http_settings.sampling.requests,
        timeout_s=http_settings.timeout_s,
        max_duration_s=http_settings.sampling.max_duration_s,
        verify_tls=http_settings.verify_tls,
        spec=http_probe.health_spec(http_settings),
    )
    tolerance = golive_settings.document.thresholds.traffic_tolerance
    share = sample.share(expected)
    answers = sample.describe() or "none"
    assert sample.completed and share >= 1 - tolerance, (
        f"{sample.url}: {share:.0%} of {sample.completed} answers came from {expected} ({answers}); "
        f"expected at least {1 - tolerance:.0%} (all traffic on {target.name}, less thresholds.traffic_tolerance)"
    )


# --- the candidate's log -----------------------------------------------------------------------------------


@pytest.mark.critical
@pytest.mark.component("host")
def test_recent_log_errors_below_critical_level(target, golive_settings):
    """Blue's recent log is not failing: fewer than thresholds.log_error_lines_critical error lines in its tail."""
    if target.view.log_file is None:
        not_configured(f"environments.{target.name}.log_file")
    thresholds = golive_settings.document.thresholds
    seen = host_probe.log_errors(target.host, target.view.log_file, thresholds.log_tail_lines)
    limit = thresholds.log_error_lines_critical
    assert len(seen.errors) < limit, (
        f"{host_probe.name_of(target.host)}:{target.view.log_file}: {len(seen.errors)} error line(s) in the last "
        f"{seen.lines_read} lines; a NO-GO from {limit} (thresholds.log_error_lines_critical); first: {seen.first}"
    )


# --- external integrations ----------------------------------------------------------------------------------


@pytest.mark.component("http")
def test_external_integrations_answer(target):
    """External integrations answer: each http.integrations URL answers one of its expected statuses."""
    http_settings = target.view.http
    if not http_settings.integrations:
        not_configured("http.integrations")
    wrong = []
    for integration in http_settings.integrations:
        expected = " or ".join(map(str, integration.expect))
        parts = urlsplit(integration.url)
        origin, path = f"{parts.scheme}://{parts.netloc}", urlunsplit(("", "", parts.path or "/", parts.query, ""))
        with http_probe.client_for(origin, http_settings) as client:
            try:
                status = http_probe.request(client, "GET", path).status_code
            except ProbeError as exc:
                wrong.append(f"{integration.name} ({exc.endpoint}): {exc.detail} (expected {expected})")
                continue
        if status not in integration.expect:
            wrong.append(f"{integration.name} ({mask_url(integration.url)}) answered {status} (expected {expected})")
    assert not wrong, "; ".join(wrong)


# --- business metrics ---------------------------------------------------------------------------------------


@pytest.mark.critical
@pytest.mark.requires("postgres.business_metrics")
def test_business_metrics_within_bounds(postgres, target):
    """Business metrics within bounds: each postgres.business_metrics value lies between its min and max."""
    problems = []
    for metric in target.view.postgres.business_metrics:
        value = pg.number(postgres, metric.sql)
        if value is None:
            problems.append(f"{metric.name} is NULL")
        elif metric.min is not None and value < metric.min:
            problems.append(f"{metric.name} is {value:g}, below its min {metric.min:g}")
        elif metric.max is not None and value > metric.max:
            problems.append(f"{metric.name} is {value:g}, above its max {metric.max:g}")
    assert not problems, f"{postgres.endpoint}: {'; '.join(problems)} (postgres.business_metrics)"


@pytest.mark.component("postgres")
@pytest.mark.requires("postgres.business_metrics[].max_drop_ratio")
def test_business_metrics_not_dropped_since_gate1(postgres, target, gate1_baseline, request):
    """Business metrics held up: none fell by more than its max_drop_ratio against the Gate 1 baseline."""
    watched = [metric for metric in target.view.postgres.business_metrics if metric.max_drop_ratio is not None]
    before = gate1_baseline.figures(request, "business_metrics")
    problems = []
    for metric in watched:
        was = before.get(metric.name)
        if was is None:
            problems.append(f"{metric.name} has no value in the baseline (run Gate 1 again)")
            continue
        now = pg.number(postgres, metric.sql)
        if now is None:
            problems.append(f"{metric.name} is NULL now, {was:g} at Gate 1")
        elif was > 0 and (was - now) / was > metric.max_drop_ratio:
            drop, allowed = (was - now) / was, metric.max_drop_ratio
            problems.append(f"{metric.name} fell from {was:g} to {now:g} ({drop:.0%}), allowed {allowed:.0%}")
    assert not problems, (
        f"{postgres.endpoint}: {'; '.join(problems)} (max_drop_ratio; {gate1_baseline.cited})"
    )
