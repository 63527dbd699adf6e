"""Application and code: the release is versioned, tagged, built, scanned and small enough to ship."""

from pathlib import Path

import pytest

from golive import versions
from golive.fixtures import attestation_params, not_configured
from golive.probes import ecr as ecr_probe
from golive.probes import git as git_probe

pytestmark = pytest.mark.pre


@pytest.mark.component("config")
def test_version_is_semantic_and_newer(golive_settings):
    """Version is semantic and correct: release.version parses as semver and is newer than release.previous."""
    release = golive_settings.release
    try:
        version = versions.parse(release.version)
    except ValueError as exc:
        pytest.fail(f"release.version: {exc}", pytrace=False)
    if release.previous is None:
        return
    try:
        previous = versions.parse(release.previous)
    except ValueError as exc:
        pytest.fail(f"release.previous: {exc}", pytrace=False)
    assert version > previous, (
        f"release.version {release.version} is not newer than release.previous {release.previous}"
    )


@pytest.mark.component("host")
def test_git_tag_exists(golive_settings):
    """Git tag for the release exists in the configured repository."""
    release = golive_settings.release
    if release.repository is None:
        not_configured("release.repository")
    repository = release.repository
    if "://" not in repository and not repository.startswith("git@"):
        repository = str(golive_settings.path.parent / Path(repository).expanduser())
    tag = release.tag_format.format(version=release.version)
    commit = git_probe.tag_commit(repository, tag, golive_settings.document.http.timeout_s)
    assert commit is not None, (
        f"git repository {repository} has no tag {tag} (release.tag_format {release.tag_format!r})"
    )


def _image(aws, target):
    image = target.view.aws.image
    if image is None:
        not_configured("aws.image")
    return image, aws.client("ecr")


@pytest.mark.critical
def test_image_pushed(aws, target):
    """Image built and pushed: the release tag exists in the ECR repository."""
    image, ecr = _image(aws, target)
    found = ecr_probe.image(ecr, image.repository, image.tag)
    assert found is not None, (
        f"ECR repository {image.repository} at {ecr.meta.endpoint_url} has no image tagged {image.tag}"
    )


@pytest.mark.critical
def test_image_scan_has_no_critical_findings(aws, target, golive_settings):
    """Image scan: no critical vulnerabilities in the release image's latest completed scan."""
    image, ecr = _image(aws, target)
    findings = ecr_probe.scan_findings(ecr, image.repository, image.tag)
    assert findings.status == "COMPLETE", (
        f"ECR scan of {image.repository}:{image.tag} is {findings.status} ({findings.description or 'no detail'}); "
        "expected a COMPLETE scan"
    )
    allowed = golive_settings.document.thresholds.image_critical_findings
    critical = findings.count("CRITICAL")
    counts = ", ".join(f"{name} {n}" for name, n in sorted(findings.severity_counts.items())) or "none"
    assert critical <= allowed, (
        f"ECR scan of {image.repository}:{image.tag} has {critical} critical findings (all: {counts}); "
        f"allowed {allowed} (thresholds.image_critical_findings)"
    )


def test_image_size_acceptable(aws, target):
    """Image size acceptable: the release image is smaller than aws.image.max_size_mb."""
    image, ecr = _image(aws, target)
    found = ecr_probe.image(ecr, image.repository, image.tag)
    assert found is not None, f"ECR repository {image.repository} has no image tagged {image.tag}"
    assert found.size_bytes is not None, f"ECR reports no size for {image.repository}:{image.tag}"
    size_mb = found.size_bytes / 1_048_576
    assert size_mb < image.max_size_mb, (
        f"image {image.repository}:{image.tag} is {size_mb:.1f} MB ({found.size_bytes} bytes); "
        f"allowed under {image.max_size_mb:g} MB (aws.image.max_size_mb)"
    )


@pytest.mark.parametrize("item", attestation_params(__file__))
def test_signed(item, attestations):
    """A person in an allowed role has signed this checklist item for the release."""
    attestations.assert_signed(item)
