"""Pre-cutover verification: the 50 % step, half of the traffic on each version (run with --golive-phase 50).

The weights are read from the load balancer (ALB or HAProxy); the traffic is a sample of requests sent through
``load_balancer.front_url``, counted by the version each answer reports on the health path.
"""

import pytest

from golive.fixtures import not_configured
from golive.probes import http as http_probe
from golive.probes import load_balancer as lb_probe

STEP = "50"
STEP_SHARE = 50.0  # percent of traffic on each environment at this step

pytestmark = [pytest.mark.immediate, pytest.mark.phase(STEP)]


@pytest.mark.critical
def test_weights_half_and_half(load_balancer, target):
    """Load balancer weights at the 50 % step: blue and green 50/50."""
    balancer = lb_probe.connect(load_balancer, target.view.aws, target.view.timeout_s("aws"))
    weights = balancer.weights()
    shares = lb_probe.traffic_shares(weights)
    seen = ", ".join(f"{env} {weights.get(env, 0)} ({shares.get(env, 0.0):.0f}%)" for env in lb_probe.ENVIRONMENTS)
    assert all(abs(shares.get(env, 0.0) - STEP_SHARE) < 0.5 for env in lb_probe.ENVIRONMENTS), (
        f"load balancer {balancer.where} weights {seen}; expected blue {STEP_SHARE:.0f}%, green {STEP_SHARE:.0f}% "
        f"(cutover step {STEP})"
    )


@pytest.mark.critical
def test_traffic_reaches_both_versions(load_balancer, target, blue, green, golive_settings):
    """Traffic through the front URL reaches both versions, each within thresholds.traffic_tolerance of 50 %."""
    if load_balancer.front_url is None:
        not_configured("load_balancer.front_url")
    versions = {env.name: env.expected_version for env in (blue, green)}
    assert None not in versions.values() and len(set(versions.values())) == 2, (
        f"cannot tell the environments apart by version ({versions}): give blue and green different versions"
    )
    http = target.view.http
    sample = lb_probe.front_door_versions(
        load_balancer.front_url, http_probe.version_path(http), http.sampling.requests, http.timeout_s,
        http.sampling.max_duration_s, http.verify_tls, spec=http_probe.health_spec(http),
    )  # fmt: skip
    tolerance = golive_settings.document.thresholds.traffic_tolerance
    off = [f"{env} ({version}) {sample.share(version):.0%}" for env, version in versions.items()
           if abs(sample.share(version) - STEP_SHARE / 100) > tolerance]  # fmt: skip
    assert sample.completed and not off, (
        f"{sample.completed} requests through {sample.url} answered {sample.describe() or 'nothing'}: "
        f"{', '.join(off)}; expected {STEP_SHARE:.0f}% each within {tolerance:.0%} (thresholds.traffic_tolerance)"
    )
