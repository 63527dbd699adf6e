"""Application health: the environment under test is up and runs the release being deployed."""

import pytest

from golive import expect

pytestmark = [pytest.mark.pre, pytest.mark.immediate]


@pytest.mark.critical
def test_health_endpoint_reports_ok(target, request):
    """The environment's health endpoint says it is healthy (in its own dialect; degraded is a REVIEW)."""
    expect.healthy(target, request)


@pytest.mark.critical
def test_version_is_the_release_under_test(target):
    """The environment reports the version it is expected to run (release.version for the candidate)."""
    expect.runs_expected_version(target, expect.read_health(target))
