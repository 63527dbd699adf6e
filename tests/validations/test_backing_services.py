"""The repository's own validations against this machine's real PostgreSQL, RabbitMQ and Redis.

Each run is a real ``pytest -m pre`` in the repository root with a configuration written for the case: the
real services, a closed port, or a port that accepts connections and never answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.canned_http import CannedHTTP
from tests.support import REPO

PASSWORD = "Sup3r-s3cret-pw"
REAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
REAL_REDIS = "redis://127.0.0.1:6379/0"


ORCHESTRATOR_HEALTH = {"status": "ok", "version": "2.1.0", "uptime": 12.5, "database": "ok"}


@pytest.fixture
def health_app(canned_http: CannedHTTP) -> CannedHTTP:
    """A real HTTP server answering /health the way the orchestrator does; tests change its answer."""
    canned_http.answer("*", ORCHESTRATOR_HEALTH)
    return canned_http


@dataclass
class GateResult:
    code: int
    stdout: str
    stderr: str
    reports: Path

    def record(self) -> dict:
        return json.loads((self.reports / "latest-pre.json").read_text())

    def check(self, name: str) -> dict:
        return next(c for c in self.record()["checks"] if c["id"].endswith(name))

    def everything_written(self) -> str:
        files = "".join(p.read_text(errors="replace") for p in self.reports.rglob("*") if p.is_file())
        return self.stdout + self.stderr + files


def write_config(path: Path, url: str, pg: str = REAL_PG, amqp: str = REAL_AMQP, redis: str = REAL_REDIS,
                 timeout_s: float = 2) -> Path:
    path.write_text(
        f"""\
release: {{version: "2.1.0", previous: "2.0.5"}}
environments:
  blue: {{url: "{url}", role: candidate}}
http: {{timeout_s: {timeout_s}}}
postgres: {{dsn: "{pg}"}}
rabbitmq: {{url: "{amqp}"}}
redis: {{url: "{redis}"}}
"""
    )
    return path


def gate(tmp_path: Path, config: Path, *args: str, timeout: float = 120) -> GateResult:
    reports = tmp_path / "reports"
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    completed = subprocess.run(
        # Option values in the --opt=value form: pytest picks its rootdir before plugins add their options,
        # so a separate path argument outside the repository would move the rootdir.
        [sys.executable, "-m", "pytest", "-m", "pre", f"--golive-config={config}", f"--golive-reports={reports}",
         "-p", "no:cacheprovider", *PLUMBING, *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env=environ,
    )
    return GateResult(completed.returncode, completed.stdout, completed.stderr, reports)


XDIST = [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")]
# The checks that prove the plumbing end to end: health, version, PostgreSQL, RabbitMQ, Redis.
PLUMBING = ("validations/test_application_health.py", "validations/test_backing_services.py")


@pytest.mark.parametrize("xdist", XDIST)
def test_healthy_services_are_go(tmp_path, health_app, xdist):
    result = gate(tmp_path, write_config(tmp_path / "golive.yaml", health_app.url), *xdist)
    record = result.record()
    # Two files of Gate 1: a subset, so the partial REVIEW whose one reason is that it is partial (issue 11).
    assert result.code == 1 and record["verdict"] == "REVIEW", result.stdout
    assert record["partial"]["ran"] == 5 and len(record["reasons"]) == 1
    assert record["reasons"][0].startswith("partial: 5 of ")
    assert record["counts"]["passed"] == 5
    assert {c["component"] for c in record["checks"]} == {"http", "postgres", "rabbitmq", "redis"}


def test_postgres_on_a_closed_port_is_no_go_naming_the_endpoint(tmp_path, health_app, closed_port):
    pg = f"postgresql://golive:{PASSWORD}@127.0.0.1:{closed_port}/orchestrator"
    result = gate(tmp_path, write_config(tmp_path / "golive.yaml", health_app.url, pg=pg))
    assert result.code == 2
    check = result.check("test_postgres_answers_a_query")
    assert check["outcome"] == "error"
    assert f"127.0.0.1:{closed_port}" in check["message"]
    assert PASSWORD not in result.everything_written()


@pytest.mark.parametrize("xdist", XDIST)
def test_postgres_that_never_answers_is_no_go_within_its_timeout(tmp_path, health_app, hanging_port, xdist):
    """CONTRACT: a hung dependency cannot hang a gate; the password appears nowhere."""
    pg = f"postgresql://golive:{PASSWORD}@127.0.0.1:{hanging_port}/orchestrator"
    config = write_config(tmp_path / "golive.yaml", health_app.url, pg=pg, timeout_s=2)
    # The bound is the promise (2 s timeout, verdict within 10 s); a hang raises TimeoutExpired.
    result = gate(tmp_path, config, *xdist, timeout=10 if not xdist else 15)
    assert result.code == 2
    assert f"127.0.0.1:{hanging_port}" in result.stdout
    check = result.check("test_postgres_answers_a_query")
    assert check["outcome"] == "error" and f"127.0.0.1:{hanging_port}" in check["message"]
    assert PASSWORD not in result.everything_written()


def test_password_is_masked_even_with_showlocals(tmp_path, health_app, closed_port):
    pg = f"postgresql://golive:{PASSWORD}@127.0.0.1:{closed_port}/orchestrator"
    result = gate(tmp_path, write_config(tmp_path / "golive.yaml", health_app.url, pg=pg), "-l", "--tb=long",
                  "-rA", "-v")
    assert result.code == 2
    assert PASSWORD not in result.everything_written()
    assert "***" in result.stdout


@pytest.mark.parametrize(
    ("what", "port_fixture"),
    [("amqp", "closed_port"), ("amqp", "hanging_port"), ("redis", "closed_port"), ("redis", "hanging_port")],
)
def test_unreachable_warning_services_are_review(tmp_path, health_app, request, what, port_fixture):
    port = request.getfixturevalue(port_fixture)
    override = {
        "amqp": {"amqp": f"amqp://guest:{PASSWORD}@127.0.0.1:{port}/%2F"},
        "redis": {"redis": f"redis://:{PASSWORD}@127.0.0.1:{port}/0"},
    }[what]
    result = gate(tmp_path, write_config(tmp_path / "golive.yaml", health_app.url, timeout_s=1, **override))
    assert result.code == 1, result.stdout
    failed = [c for c in result.record()["checks"] if c["outcome"] != "passed"]
    assert len(failed) == 1 and f"127.0.0.1:{port}" in failed[0]["message"]
    assert PASSWORD not in result.everything_written()


@pytest.mark.parametrize(
    ("status_code", "body", "failing"),
    [
        (503, json.dumps({"status": "degraded", "version": "2.1.0", "database": "connection refused"}),
         "test_health_endpoint_reports_ok"),
        (200, json.dumps({"status": "ok", "version": "2.0.5"}), "test_version_is_the_release_under_test"),
        (200, "<html>not json</html>", "test_health_endpoint_reports_ok"),
        (200, json.dumps(["ok"]), "test_health_endpoint_reports_ok"),
    ],
)
def test_unhealthy_or_wrong_version_target_is_no_go(tmp_path, health_app, status_code, body, failing):
    health_app.answer("*", body, status=status_code)
    result = gate(tmp_path, write_config(tmp_path / "golive.yaml", health_app.url))
    assert result.code == 2
    assert result.check(failing)["outcome"] in {"failed", "error"}


def test_target_that_never_answers_http_is_no_go(tmp_path, hanging_port):
    result = gate(tmp_path, write_config(tmp_path / "golive.yaml", f"http://127.0.0.1:{hanging_port}", timeout_s=1))
    assert result.code == 2
    assert f"127.0.0.1:{hanging_port}" in result.check("test_health_endpoint_reports_ok")["message"]


def test_unknown_key_in_the_configuration_is_one_line_and_exit_2(tmp_path, health_app):
    config = write_config(tmp_path / "golive.yaml", health_app.url)
    config.write_text(config.read_text() + "rabbitmq_typo: {}\n")
    result = gate(tmp_path, config)
    assert result.code == 2
    assert result.stderr.strip().splitlines() == ["Exit: golive: golive.yaml: rabbitmq_typo: unknown key"]
    assert "Traceback" not in result.stdout + result.stderr


def test_unknown_marker_expression_is_no_go(tmp_path, health_app):
    config = write_config(tmp_path / "golive.yaml", health_app.url)
    environ = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "no_such_marker", f"--golive-config={config}",
         f"--golive-reports={tmp_path / 'reports'}", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=60, env=environ,
    )
    assert completed.returncode == 2
