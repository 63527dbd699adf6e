"""Application health: the environment under test is up and runs the release being deployed."""

import pytest

from golive import expect
from golive.probes import http as http_probe

pytestmark = [pytest.mark.pre, pytest.mark.immediate]


@pytest.mark.critical
def test_health_endpoint_reports_ok(target):
    """The environment's health endpoint answers 200 with status ok."""
    expect.healthy(target)


@pytest.mark.critical
def test_version_is_the_release_under_test(target):
    """The environment reports the version it is expected to run (release.version for the candidate)."""
    expect.runs_expected_version(target, http_probe.get_health(target.http, target.view.http.health_path))
