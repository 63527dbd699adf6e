"""Application health: the environment under test is up and runs the release being deployed."""

import pytest

from golive.probes import http as http_probe

pytestmark = [pytest.mark.pre, pytest.mark.immediate]


@pytest.mark.critical
def test_health_endpoint_reports_ok(target):
    """The environment's health endpoint answers 200 with status ok."""
    path = target.view.http.health_path
    health = http_probe.get_health(target.http, path)
    assert health.ok, (
        f"{target.url}{path} answered {health.status_code} with status {health.status!r}; expected 200 and 'ok'"
    )


@pytest.mark.critical
def test_version_is_the_release_under_test(target):
    """The environment reports the version it is expected to run (release.version for the candidate)."""
    assert target.expected_version, (
        f"environment {target.name} has no expected version: give it role candidate or live, or a version"
    )
    path = target.view.http.health_path
    health = http_probe.get_health(target.http, path)
    assert health.version == target.expected_version, (
        f"{target.url}{path} reports version {health.version!r}; expected {target.expected_version!r}"
    )
