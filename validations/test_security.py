"""Security and compliance: encryption in transit, HSTS, secrets rotated, no hard-coded secrets, sign-offs."""

from urllib.parse import urlsplit

import pytest

from golive.fixtures import attestation_params, not_configured
from golive.probes import cloud, secrets_scan
from golive.probes import http as http_probe

pytestmark = pytest.mark.pre


def _public_urls(golive_settings):
    security = golive_settings.document.security
    if security is None or not security.public_urls:
        not_configured("security.public_urls")
    return security.public_urls


@pytest.mark.critical
@pytest.mark.component("http")
def test_public_urls_use_https(golive_settings):
    """Encryption in transit: every public endpoint is served over https."""
    plain = [url for url in _public_urls(golive_settings) if urlsplit(url).scheme != "https"]
    assert not plain, f"security.public_urls served over plain http: {', '.join(plain)}; expected https"


@pytest.mark.component("http")
def test_public_urls_send_hsts(golive_settings):
    """HSTS headers configured: every https public endpoint sends Strict-Transport-Security."""
    https_urls = [url for url in _public_urls(golive_settings) if urlsplit(url).scheme == "https"]
    if not https_urls:
        not_configured("https URLs in security.public_urls")
    section = golive_settings.document.http
    missing = []
    for url in https_urls:
        with http_probe.client_for(url, section) as client:
            response = http_probe.request(client, "GET", "")
        if not response.headers.get("strict-transport-security"):
            missing.append(f"{url} (HTTP {response.status_code})")
    assert not missing, f"no Strict-Transport-Security header from {', '.join(missing)}; expected one on each"


def _secrets(aws, target):
    names = target.view.aws.secrets if target.view.aws else []
    if not names:
        not_configured("aws.secrets")
    client = aws.client("secretsmanager")
    return [cloud.secret_state(client, name) for name in names]


@pytest.mark.critical
def test_secrets_exist_and_are_not_scheduled_for_deletion(aws, target):
    """Secrets deployed: every configured Secrets Manager secret exists and is not scheduled for deletion."""
    problems = [
        f"{s.name}: does not exist" if not s.exists else f"{s.name}: scheduled for deletion on {s.deletion_date:%F}"
        for s in _secrets(aws, target)
        if not s.exists or s.deletion_date is not None
    ]
    assert not problems, f"Secrets Manager at {aws.endpoint_url or aws.region}: {'; '.join(problems)}"


def test_secrets_rotated_within_window(aws, golive_settings, target):
    """Secrets rotated and deployed: every secret changed within thresholds.secret_max_age_days."""
    max_age = golive_settings.document.thresholds.secret_max_age_days
    stale = []
    for state in _secrets(aws, target):
        if not state.exists:
            continue  # reported by the existence check
        age = state.age_days()
        if age is None:
            stale.append(f"{state.name}: no change or rotation date")
        elif age > max_age:
            stale.append(f"{state.name}: last changed {age:.1f} days ago ({state.changed_at:%Y-%m-%d})")
    assert not stale, f"secrets older than {max_age:g} days (thresholds.secret_max_age_days): {'; '.join(stale)}"


@pytest.mark.critical
@pytest.mark.component("config")
def test_no_hard_coded_secrets(golive_settings):
    """No hard-coded secrets: detect-secrets finds nothing in security.source_paths."""
    security = golive_settings.document.security
    if security is None or not security.source_paths:
        not_configured("security.source_paths")
    base = golive_settings.path.parent
    scanned, findings = secrets_scan.scan(base / path for path in security.source_paths)
    shown = "; ".join(str(finding) for finding in findings[:10])
    more = f" and {len(findings) - 10} more" if len(findings) > 10 else ""
    assert not findings, (
        f"detect-secrets found {len(findings)} hard-coded secret(s) in {scanned} files of security.source_paths: "
        f"{shown}{more}; expected none (a reviewed false positive takes a `pragma: allowlist secret` comment)"
    )


@pytest.mark.parametrize("item", attestation_params(__file__))
def test_signed(item, attestations):
    """A person in an allowed role has signed this checklist item for the release."""
    attestations.assert_signed(item)
