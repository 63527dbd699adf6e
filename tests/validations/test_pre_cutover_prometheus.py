"""Gate 2's Prometheus checks against a real Prometheus scraping real services in each library's naming: the job
is found without prometheus.jobs and the preset detected (both named in the record); 20 % 5xx is NO-GO from the
Prometheus figure; a query whose label the service does not have, a crashed target and an unreachable Prometheus
are errors, never a pass or a skip."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from golive.promql import PRESET_NAMES
from tests.support.gates import minimal_config
from tests.support.polling import wait_for
from tests.support.prometheus import Exporter, private_prometheus, targets

FILE = "validations/test_pre_cutover.py"
CHECKS = ("test_error_ratio_prometheus", "test_p95_prometheus")


class Fleet:
    def __init__(self) -> None:
        self.healthy = {name: Exporter(name) for name in PRESET_NAMES}
        self.failing = {name: Exporter(name, error_rate=0.2) for name in PRESET_NAMES}
        self.crashing = Exporter("golive")
        self.prometheus = ""

    def jobs(self) -> dict[str, str]:
        jobs = {f"svc-{name}": e.host_port for name, e in self.healthy.items()}
        jobs |= {f"svc-{name}-5xx": e.host_port for name, e in self.failing.items()}
        return jobs | {"svc-crashing": self.crashing.host_port}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleet = Fleet()
    with private_prometheus(tmp_path_factory.mktemp("prometheus"), fleet.jobs()) as url:
        fleet.prometheus = url
        # A running service has served requests before a gate looks: a naming whose histogram series appear only
        # with a first request (golive's) otherwise has a single scrape of them in the window, from which
        # Prometheus can compute no rate, when golive's sample happens to fall between two scrapes.
        for exporter in [*fleet.healthy.values(), *fleet.failing.values()]:
            for _ in range(5):
                httpx.get(f"{exporter.url}/health", timeout=3)
        served = datetime.now(UTC)

        def scraped_twice_since() -> bool:  # the scrape that first saw the new series, and one more (every second)
            return all(datetime.fromisoformat(t["lastScrape"]) > served + timedelta(seconds=1.05) for t in targets(url))

        wait_for("two scrapes of every target after its first requests", scraped_twice_since, 20)
        yield fleet
    for exporter in [*fleet.healthy.values(), *fleet.failing.values(), fleet.crashing]:
        exporter.crash()


def config_for(tmp_path: Path, prometheus_url: str, blue_url: str, **extra: object) -> Path:
    changes = {
        "environments.blue.url": blue_url,
        "prometheus": {"url": prometheus_url, "window": "10s"},
        "thresholds.error_rate": 0.01,
        "thresholds.p95_ms": 500,
        **{key.replace("__", "."): value for key, value in extra.items()},
    }
    return minimal_config(tmp_path / "golive.yaml", changes)


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_each_preset_healthy_passes_with_job_and_preset_found_and_named(fleet, run_gate, tmp_path, preset):
    config = config_for(tmp_path, fleet.prometheus, fleet.healthy[preset].url)  # no prometheus.jobs, no preset
    run = run_gate(config, "immediate", FILE, "-k", "prometheus")
    assert run.partial_go, run.record["reasons"]
    for name in CHECKS:
        check = run.check(name)
        assert check["outcome"] == "passed", check
        noted = check["facts"]["prometheus"]
        assert (noted["job"], noted["preset"]) == (f"svc-{preset}", preset), noted
        assert noted["job_from"] == (f"discovered: target {fleet.healthy[preset].host_port} at "
                                     f"{fleet.healthy[preset].host_port} (environments.blue.url)")  # fmt: skip
        assert noted["preset_from"].startswith("detected: "), noted


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_each_preset_at_20_percent_5xx_is_no_go_from_the_prometheus_figure(fleet, run_gate, tmp_path, preset):
    config = config_for(tmp_path, fleet.prometheus, fleet.failing[preset].url,
                        prometheus__jobs={"blue": f"svc-{preset}-5xx"})  # fmt: skip
    run = run_gate(config, "immediate", FILE, "-k", "error_ratio_prometheus")
    assert run.code == 2
    check = run.check("test_error_ratio_prometheus")
    assert check["outcome"] == "failed", check
    match = re.fullmatch(
        rf"error ratio (0\.\d{{4}}) \(prometheus: job svc-{preset}-5xx over 10s at {fleet.prometheus}\)"
        r" exceeds 0\.0100 \(thresholds\.error_rate\)",
        check["message"],
    )
    assert match and 0.15 <= float(match[1]) <= 0.25, check["message"]
    assert check["facts"]["prometheus"]["job_from"] == "prometheus.jobs.blue"
    assert check["facts"]["prometheus"]["preset"] == preset


def test_a_query_on_a_label_the_service_lacks_is_no_go_naming_the_metric_and_its_labels(fleet, run_gate, tmp_path):
    """The fail-open of old: `status` on a service labelled `status_code`, at 20 % 5xx, read as 0 and passed."""
    query = ('(sum(rate(http_requests_total{{job="{job}",status=~"5.."}}[{window}])) or vector(0))'
             ' / sum(rate(http_requests_total{{job="{job}"}}[{window}]))')  # fmt: skip
    p95 = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{job="{job}"}}[{window}])))'
    config = config_for(tmp_path, fleet.prometheus, fleet.failing["node"].url,
                        prometheus__queries={"error_ratio": query, "p95_ms": p95})  # fmt: skip
    run = run_gate(config, "immediate", FILE, "-k", "prometheus")
    assert run.code == 2
    check = run.check("test_error_ratio_prometheus")
    assert check["outcome"] == "error", check["message"]
    assert check["message"] == (
        f"ProbeError: prometheus at {fleet.prometheus}/api/v1/query: "
        'http_requests_total{job="svc-node-5xx",status=~"5.."} (prometheus.queries.error_ratio) matches no series: '
        "http_requests_total of job svc-node-5xx has no label status; its labels: instance, job, method, route, "
        "status_code"
    )
    # A metric the service does not have (it names its histogram api_request_duration_seconds): its labels and
    # request metrics are listed.
    check = run.check("test_p95_prometheus")
    assert check["outcome"] == "error", check["message"]
    assert check["message"].endswith(
        'http_request_duration_seconds_bucket{job="svc-node-5xx"} (prometheus.queries.p95_ms) matches no series: '
        "job svc-node-5xx has no http_request_duration_seconds_bucket; it has api_request_duration_seconds_bucket, "
        "api_request_duration_seconds_count, api_request_duration_seconds_sum, http_requests_total and 7 more; its "
        "labels: environment, instance, job, le, method, route, status_code, version"
    ), check["message"]


def test_a_crashed_target_makes_the_prometheus_checks_error_not_pass_on_old_data(fleet, run_gate, tmp_path):
    blue = fleet.crashing
    config = config_for(tmp_path, fleet.prometheus, blue.url)
    blue.crash()  # Prometheus still holds its healthy figures of the last 10 s
    run = run_gate(config, "immediate", FILE, "-k", "prometheus")
    assert run.code == 2
    for name in CHECKS:
        check = run.check(name)
        assert check["outcome"] == "error", check
        assert f"job svc-crashing: target {blue.host_port} is down at its last scrape" in check["message"], check
    wait_for("Prometheus marks the crashed target down",
             lambda: any(t["labels"]["job"] == "svc-crashing" and t["health"] == "down"
                         for t in targets(fleet.prometheus)))  # fmt: skip
    scrape = run_gate(config, "pre", "validations/test_infrastructure.py", "-k", "prometheus_scrapes_candidate")
    check = scrape.check("test_prometheus_scrapes_candidate")
    assert check["outcome"] == "failed" and check["facts"]["prometheus"]["job"] == "svc-crashing", check
    assert f"job 'svc-crashing' (blue): {blue.host_port} down" in check["message"]


def test_unfound_job_and_unreachable_prometheus_error_never_skip(fleet, run_gate, tmp_path, closed_port):
    # Blue at an address no target scrapes: the checks name prometheus.jobs.blue and list the jobs there are.
    config = config_for(tmp_path, fleet.prometheus, f"http://127.0.0.1:{closed_port}")
    run = run_gate(config, "immediate", FILE, "-k", "prometheus")
    assert run.code == 2
    for name in CHECKS:
        check = run.check(name)
        assert check["outcome"] == "error", check
        assert (f"no scrape target is at 127.0.0.1:{closed_port} (environments.blue.url): set prometheus.jobs.blue "
                "to the job scraping blue; Prometheus has the jobs svc-crashing, svc-go, ") in check["message"]
    # A configured Prometheus that does not answer: an error, never "not configured".
    unreachable = config_for(tmp_path, f"http://127.0.0.1:{closed_port}", fleet.healthy["golive"].url)
    run = run_gate(unreachable, "immediate", FILE, "-k", "prometheus")
    assert run.code == 2
    for name in CHECKS:
        check = run.check(name)
        assert check["outcome"] == "error", check
        assert f"prometheus at http://127.0.0.1:{closed_port}/api/v1/targets: cannot connect" in check["message"]
