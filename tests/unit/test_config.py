"""Configuration: validation into one-line errors, interpolation, per-environment overrides, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.config import ConfigError, load_settings, parse_settings, resolve_path
from tests.support import REPO

GOOD = """\
release: {version: "2.1.0", previous: "2.0.5"}
environments:
  blue:  {url: "http://127.0.0.1:18001", role: candidate, host: "local://"}
  green: {url: "http://127.0.0.1:18002", role: live}
http: {timeout_s: 2, health_path: /health, endpoints: [{path: /api/agents, method: GET, expect: [200, 401]}]}
postgres:
  dsn: "postgresql://orchestrator:${PGPASSWORD}@127.0.0.1:5432/orchestrator"
  replicas: ["postgresql://orchestrator:${PGPASSWORD}@127.0.0.1:5433/orchestrator"]
  schema_version: {query: "SELECT max(version) FROM schema_versions", expect: "2.1.0"}
rabbitmq:
  url: "amqp://guest:${RABBITMQ_PASSWORD:-guest}@127.0.0.1:5672/%2F"
  management_url: "http://127.0.0.1:15672"
  queues: {agent.tasks: {min_consumers: 1, max_messages: 1000}, agent.tasks.dlq: {max_messages: 0}}
redis: {url: "redis://127.0.0.1:6379/0", min_hit_rate: 0.7}
prometheus: {url: "http://127.0.0.1:9090"}
load_balancer: {kind: alb, listener_arn: "arn:l", target_groups: {blue: "arn:b", green: "arn:g"}}
aws: {region: us-east-1, endpoint_url: "http://127.0.0.1:5000", secrets: ["orchestrator/db"]}
waivers: [{check: "validations/test_x.py::test_y", reason: "r", approved_by: "RM", expires: 2026-12-31}]
"""
ENVIRON = {"PGPASSWORD": "pg-Secret-42"}


def parse(text: str, environ: dict[str, str] | None = None):
    return parse_settings(text, Path("golive.yaml"), "--golive-config", ENVIRON if environ is None else environ)


def error_of(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_reference_configuration_is_valid():
    settings = parse(GOOD)
    blue = settings.select(None)
    assert blue.name == "blue" and blue.expected_version == "2.1.0"
    assert settings.environments["green"].expected_version == "2.0.5"
    assert blue.postgres is not None and "pg-Secret-42" in blue.postgres.dsn
    assert blue.rabbitmq is not None and blue.rabbitmq.url.startswith("amqp://guest:guest@")
    assert blue.timeout_s("postgres") == 2.0


BAD = [
    ("bogus: 1\n", "golive.yaml: bogus: unknown key"),
    ("postgres: {dsn: 'mysql://u@h/db'}\n", "golive.yaml: postgres.dsn: not a PostgreSQL DSN"),
    ("postgres: {dsn: 'postgresql://h/db', replicas: ['http://x']}\n",
     "golive.yaml: postgres.replicas[0]: not a PostgreSQL DSN"),
    ("rabbitmq: {url: 'http://127.0.0.1:5672'}\n", "golive.yaml: rabbitmq.url: not an AMQP URL"),
    ("rabbitmq: {url: 'amqp://h', queues: {agent.tasks: {max_messages: -1}}}\n",
     'golive.yaml: rabbitmq.queues["agent.tasks"].max_messages: Input should be greater than or equal to 0'),
    ("rabbitmq: {url: 'amqp://h', queues: {q: {max_mesages: 1}}}\n", "golive.yaml: rabbitmq.queues.q.max_mesages: unknown key"),
    ("redis: {url: 'localhost:6379'}\n", "golive.yaml: redis.url: not a Redis URL"),
    ("redis: {url: 'redis://h', min_hit_rate: 7}\n", "golive.yaml: redis.min_hit_rate: Input should be less than or equal to 1"),
    ("http: {timeout_s: -1}\n", "golive.yaml: http.timeout_s: Input should be greater than 0"),
    ("http: {timeout_s: soon}\n", "golive.yaml: http.timeout_s: Input should be a valid number"),
    ("http: {endpoints: [{path: api/agents}]}\n", "golive.yaml: http.endpoints[0].path: must start with /"),
    ("http: {endpoints: [{path: /a, method: FETCH}]}\n", "golive.yaml: http.endpoints[0].method: Input should be"),
    ("http: {endpoints: [{path: /a, expect: [999]}]}\n", "golive.yaml: http.endpoints[0].expect[0]: Input should be"),
    ("thresholds: {error_rate: 1.5}\n", "golive.yaml: thresholds.error_rate: Input should be less than or equal to 1"),
    ("prometheus: {url: 'ftp://h'}\n", "golive.yaml: prometheus.url: not an http(s) URL"),
    ("prometheus: {url: 'http://h', preset: spring}\n", "golive.yaml: prometheus.preset: Input should be 'golive', 'node'"),
    ("prometheus: {url: 'http://h', queries: {p95_ms: 'x{job=\"{job}\"}'}}\n",
     "golive.yaml: prometheus.queries.p95_ms: not a query template (unexpected '{' in field name): write PromQL's"),
    ("load_balancer: {kind: nginx}\n", "golive.yaml: load_balancer: Input tag 'nginx' found using 'kind' does not match"),
    ("load_balancer: {kind: alb, listener_arn: l, target_groups: {blue: b, purple: p}}\n",
     "golive.yaml: load_balancer.target_groups.purple: Input should be 'blue' or 'green'"),
    ("load_balancer: {kind: haproxy, admin_socket: /s, backend: be}\n",
     "golive.yaml: load_balancer.servers: required key is missing"),
    ("aws: {endpoint_url: 'http://h'}\n", "golive.yaml: aws.region: required key is missing"),
    ("waivers: [{check: x, reason: r, approved_by: a, expires: someday}]\n", "golive.yaml: waivers[0].expires:"),
    ("waivers: [{check: x, reason: '', approved_by: a, expires: 2026-01-01}]\n",
     "golive.yaml: waivers[0].reason: String should have at least 1 character"),
    ("postgres: {dsn: 'postgresql://u:${PGPASSWORD}@h/db'}\n", "golive.yaml: postgres.dsn: environment variable PGPASSWORD is not set"),
    ("postgres: {dsn: 'postgresql://u:${PG PW}@h/db'}\n", "golive.yaml: postgres.dsn: malformed ${...} reference"),
]


@pytest.mark.parametrize(("addition", "expected"), BAD, ids=[expected.split(": ")[1] for _, expected in BAD])
def test_bad_configuration_gives_one_line_naming_the_key(addition, expected):
    base = 'release: {version: "2.1.0"}\nenvironments: {blue: {url: "http://127.0.0.1:1", role: candidate}}\n'
    message = error_of(base + addition, environ={})
    assert message.startswith(expected), message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "golive.yaml: (top level): the file is empty"),
        ("- a\n- b\n", "golive.yaml: (top level): expected a mapping of sections, got list"),
        ("release: {version: [\n", "golive.yaml: line 2, column 1: not valid YAML"),
        ('environments: {blue: {url: "http://h"}}\n', "golive.yaml: release: required key is missing"),
        ('release: {version: 2.1}\nenvironments: {blue: {url: "http://h"}}\n',
         'golive.yaml: release.version: expected a string (quote values such as versions: "2.1.0")'),
        ('release: {version: "2"}\nenvironments: {}\n', "golive.yaml: environments: Dictionary should have at least 1"),
        ('release: {version: "2"}\nenvironments: {blue: {url: "127.0.0.1:80"}}\n',
         "golive.yaml: environments.blue.url: not an http(s) URL"),
        ('release: {version: "2"}\nenvironments: {blue: {url: "http://h", role: primary}}\n',
         "golive.yaml: environments.blue.role: Input should be 'candidate' or 'live'"),
        ('release: {version: "2"}\nenvironments: {a: {url: "http://h", role: live}, b: {url: "http://h", role: live}}\n',
         "golive.yaml: environments: more than one environment has role live (a, b)"),
        ('release: {version: "2"}\nrelease: {version: "3"}\nenvironments: {blue: {url: "http://h"}}\n',
         "golive.yaml: line 2, column 1: not valid YAML (duplicate key 'release'"),
        ('release: {version: "2"}\nenvironments: {blue: {url: "http://h", postgres: {dsn: "nope://"}}}\n',
         "golive.yaml: environments.blue.postgres.dsn: not a PostgreSQL DSN"),
        ('release: {version: "2"}\nenvironments: {blue: {url: "http://h", redis: {urll: "redis://h"}}}\n',
         "golive.yaml: environments.blue.redis.urll: unknown key"),
    ],
)
def test_structural_errors_name_the_place(text, expected):
    message = error_of(text, environ={})
    assert message.startswith(expected), message


def test_errors_never_carry_the_offending_value():
    message = error_of(GOOD.replace("@127.0.0.1:5432/orchestrator", "@127.0.0.1:notaport/orchestrator"))
    assert message == "golive.yaml: postgres.dsn: not a PostgreSQL DSN"
    assert "pg-Secret-42" not in message


def test_interpolation_defaults_and_escapes():
    text = GOOD.replace('"2.1.0", previous', '"${RELEASE:-2.1.0}", previous').replace("/health", "/he$$alth")
    settings = parse(text, {**ENVIRON, "RABBITMQ_PASSWORD": "mq-pw-9"})
    assert settings.release.version == "2.1.0"
    assert settings.document.http.health_path == "/he$alth"
    assert settings.environments["blue"].rabbitmq.url == "amqp://guest:mq-pw-9@127.0.0.1:5672/%2F"


def test_per_environment_sections_merge_over_the_shared_ones():
    text = GOOD.replace(
        'green: {url: "http://127.0.0.1:18002", role: live}',
        'green: {url: "http://127.0.0.1:18002", role: live, '
        'postgres: {dsn: "postgresql://o:${PGPASSWORD}@127.0.0.1:5432/green_db"}, redis: {url: "redis://127.0.0.1:6379/1"}}',
    )
    settings = parse(text)
    green, blue = settings.environments["green"], settings.environments["blue"]
    assert green.postgres.dsn.endswith("/green_db")
    assert green.postgres.schema_version == blue.postgres.schema_version  # kept from the shared section
    assert green.redis.url.endswith("/1") and green.redis.min_hit_rate == 0.7
    assert blue.postgres.dsn.endswith("/orchestrator")


SAMPLING_CASES = [
    # (http section, expected sampling paths, the key that chose them)
    ("{health_path: /healthz}", ("/healthz",), "http.health_path"),
    ("{endpoints: [{path: /api/agents, expect: [200, 401]}, {path: /login, expect: [401]},"
     " {path: /api/tasks, method: POST, expect: [201]}, {path: /api/status, method: GET, expect: [204]},"
     " {path: /api/agents}]}", ("/api/agents", "/api/status"), "http.endpoints"),
    ("{endpoints: [{path: /login, expect: [401, 403]}], health_path: /livez}", ("/livez",), "http.health_path"),
    ("{endpoints: [{path: /api/agents}], sampling: {paths: [/health, /x]}}", ("/health", "/x"), "http.sampling.paths"),
]


@pytest.mark.parametrize(("http", "paths", "key"), SAMPLING_CASES)
def test_sampling_measures_the_api_unless_told_otherwise(http, paths, key):
    text = GOOD.replace(GOOD.splitlines()[4], f"http: {http}")
    blue = parse(text).select(None)
    assert (blue.http.sampling_paths, blue.http.sampling_paths_key) == (paths, key)


def test_sampling_paths_follow_the_environment_and_are_never_empty():
    text = GOOD.replace(
        'green: {url: "http://127.0.0.1:18002", role: live}',
        'green: {url: "http://127.0.0.1:18002", role: live, http: {endpoints: [{path: /v1/items}]}}',
    )
    settings = parse(text)
    assert settings.environments["blue"].http.sampling_paths == ("/api/agents",)
    assert settings.environments["green"].http.sampling_paths == ("/v1/items",)
    empty = GOOD.replace(GOOD.splitlines()[4], "http: {sampling: {paths: []}}")
    assert error_of(empty).startswith("golive.yaml: http.sampling.paths: List should have at least 1 item")


def test_masker_knows_every_configured_password():
    settings = parse(GOOD, {**ENVIRON, "RABBITMQ_PASSWORD": "mq-pw-9", "API_TOKEN": "tok-123"})
    masked = settings.masker(
        "connect to postgresql://orchestrator:pg-Secret-42@h/db failed; amqp pw mq-pw-9; raw pg-Secret-42"
    )
    assert "pg-Secret-42" not in masked and "mq-pw-9" not in masked
    assert masked.count("***") == 3


def test_masker_knows_the_credentials_of_every_configured_url():
    """aws.endpoint_url, load_balancer.front_url and security.public_urls: userinfo and query tokens."""
    text = (GOOD.replace('endpoint_url: "http://127.0.0.1:5000"', 'endpoint_url: "http://ak:Aws-Pw-771@127.0.0.1:5000"')
            .replace('target_groups: {blue: "arn:b", green: "arn:g"}',
                     'target_groups: {blue: "arn:b", green: "arn:g"}, front_url: "http://u:Front-Pw-772@127.0.0.1:1"')
            + 'security: {public_urls: ["https://api.example.test/?access_token=Pub-Tok-773"]}\n'
            + 'synthetic: {post_path: "/api/tasks?api_key=Syn-Key-774", get_path: "/api/tasks/{id}", sql: "SELECT 1"}\n')
    settings = parse(text)
    assert settings.document.aws and settings.document.aws.endpoint_url  # the planted values were read
    for secret in ("Aws-Pw-771", "Front-Pw-772", "Pub-Tok-773", "Syn-Key-774"):
        assert settings.masker(f"seen {secret} and {secret[:4]}... in an error") == "seen *** and ***... in an error"


def test_env_selection():
    settings = parse(GOOD)
    assert settings.select("green").name == "green"
    with pytest.raises(ConfigError, match=r"--env purple: no such environment \(have: blue, green\)"):
        settings.select("purple")
    no_candidate = parse(GOOD.replace("role: candidate, ", ""))
    with pytest.raises(ConfigError, match="no environment has role candidate; pass --env NAME"):
        no_candidate.select(None)


def test_source_precedence(tmp_path):
    assert resolve_path("x.yaml", {"GOLIVE_CONFIG": "y.yaml"}, tmp_path) == (tmp_path / "x.yaml", "--golive-config")
    assert resolve_path(None, {"GOLIVE_CONFIG": "y.yaml"}, tmp_path) == (tmp_path / "y.yaml", "$GOLIVE_CONFIG")
    assert resolve_path(None, {}, tmp_path) == (tmp_path / "golive.yaml", "default")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match=r"configuration file not found \(pass --golive-config"):
        load_settings(tmp_path / "golive.yaml", "default", {})
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        load_settings(binary, "--golive-config", {})


def test_the_example_configuration_in_the_repository_is_valid():
    example = REPO / "golive.example.yaml"
    settings = load_settings(example, "--golive-config", {"PGPASSWORD": "x-secret"})
    assert settings.select(None).name == "blue"
    assert settings.document.rollback_triggers is not None
