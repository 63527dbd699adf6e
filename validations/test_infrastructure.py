"""Infrastructure readiness: both environments up, the live baseline captured, the platform around them ready."""

from datetime import UTC, datetime

import pytest

from golive import baseline as baseline_store
from golive import expect, facts, metrics
from golive.fixtures import attestation_params, not_configured
from golive.probes import dns as dns_probe
from golive.probes import load_balancer as lb_probe
from golive.probes import s3 as s3_probe
from golive.probes import tls as tls_probe
from golive.run import gate_run

pytestmark = pytest.mark.pre


@pytest.fixture(scope="session")
def reports_dir(request):
    """The gate's reports directory (where the baseline is kept for later gates)."""
    return gate_run(request.config).reports_dir


@pytest.mark.critical
@pytest.mark.final
def test_candidate_answers(candidate, request):
    """Blue environment provisioned and answering: its health endpoint says it is healthy."""
    expect.healthy(candidate, request)


@pytest.mark.critical
@pytest.mark.final
def test_live_is_healthy_on_the_previous_release(live, request):
    """Green (live) healthy: its health endpoint says so and it reports release.previous."""
    expect.runs_expected_version(live, expect.healthy(live, request))


@pytest.mark.critical
def test_live_baseline_captured(live, golive_settings, reports_dir, latency_picture):
    """Green (live) baseline captured: latency, error ratio, row counts and queue depths saved for later gates."""
    measured = baseline_store.capture(golive_settings, live.view)
    sample = measured["http"]
    latency_picture(f"{live.name} (live baseline)", {**sample, "source": "sampled"})
    problems = baseline_store.shortcomings(golive_settings, live.view, measured)
    if problems:  # not a measurement of normal: the earlier good baseline of this live environment stays
        identity = measured["identity"]
        path = baseline_store.path_for(reports_dir, golive_settings.release.version, identity)
        kept = baseline_store.load(reports_dir, golive_settings.release.version, identity, golive_settings.masker)
        stays = (f"the earlier baseline captured {kept.get('captured_at')} stays in use ({path})" if kept is not None
                 else f"no earlier baseline of {baseline_store.describe(identity)} exists ({path})")
        assert not problems, f"{'; '.join(problems)}; not saved: {stays}"
    path = baseline_store.save(measured, reports_dir, golive_settings.masker)
    facts.note("baseline", {"path": str(path), "captured_at": measured["captured_at"], **measured["identity"]})


@pytest.mark.final
@pytest.mark.component("http")
@pytest.mark.parametrize("role", ["candidate", "live"])
def test_dependencies_reported_ok(role, request):
    """Components can reach each other: the environment's health reports database, rabbitmq and redis healthy."""
    expect.dependencies_ok(request.getfixturevalue(role))


def test_load_balancer_health_checks_configured(load_balancer, target):
    """Load balancer health checks configured: every environment's pool is health-checked (on the health path)."""
    balancer = lb_probe.connect(load_balancer, target.view.aws, target.view.timeout_s("aws"))
    problems = []
    for env in lb_probe.ENVIRONMENTS:
        pool = balancer.pool(env)
        check = pool.health_check
        expected_path = target.view.http.health_path
        if not pool.exists:
            problems.append(f"{env}: {pool.name} does not exist")
        elif check is None or not check.enabled:
            problems.append(f"{env}: {pool.name} has no health check")
        elif check.path is not None and check.path != expected_path:
            problems.append(f"{env}: {pool.name} checks {check.path}, expected {expected_path} (http.health_path)")
    assert not problems, f"load balancer {balancer.where}: {'; '.join(problems)}"


def test_dns_ttl_low_for_switchover(aws, target, golive_settings):
    """DNS TTL lowered (at most thresholds.dns_max_ttl_s) when a DNS switchover is planned."""
    dns = target.view.aws.dns
    if dns is None:
        not_configured("aws.dns")
    allowed = golive_settings.document.thresholds.dns_max_ttl_s
    records = dns_probe.record_sets(aws.client("route53"), dns.zone_id, dns.record)
    too_long = [f"{r.label} TTL {r.ttl}s" for r in records if r.ttl is not None and r.ttl > allowed]
    assert not too_long, (
        f"route53 zone {dns.zone_id}: {', '.join(too_long)}; allowed {allowed}s (thresholds.dns_max_ttl_s)"
    )


@pytest.mark.component("http")
def test_tls_certificates_valid(golive_settings):
    """TLS certificates of the https endpoints valid for more than thresholds.cert_min_days."""
    urls = [view.url for view in golive_settings.environments.values()]
    if golive_settings.document.security is not None:
        urls += golive_settings.document.security.public_urls
    https = list(dict.fromkeys(url for url in urls if url.lower().startswith("https://")))
    if not https:
        not_configured("https endpoints")
    minimum = golive_settings.document.thresholds.cert_min_days
    http_settings = golive_settings.document.http
    problems = []
    now = datetime.now(UTC)
    for url in https:
        certificate = tls_probe.certificate(url, http_settings.timeout_s, verify=http_settings.verify_tls)
        days = certificate.days_left(now)
        if days <= minimum:
            problems.append(
                f"{certificate.endpoint} ({certificate.subject}) expires {certificate.not_after:%Y-%m-%d}, "
                f"in {days:.1f} days"
            )
    assert not problems, f"{'; '.join(problems)}; required more than {minimum} days (thresholds.cert_min_days)"


def test_prometheus_scrapes_candidate(prometheus, candidate):
    """Monitoring agents on blue: every Prometheus target of blue's scrape job is up."""
    if candidate.view.prometheus is None:
        not_configured(f"prometheus for {candidate.name}")
    job, job_from = metrics.resolve_job(prometheus, candidate.view.prometheus, candidate.name, candidate.url)
    facts.note("prometheus", {"job": job, "job_from": job_from})
    targets = [t for t in prometheus.targets() if t["job"] == job]
    assert targets, f"prometheus {prometheus.url} has no active target in job {job!r} ({candidate.name})"
    down = [f"{t['instance']} {t['health']} ({t['lastError'] or 'no error text'})" for t in targets
            if t["health"] != "up"]
    assert not down, f"prometheus {prometheus.url} job {job!r} ({candidate.name}): {', '.join(down)}; expected up"


@pytest.mark.critical
def test_backups_recent_and_not_empty(aws, target):
    """Backups operational: the newest backup object is younger than aws.backups.max_age_h and not empty."""
    backups = target.view.aws.backups
    if backups is None:
        not_configured("aws.backups")
    newest = s3_probe.newest_object(aws.client("s3"), backups.bucket, backups.prefix)
    assert newest is not None, f"no backup object under s3://{backups.bucket}/{backups.prefix}"
    age_h = newest.age_h()
    assert age_h < backups.max_age_h, (
        f"newest backup {newest.uri} is {age_h:.1f} h old (modified {newest.last_modified:%Y-%m-%dT%H:%MZ}); "
        f"allowed {backups.max_age_h:g} h (aws.backups.max_age_h)"
    )
    assert newest.size_bytes > 0, f"newest backup {newest.uri} is empty (0 bytes)"


@pytest.mark.parametrize("item", attestation_params(__file__))
def test_signed(item, attestations):
    """A person in an allowed role has signed this checklist item for the release."""
    attestations.assert_signed(item)
