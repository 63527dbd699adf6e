"""Blue environment validation: the candidate's app runs, listens, answers its API, logs no errors, has headroom.

These run on the environment under test (``--env``, default the candidate). Health, SELECT 1, RabbitMQ and
Redis are checked in the application health and backing services areas. Endpoints, the log and resource use
are checked again after the cutover (``extended``, Gate 3), with the same thresholds.
"""

from urllib.parse import urlsplit

import pytest

from golive import judgements
from golive.fixtures import not_configured
from golive.probes import host as host_probe
from golive.probes import http as http_probe

pytestmark = pytest.mark.pre


def _app_processes(target):
    """The target's app processes on its host; the check fails when none runs."""
    if target.view.process is None:
        not_configured(f"environments.{target.name}.process")
    found = host_probe.processes_matching(target.host, target.view.process)
    assert found, (
        f"no process on {host_probe.name_of(target.host)} has {target.view.process!r} in its command line; "
        f"expected {target.name}'s app running"
    )
    return found


@pytest.mark.critical
@pytest.mark.component("host")
def test_app_process_running(target):
    """Blue application running: its process is on the host."""
    _app_processes(target)


@pytest.mark.critical
@pytest.mark.component("host")
def test_app_port_listening(target):
    """Blue application running: something listens on the port of its URL."""
    if target.view.process is None:  # the app's host is only known to be this one when its process is named
        not_configured(f"environments.{target.name}.process")
    parts = urlsplit(target.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    assert host_probe.is_listening(target.host, port), (
        f"nothing listens on TCP port {port} on {host_probe.name_of(target.host)}; expected {target.name}'s app "
        f"serving {target.url}"
    )


@pytest.mark.critical
@pytest.mark.extended
def test_every_endpoint_answers_an_accepted_status(target):
    """Every API endpoint answers an accepted status (http.endpoints, e.g. 200 or 401)."""
    endpoints = target.view.http.endpoints
    if not endpoints:
        not_configured("http.endpoints")
    wrong = []
    for endpoint in endpoints:
        response = http_probe.request(target.http, endpoint.method, endpoint.path)
        judged = judgements.endpoint(response.status_code, endpoint.expect)
        if not judged.ok:
            wrong.append(f"{endpoint.method} {endpoint.path} answered {judged.seen} (expected {judged.limit})")
    assert not wrong, f"{target.url}: {'; '.join(wrong)}"


@pytest.mark.component("host")
@pytest.mark.extended
def test_no_errors_in_recent_log(target, golive_settings):
    """No errors in blue's recent log: at most thresholds.log_error_lines error lines in its tail."""
    if target.view.log_file is None:
        not_configured(f"environments.{target.name}.log_file")
    thresholds = golive_settings.document.thresholds
    seen = host_probe.log_errors(target.host, target.view.log_file, thresholds.log_tail_lines)
    assert len(seen.errors) <= thresholds.log_error_lines, (
        f"{host_probe.name_of(target.host)}:{target.view.log_file}: {len(seen.errors)} error line(s) in the last "
        f"{seen.lines_read} lines, allowed {thresholds.log_error_lines} (thresholds.log_error_lines); "
        f"first: {seen.first}"
    )


@pytest.mark.component("host")
@pytest.mark.extended
def test_memory_below_threshold(target, golive_settings):
    """Memory below thresholds.memory_ratio: the app's resident memory against the host's total."""
    processes = _app_processes(target)
    used = host_probe.usage(target.host, (p.pid for p in processes), cpu=False)
    judged = judgements.memory(used.memory_ratio, golive_settings.document.thresholds)
    assert judged.ok, (
        f"{target.name}'s app (pids {', '.join(map(str, used.pids))}) on {host_probe.name_of(target.host)} uses "
        f"{used.rss_bytes / 2**20:.0f} MiB, {judged.seen} of {used.mem_total_bytes / 2**20:.0f} MiB; "
        f"allowed {judged.limit} ({judged.key})"
    )


@pytest.mark.component("host")
@pytest.mark.extended
def test_cpu_below_threshold(target, golive_settings):
    """CPU below thresholds.cpu_ratio: the app's CPU use over a short sample, as a share of the host's CPUs."""
    processes = _app_processes(target)
    used = host_probe.usage(target.host, (p.pid for p in processes))
    judged = judgements.cpu(used.cpu_ratio, golive_settings.document.thresholds)
    assert judged.ok, (
        f"{target.name}'s app (pids {', '.join(map(str, used.pids))}) on {host_probe.name_of(target.host)} used "
        f"{judged.seen} of {used.cpus} CPU(s) over {used.sample_s:.1f} s; allowed {judged.limit} ({judged.key})"
    )
