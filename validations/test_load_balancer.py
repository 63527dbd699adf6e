"""Load balancer: both environments' pools exist, all traffic still goes to green, blue's targets are registered."""

import pytest

from golive.probes import load_balancer as lb_probe

pytestmark = pytest.mark.pre


@pytest.fixture(scope="module")
def balancer(load_balancer, target):
    """The configured load balancer (ALB through boto3, HAProxy through its admin socket)."""
    return lb_probe.connect(load_balancer, target.view.aws, target.view.timeout_s("aws"))


@pytest.mark.critical
def test_both_pools_exist(balancer):
    """Both target groups exist: one for blue and one for green."""
    missing = [f"{env} ({pool.name})" for env in lb_probe.ENVIRONMENTS if not (pool := balancer.pool(env)).exists]
    assert not missing, f"load balancer {balancer.where}: no pool for {', '.join(missing)}"


@pytest.mark.critical
@pytest.mark.final
def test_initial_weights_all_traffic_on_live(balancer, live, candidate):
    """Load balancer in its initial state: green (live) weight 100, blue (candidate) weight 0."""
    weights = balancer.weights()
    shares = lb_probe.traffic_shares(weights)
    seen = ", ".join(f"{env} {weights.get(env, 0)} ({shares.get(env, 0.0):.0f}%)" for env in sorted(weights))
    assert shares.get(candidate.name, 0.0) == 0.0 and shares.get(live.name, 0.0) == 100.0, (
        f"load balancer {balancer.where} weights {seen}; expected {live.name} 100%, {candidate.name} 0%"
    )


def test_candidate_targets_registered(balancer, candidate):
    """Blue's targets are registered with the load balancer."""
    pool = balancer.pool(candidate.name)
    assert pool.exists, f"load balancer {balancer.where}: no pool for {candidate.name} ({pool.name})"
    assert pool.targets, f"load balancer {balancer.where}: {pool.name} ({candidate.name}) has no registered target"
