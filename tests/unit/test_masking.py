"""No secret in any output: one real gate run that plants credentials everywhere, and the masker's rules.

The gate run points Gate 1's application and backing-service checks at a small server of the test's own that
echoes the credentials golive sends (a 500 health answer with the secret across byte 80, an ``X-Echo`` header,
a Prometheus error quoting the basic auth), a keyword/value DSN with a quoted password containing spaces, a
long userinfo, API paths with ``?access_token=`` and ``api_key=``, and an AMQP URL whose port hangs; under
``-l --tb=long --log-cli-level=DEBUG`` with JUnit XML, the HTML report and a log file. Every artifact is read.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import socket
import subprocess
import sys
from urllib.parse import quote

import markupsafe
import pytest

from golive.masking import MASK, Masker, clip, password_of, secrets_of
from tests.canned_http import Answer, CannedHTTP, Request

# Each secret is made of distinctive chunks, so a fragment left by a truncation is found too.
DSN_PASSWORD = "Dsn sp4ce's W0rdQ"  # libpq-quoted in the DSN: password='Dsn sp4ce\'s W0rdQ'
URL_PASSWORD = "-".join(f"Lp{i:03d}x" for i in range(45))  # 314 characters: reprs and samples cut it
TOKEN = "T0kenAcc3ssZ"
API_KEY = "ApiK3yValueZ"
PROM_PASSWORD = "Pr0mPassw0rdZ"
AMQP_PASSWORD = "Amqp p@ss/W0rdZ"  # percent-encoded in the URL
USER = "golive"


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _fragments() -> dict[str, list[str]]:
    """What must never appear, per planted secret: the secret's chunks, and 12-character windows of base64."""
    url_b64, prom_b64 = _basic(USER, URL_PASSWORD), _basic("admin", PROM_PASSWORD)
    return {
        "dsn password": ["sp4ce", "W0rdQ"],
        "url password": re.findall(r"Lp\d{3}x", URL_PASSWORD),
        "access token": [TOKEN],
        "api key": [API_KEY],
        "prometheus password": [PROM_PASSWORD],
        "amqp password": ["W0rdZ", quote("p@ss/", safe="")],
        "url basic auth": [url_b64[i:i + 12] for i in range(0, len(url_b64) - 12, 12)],
        "prometheus basic auth": [prom_b64[:12], prom_b64[12:24]],
    }


def echo(request: Request) -> Answer:
    """Answers every request with what it was sent: the environment's health, its API and a Prometheus."""
    auth = request.headers.get("Authorization", "")
    if request.path.startswith("/api/v1/"):  # Prometheus refusing the basic auth it was sent, quoting it
        code, body = 401, json.dumps({"status": "error", "errorType": "unauthorized", "error": f"bad {auth}"})
    elif request.path.startswith("/health"):  # not JSON; the echoed password runs across byte 80
        prefix = "upstream failure: "
        body = prefix + "#" * (80 - len(prefix) - 8) + f"{URL_PASSWORD} {auth}"
        code = 500
    else:  # the API echoes the query string it was called with
        code, body = 500, json.dumps({"error": f"refused {request.path}"})
    content_type = "text/plain" if request.path.startswith("/health") else "application/json"
    return Answer(code, body, headers={"X-Echo": auth}, content_type=content_type)


@pytest.fixture
def echo_url(canned_http: CannedHTTP) -> str:
    canned_http.routes["*"] = echo
    return canned_http.host_port


def test_no_planted_secret_reaches_any_artifact(tmp_path, run_gate, echo_url, hanging_port, closed_port):
    libpq_quoted = DSN_PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
    config = tmp_path / "golive.yaml"
    config.write_text(json.dumps({  # JSON is YAML, and quotes what the DSN needs
        "release": {"version": "2.1.0", "previous": "2.0.5"},
        "environments": {"blue": {"url": f"http://{USER}:{URL_PASSWORD}@{echo_url}", "role": "candidate"}},
        "http": {"timeout_s": 1, "endpoints": [{"path": f"/api/agents?access_token={TOKEN}", "expect": [200]},
                                               {"path": f"/api/items?limit=5&api_key={API_KEY}", "expect": [200]}]},
        "postgres": {"dsn": f"host=127.0.0.1 port={closed_port} dbname=orchestrator user=golive "
                            f"password='{libpq_quoted}' connect_timeout=1"},
        "rabbitmq": {"url": f"amqp://guest:{quote(AMQP_PASSWORD, safe='')}@127.0.0.1:{hanging_port}/%2F",
                     "timeout_s": 1},
        "prometheus": {"url": f"http://admin:{PROM_PASSWORD}@{echo_url}"},
    }))
    reports, junit, log_file = tmp_path / "reports", tmp_path / "junit.xml", tmp_path / "golive.log"
    result = run_gate(
        config, "pre", "-l", "--tb=long", "-rA", "--log-cli-level=DEBUG", f"--log-file={log_file}",
        "--log-file-level=DEBUG", f"--junitxml={junit}", "validations/test_application_health.py",
        "validations/test_backing_services.py::test_postgres_answers_a_query",
        "validations/test_backing_services.py::test_rabbitmq_accepts_a_connection",
        "validations/test_blue_environment.py::test_every_endpoint_answers_an_accepted_status",
        "validations/test_monitoring.py::test_prometheus_answers_queries", reports=reports,
    )
    assert result.code == 2, result.stdout
    outcomes = result.outcomes()
    assert outcomes["test_postgres_answers_a_query"] == "error"
    assert outcomes["test_rabbitmq_accepts_a_connection"] == "error"
    assert outcomes["test_every_endpoint_answers_an_accepted_status"] == "failed"
    assert outcomes["test_prometheus_answers_queries"] == "error"

    artifacts = {"stdout": result.stdout, "stderr": result.stderr, "junit": junit.read_text(),
                 "log file": log_file.read_text()}
    artifacts |= {path.name: path.read_text() for path in reports.iterdir() if path.is_file()}
    assert {"timeline.jsonl", "latest-pre.json"} <= set(artifacts)
    assert any(name.endswith(".html") for name in artifacts), sorted(artifacts)
    leaks = sorted({f"{what} in {name}" for name, text in artifacts.items()
                    for what, fragments in _fragments().items() if any(part in text for part in fragments)})
    assert not leaks, "\n".join(leaks)
    # The run did read the planted secrets: the messages show where they were, masked.
    assert "password='***'" in result.stdout and f"http://{USER}:***@{echo_url}" in result.stdout
    assert "access_token=***" in result.stdout and "api_key=***" in result.stdout
    assert "Basic ***" in result.stdout and "DEBUG" in result.stdout and "Lp000x" not in result.stdout
    for name in ("junit", "latest-pre.json"):
        assert MASK in artifacts[name], name
    assert MASK in next(text for name, text in artifacts.items() if name.endswith(".html"))


# --- the masker's rules (pure logic) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("host=db password='a b c' port=5", "host=db password='***' port=5"),
        ("password = 'it\\'s a b' user=u", "password = '***' user=u"),
        ("GET /api?access_token=abc123&x=1", "GET /api?access_token=***&x=1"),
        ("/items?limit=5&api_key=k3y", "/items?limit=5&api_key=***"),
        ('{"password": "a b", "client_secret": "zz"}', '{"password": "***", "client_secret": "***"}'),
        ("PGPASSWORD=abc X-Api-Key: def", "PGPASSWORD=*** X-Api-Key: ***"),
        ("Authorization: Basic YWRtaW46cHc=", "Authorization: Basic ***"),
        ("Bearer eyJhbGciOi.x.y", "Bearer ***"),
        ("http://u:p@ss@host/x", "http://u:***@host/x"),
        ("http://golive:abcdefgh...", "http://golive:***..."),
        # Not credentials: left alone.
        ("Basic authentication required", "Basic authentication required"),
        ("secret_max_age_days=90, secrets=['orchestrator/db'], tokens=5", None),
        ("http://127.0.0.1:8080/health...", None),
        ("secretsmanager describe_secret: ResourceNotFoundException: no such secret", None),
    ],
)
def test_credential_shapes_are_masked_without_knowing_them(text, masked):
    assert Masker()(text) == (masked if masked is not None else text)


def test_known_secrets_are_masked_in_every_form_and_when_cut():
    secret = "S3cret's p@ss/word"
    masker = Masker(secrets_of(f"http://admin:{quote(secret, safe='')}@h/x?access_token=Tok3nValue"))
    forms = [secret, quote(secret, safe=""), repr(secret)[1:-1], json.dumps(secret)[1:-1],
             html.escape(secret), str(markupsafe.escape(secret)),  # the hand escaper's form and the templates'
             _basic("admin", secret), "Tok3nValue"]
    for form in forms:
        assert masker(f"saw {form} here") == f"saw {MASK} here", form
    cut = clip(f"the body says {secret} and more", 24)
    assert cut.endswith("...") and secret[:4] in cut
    assert "S3cr" not in masker(cut)
    assert "word" not in masker("..." + secret[-8:])


def test_password_of_reads_libpq_quoting():
    assert password_of("host=h user=u password='a \\'b\\' c' port=1") == "a 'b' c"
    assert password_of("host=h password = plain port=1") == "plain"
    assert password_of("postgresql://u:p%40ss@h/db") == "p@ss"
    assert password_of("host=h user=u") is None


# --- the dashboard and watch outputs: masked where they are written ----------------------------------


def _golive(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    return subprocess.run([sys.executable, "-m", "golive", *args], capture_output=True, text=True,
                          timeout=timeout, env=environ)  # fmt: skip


@pytest.fixture
def planted_config(tmp_path, echo_url):
    """The environment's URL carries a password, an API path a token; the echo server quotes both back."""
    config = tmp_path / "golive.yaml"
    config.write_text(json.dumps({
        "release": {"version": "2.1.0", "previous": "2.0.5"},
        "environments": {"blue": {"url": f"http://{USER}:{URL_PASSWORD}@{echo_url}", "role": "candidate"}},
        "http": {"timeout_s": 1, "endpoints": [{"path": f"/api/agents?access_token={TOKEN}", "expect": [200]}],
                 "sampling": {"requests": 4, "concurrency": 2}},
        "rollback_triggers": {"error_rate": {"above": 0.1, "for_s": 0}},
    }))
    return config


def _leaks(text: str) -> list[str]:
    wanted = {what: parts for what, parts in _fragments().items() if what in {"url password", "access token",
                                                                            "url basic auth"}}
    return sorted(what for what, parts in wanted.items() if any(part in text for part in parts))


def test_planted_secrets_show_as_masked_in_the_dashboard(planted_config):
    result = _golive("dashboard", "--env", "blue", "--golive-config", str(planted_config))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output  # the echo server answers 500 everywhere
    assert not _leaks(output), (_leaks(output), output)
    assert "access_token=***" in output, output  # the endpoint's row, its secret masked where it is written


def test_planted_secrets_show_as_masked_in_watch_output_and_its_timeline(planted_config, tmp_path):
    reports = tmp_path / "reports"
    # The rollback command prints the password it was given: its output reaches the terminal and the timeline.
    rollback = f"echo rolling back with {URL_PASSWORD}"
    result = _golive("watch", "--env", "blue", "--interval", "0.2", "--duration", "5", "--golive-config",
                     str(planted_config), "--reports", str(reports), "--on-rollback", rollback)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "ROLLBACK:" in output, output
    timeline = (reports / "timeline.jsonl").read_text()
    for name, text in (("watch output", output), ("timeline", timeline)):
        assert not _leaks(text), (name, _leaks(text), text)
    assert f"http://{USER}:***@" in output and "rolling back with ***" in output, output
    assert "rolling back with ***" in timeline, timeline


@pytest.mark.parametrize("xdist", [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")])
def test_an_amqp_url_whose_port_hangs_leaks_its_password_nowhere(tmp_path, run_gate, hanging_port, xdist):
    """Every RabbitMQ check of the three gates against a broker port (and a management port) that accept and
    never answer, under ``-l --tb=long`` and DEBUG live logs: the password is *** in stdout, JUnit, HTML, record."""
    password, plain = "Amqp p@ss/W0rdZ", "AmqpPlainPw0rdY"  # one percent-encoded in the URL, one as it is
    with socket.socket() as management:
        management.bind(("127.0.0.1", 0))
        management.listen(8)
        config = tmp_path / "golive.yaml"
        config.write_text(json.dumps({
            "release": {"version": "2.1.0", "previous": "2.0.5"},
            "environments": {"blue": {"url": "http://127.0.0.1:9", "role": "candidate"},
                             "green": {"url": "http://127.0.0.1:9", "role": "live"}},
            "http": {"timeout_s": 1},
            "rabbitmq": {"url": f"amqp://guest:{quote(password, safe='')}@127.0.0.1:{hanging_port}/%2F",
                         "management_url": f"http://monitor:{plain}@127.0.0.1:{management.getsockname()[1]}",
                         "queues": {"agent.tasks": {"min_consumers": 1, "max_messages": 10},
                                    "agent.tasks.dlq": {"max_messages": 0}},
                         "timeout_s": 1},
        }))
        junit, reports = tmp_path / "junit.xml", tmp_path / "reports"
        result = run_gate(
            config, "pre or immediate or extended", "-l", "--tb=long", "-rA", "--log-cli-level=DEBUG",
            f"--junitxml={junit}", "validations/test_backing_services.py::test_rabbitmq_accepts_a_connection",
            "validations/test_pre_cutover.py::test_queues_have_consumers",
            "validations/test_pre_cutover.py::test_dead_letter_queues_not_growing",
            "validations/test_post_deployment_services.py::test_queue_depths_within_limits",
            "validations/test_post_deployment_services.py::test_rabbitmq_management_answers", *xdist, reports=reports,
        )
    assert result.code == 2, result.stdout
    outcomes = result.outcomes()
    assert outcomes["test_rabbitmq_accepts_a_connection"] == "error", outcomes
    assert outcomes["test_rabbitmq_management_answers"] == "error", outcomes
    assert outcomes["test_queues_have_consumers"] == outcomes["test_queue_depths_within_limits"] == "error", outcomes
    artifacts = {"stdout": result.stdout, "stderr": result.stderr, "junit": junit.read_text()}
    artifacts |= {path.name: path.read_text() for path in reports.iterdir() if path.is_file()}
    assert any(name.endswith(".html") for name in artifacts), sorted(artifacts)
    fragments = ["W0rdZ", quote("p@ss/", safe=""), plain, _basic("monitor", plain)[:12]]
    leaks = sorted(f"{part} in {name}" for name, text in artifacts.items() for part in fragments if part in text)
    assert not leaks, "\n".join(leaks)
    assert f"amqp://guest:***@127.0.0.1:{hanging_port}" in result.stdout, result.stdout  # it was read, and masked
