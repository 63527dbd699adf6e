"""The fixtures checks use: environments by name, role and --env, per-environment service overrides."""

from __future__ import annotations

import json
import textwrap

import pytest

CONFIG = """\
release: {version: "2.1.0", previous: "2.0.5"}
environments:
  blue:  {url: "http://127.0.0.1:18001", role: candidate}
  green:
    url: "http://127.0.0.1:18002/"
    role: live
    postgres: {dsn: "postgresql://postgres@127.0.0.1:5432/template1"}
http: {timeout_s: 3, verify_tls: false}
postgres: {dsn: "postgresql://postgres@127.0.0.1:5432/postgres"}
"""

CHECKS = '''\
import httpx
import pytest

pytestmark = pytest.mark.pre


def test_environments(blue, green, candidate, live, target, request):
    assert (blue.name, blue.role, blue.expected_version) == ("blue", "candidate", "2.1.0")
    assert (green.name, green.role, green.expected_version) == ("green", "live", "2.0.5")
    assert (blue.url, green.url) == ("http://127.0.0.1:18001", "http://127.0.0.1:18002")
    assert candidate is blue and live is green
    assert target.name == request.config.getoption("golive_env", None) or target is candidate


def test_http_client_follows_the_configuration(target):
    client = target.http
    assert isinstance(client, httpx.Client)
    assert str(client.base_url).rstrip("/") == target.url
    assert client.timeout.read == 3


def test_testinfra_host(target_host):
    assert target_host.backend.get_connection_type() == "local"
    assert target_host.socket("tcp://127.0.0.1:5432").is_listening


def test_postgres_follows_the_environment(postgres, target):
    database = postgres.execute("SELECT current_database()").fetchone()[0]
    assert database == {"blue": "postgres", "green": "template1"}[target.name]
    read_only = postgres.execute("SHOW default_transaction_read_only").fetchone()[0]
    assert read_only == "on"


def test_aws_is_not_configured(aws):
    raise AssertionError("unreachable: aws is not configured")


def test_redis_is_not_configured(redis):
    raise AssertionError("unreachable: redis is not configured")
'''


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makeini("[pytest]\ntestpaths = validations\n")
    (pytester.path / "golive.yaml").write_text(CONFIG)
    (pytester.path / "validations").mkdir()
    (pytester.path / "validations" / "test_fixtures.py").write_text(textwrap.dedent(CHECKS))
    return pytester


@pytest.mark.parametrize("env", [[], ["--env", "blue"], ["--env", "green"]])
def test_fixtures_serve_the_selected_environment(project: pytest.Pytester, env: list[str]) -> None:
    result = project.runpytest_subprocess("-m", "pre", *env, timeout=120)
    assert result.ret == 0, result.stdout.str()
    record = json.loads((project.path / "reports" / "latest-pre.json").read_text())
    assert record["environment"] == (env[1] if env else "blue")
    skipped = {c["id"].rsplit("::", 1)[1]: c["message"] for c in record["checks"] if c["outcome"] == "skipped"}
    assert skipped == {"test_aws_is_not_configured": "not configured: aws",
                       "test_redis_is_not_configured": "not configured: redis"}
    components = {c["id"].rsplit("::", 1)[1]: c["component"] for c in record["checks"]}
    assert components["test_postgres_follows_the_environment"] == "postgres"
    assert components["test_testinfra_host"] == "host"
    assert components["test_environments"] == "http"


def test_fixtures_outside_a_gate_run_fail_clearly(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(test_outside="def test_x(target):\n    pass\n")
    result = pytester.runpytest_subprocess(timeout=60)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*golive fixtures need a gate run*"])
