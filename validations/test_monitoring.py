"""Monitoring and observability: Prometheus answering, alert rules, CloudWatch alarms and log groups.

Prometheus scraping blue (its targets up) is checked once, in the infrastructure readiness area.
"""

import pytest

from golive.fixtures import attestation_params, not_configured
from golive.probes import cloud

pytestmark = pytest.mark.pre


@pytest.mark.critical
def test_prometheus_answers_queries(prometheus):
    """Prometheus is reachable and answers queries (the cutover watch and rollback triggers read it)."""
    assert prometheus.scalar("vector(1)") == 1.0, f"Prometheus at {prometheus.url} answered vector(1) wrongly"


@pytest.mark.requires("prometheus.alert_rules")
def test_alert_rules_loaded(prometheus, target):
    """Alert rules configured: every rule named in prometheus.alert_rules is loaded."""
    wanted = target.view.prometheus.alert_rules
    missing = sorted(set(wanted) - prometheus.rule_names())
    assert not missing, f"Prometheus at {prometheus.url} has not loaded the rule(s) {', '.join(missing)}"


def _alarms(aws, target):
    names = target.view.aws.alarms
    if not names:
        not_configured("aws.alarms")
    return names, cloud.alarm_states(aws.client("cloudwatch"), names)


def test_cloudwatch_alarms_exist(aws, target):
    """Alerting configured: every CloudWatch alarm named in aws.alarms exists."""
    names, states = _alarms(aws, target)
    missing = [name for name in names if name not in states]
    assert not missing, f"CloudWatch at {aws.endpoint_url or aws.region} has no alarm {', '.join(missing)}"


@pytest.mark.critical
def test_no_cloudwatch_alarm_firing(aws, target):
    """No configured CloudWatch alarm is in ALARM before the deployment starts."""
    _names, states = _alarms(aws, target)
    firing = sorted(name for name, state in states.items() if state == "ALARM")
    assert not firing, f"CloudWatch at {aws.endpoint_url or aws.region}: {', '.join(firing)} in ALARM; expected OK"


def test_log_groups_exist(aws, target):
    """Log groups exist: every CloudWatch Logs group named in aws.log_groups is there."""
    names = target.view.aws.log_groups
    if not names:
        not_configured("aws.log_groups")
    missing = [name for name in names if name not in cloud.existing_log_groups(aws.client("logs"), names)]
    assert not missing, f"CloudWatch Logs at {aws.endpoint_url or aws.region} has no log group {', '.join(missing)}"


@pytest.mark.parametrize("item", attestation_params(__file__))
def test_signed(item, attestations):
    """A person in an allowed role has signed this checklist item for the release."""
    attestations.assert_signed(item)
