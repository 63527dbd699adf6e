"""golive.health: one interpretation of health answers, every dialect, as pure functions (no network).

The bodies are the shapes real services give: golive's sandbox; the IETF health check response format
(draft-inadarei-api-health-check-06, its own example); Spring Boot Actuator's /actuator/health and /actuator/info;
the Kubernetes API server's /readyz?verbose; NestJS Terminus; hand-written status-plus-flags endpoints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from golive import health
from golive.config import ConfigError, parse_settings
from golive.health import Answer, Spec

URL = "http://127.0.0.1:18001"


def answer(body: Any, status: int = 200, path: str = "/health", content_type: str = "application/json") -> Answer:
    text = body if isinstance(body, str) else json.dumps(body)
    return Answer(URL + path, status, content_type, text)


def read(body: Any, status: int = 200, spec: Spec | None = None, **others: Answer) -> health.HealthReading:
    return health.interpret(answer(body, status), spec or Spec.build(), others.get("ready"), others.get("version"))


def texts(reading: health.HealthReading) -> dict[str, str]:
    return {name: dependency.text for name, dependency in reading.dependencies.items()}


def states(reading: health.HealthReading) -> dict[str, str]:
    return {name: dependency.state for name, dependency in reading.dependencies.items()}


# --- golive's own shape ------------------------------------------------------------------------------------

GOLIVE_OK = {"status": "ok", "version": "2.1.0", "environment": "blue", "uptime": 81.2, "database": "ok",
             "rabbitmq": "ok", "redis": "ok"}  # fmt: skip


def test_golive_shape_healthy():
    reading = read(GOLIVE_OK)
    assert (reading.dialect, reading.state, reading.status, reading.version, reading.uptime) == (
        "golive", "healthy", "ok", "2.1.0", 81.2)
    assert texts(reading) == {"database": "ok", "rabbitmq": "ok", "redis": "ok"}
    assert reading.facts() == {"dialect": "golive", "endpoints": {"health": f"{URL}/health"}, "state": "healthy",
                               "status": "ok", "version": "2.1.0"}  # fmt: skip


def test_golive_shape_503_names_the_sick_dependency():
    body = {**GOLIVE_OK, "status": "degraded", "database": "OperationalError: connection refused"}
    reading = read(body, 503)
    assert reading.state == "unhealthy" and reading.live_state == "unhealthy"
    assert states(reading)["database"] == "unhealthy" and states(reading)["redis"] == "healthy"
    assert reading.describe() == ("degraded (HTTP 503, golive; HTTP 503 says 'degraded'; database OperationalError: "
                                  "connection refused)")  # fmt: skip


# --- IETF health check response format ---------------------------------------------------------------------

IETF = {
    "status": "pass", "version": "1", "releaseId": "2.1.0", "serviceId": "f03e522f-1f44-4062-9b55-9587f91c9c41",
    "description": "orchestrator",
    "checks": {
        "postgres:connections": [{"componentId": "dfd6cf2b", "componentType": "datastore", "observedValue": 12,
                                  "status": "pass", "time": "2026-12-02T00:00:00Z"}],
        "postgres:responseTime": [{"componentType": "datastore", "observedValue": 3.2, "observedUnit": "ms",
                                   "status": "pass"}],
        "rabbitmq:connected": [{"componentType": "component", "observedValue": True, "status": "pass"}],
        "cache:responseTime": [{"componentType": "datastore", "observedValue": 0.4, "status": "pass"}],
        "uptime": [{"componentType": "system", "observedValue": 1209600.245, "observedUnit": "s", "status": "pass"}],
    },
}  # fmt: skip


def test_ietf_pass_reads_release_id_and_checks_by_component():
    reading = health.interpret(answer(IETF, content_type="application/health+json"), Spec.build())
    assert (reading.dialect, reading.state, reading.status, reading.version) == ("ietf", "healthy", "pass", "2.1.0")
    assert states(reading) == {"database": "healthy", "rabbitmq": "healthy", "redis": "healthy", "uptime": "healthy"}


def test_ietf_is_detected_from_its_shape_without_the_media_type():
    assert read(IETF).dialect == "ietf"


def test_ietf_warn_is_degraded_and_fail_names_the_failing_measurement():
    warn = {**IETF, "status": "warn", "checks": {**IETF["checks"], "cache:responseTime": [
        {"componentType": "datastore", "observedValue": 250, "status": "warn", "output": "slow"}]}}
    reading = read(warn)
    assert reading.state == "degraded" and states(reading)["redis"] == "degraded"
    assert texts(reading)["redis"] == "warn: slow"
    fail = {**IETF, "status": "fail", "checks": {**IETF["checks"], "postgres:responseTime": [
        {"componentType": "datastore", "status": "fail", "output": "connection refused"}]}}
    reading = read(fail, 503)
    assert reading.state == "unhealthy"
    assert texts(reading)["database"] == "fail: connection refused"  # the worst of its measurements
    assert "database fail: connection refused" in reading.describe()


# --- Spring Boot Actuator ----------------------------------------------------------------------------------

SPRING = {
    "status": "UP",
    "components": {
        "db": {"status": "UP", "details": {"database": "PostgreSQL", "validationQuery": "isValid()"}},
        "diskSpace": {"status": "UP", "details": {"total": 499963174912, "free": 250981711872, "threshold": 10485760}},
        "ping": {"status": "UP"},
        "rabbit": {"status": "UP", "details": {"version": "3.10.8"}},
        "redis": {"status": "UP", "details": {"version": "7.0.11"}},
    },
}  # fmt: skip


def test_spring_up_with_version_from_the_info_endpoint():
    info = answer({"build": {"artifact": "orchestrator", "name": "orchestrator", "version": "2.1.0",
                             "group": "com.example"}}, path="/actuator/info")  # fmt: skip
    reading = read(SPRING, version=info)
    assert (reading.dialect, reading.state, reading.status, reading.version) == ("spring", "healthy", "UP", "2.1.0")
    assert set(reading.dependencies) == {"database", "diskSpace", "ping", "rabbitmq", "redis"}
    assert reading.endpoints["version"] == f"{URL}/actuator/info"


def test_spring_down_and_out_of_service():
    down = {"status": "DOWN", "components": {**SPRING["components"], "db": {
        "status": "DOWN", "details": {"error": "org.springframework.jdbc.CannotGetJdbcConnectionException: refused"}}}}
    reading = read(down, 503)
    assert reading.state == "unhealthy"
    assert texts(reading)["database"] == "DOWN: org.springframework.jdbc.CannotGetJdbcConnectionException: refused"
    assert read({"status": "OUT_OF_SERVICE"}, 503).state == "unhealthy"


def test_spring_unknown_is_not_healthy():
    reading = read({"status": "UNKNOWN"})
    assert reading.state == "unknown" and not reading.ok
    assert "set http.health.healthy" in reading.describe()


def test_spring_boot_2_1_details():
    reading = read({"status": "UP", "details": {"db": {"status": "UP", "details": {"database": "PostgreSQL"}}}})
    assert reading.dialect == "spring" and texts(reading) == {"database": "UP"}


def test_microprofile_health_checks_list():
    """MicroProfile Health (Quarkus, Open Liberty): UP/DOWN with a list of named procedures."""
    body = {"status": "DOWN", "checks": [
        {"name": "Database connections health check", "status": "UP", "data": {"<default>": "UP"}},
        {"name": "redis", "status": "DOWN", "data": {"reason": "connection refused"}},
    ]}  # fmt: skip
    reading = read(body, 503)
    assert reading.state == "unhealthy"
    assert texts(reading)["redis"] == "DOWN"
    healthy = read({"status": "UP", "checks": [{"name": "postgres", "status": "UP"}]})
    assert healthy.ok and texts(healthy) == {"database": "UP"}


# --- Kubernetes-style plain text ---------------------------------------------------------------------------


def test_kubernetes_plain_ok():
    reading = health.interpret(answer("ok", path="/healthz", content_type="text/plain; charset=utf-8"), Spec.build())
    assert (reading.dialect, reading.state, reading.status) == ("kubernetes", "healthy", "ok")


def test_kubernetes_verbose_lines():
    verbose = "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[+]postgres ok\nreadyz check failed\n"
    reading = health.interpret(answer(verbose, 500, "/readyz?verbose", "text/plain"), Spec.build())
    assert reading.state == "unhealthy" and reading.status == "failed"
    assert states(reading) == {"ping": "healthy", "log": "healthy", "etcd": "unhealthy", "database": "healthy"}
    assert texts(reading)["etcd"] == "failed: reason withheld"
    passed = health.interpret(answer("[+]ping ok\n[+]etcd ok\nlivez check passed\n", path="/livez"), Spec.build())
    assert passed.ok and passed.status == "ok"


# --- the status-word-plus-flags family ---------------------------------------------------------------------

FLAGS_READY = {"postgres": {"connected": True, "latency_ms": 2}, "redis": {"connected": True},
               "rabbitmq": {"connected": True}}  # fmt: skip


def test_flags_health_and_a_separate_readiness_endpoint():
    ready = answer(FLAGS_READY, path="/ready")
    reading = read({"status": "healthy", "version": "2.1.0", "timestamp": "2026-12-02T00:00:00Z"}, ready=ready)
    assert (reading.dialect, reading.state, reading.status, reading.version) == (
        "flags", "healthy", "healthy", "2.1.0")
    assert texts(reading) == {"database": "connected: true", "redis": "connected: true",
                              "rabbitmq": "connected: true"}  # fmt: skip
    assert reading.endpoints == {"health": f"{URL}/health", "ready": f"{URL}/ready"}


def test_flags_readiness_503_names_the_dependency_down():
    ready = answer({**FLAGS_READY, "postgres": {"connected": False, "error": "ECONNREFUSED 127.0.0.1:5432"}}, 503,
                   path="/ready")  # fmt: skip
    reading = read({"status": "healthy", "version": "2.1.0"}, ready=ready)
    assert reading.state == "unhealthy" and reading.live_state == "healthy"
    assert texts(reading)["database"] == "connected: false: ECONNREFUSED 127.0.0.1:5432"
    assert "HTTP 503 at /ready" in reading.describe() and "database connected: false" in reading.describe()


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ({"status": "healthy"}, "healthy"),
        ({"status": "unhealthy"}, "unhealthy"),
        ({"status": "up"}, "healthy"),
        ({"status": "down"}, "unhealthy"),
        ({"status": "ready"}, "healthy"),
        ({"status": "not_ready"}, "unhealthy"),
        ({"status": "Not Ready"}, "unhealthy"),
        ({"status": "degraded"}, "degraded"),
        ({"healthy": True}, "healthy"),
        ({"healthy": False}, "unhealthy"),
        ({"ready": False}, "unhealthy"),
        ({"status": "shiny"}, "unknown"),
    ],
)
def test_flags_status_words(body, state):
    assert read(body).state == state


def test_flags_dependency_forms():
    body = {"status": "up", "checks": {"db": {"healthy": True}, "cache": {"status": "up"}, "broker": "down",
                                       "search": {"status": "down", "message": "timeout"}}}  # fmt: skip
    reading = read(body)
    assert states(reading) == {"database": "healthy", "redis": "healthy", "rabbitmq": "unhealthy",
                               "search": "unhealthy"}  # fmt: skip
    assert texts(reading)["search"] == "down: timeout"


def test_terminus_shape():
    body = {"status": "error", "info": {"database": {"status": "up"}},
            "error": {"redis": {"status": "down", "message": "Could not connect"}},
            "details": {"database": {"status": "up"}, "redis": {"status": "down", "message": "Could not connect"}}}
    reading = read(body, 503)
    assert reading.state == "unhealthy" and reading.dialect == "flags"
    assert states(reading) == {"database": "healthy", "redis": "unhealthy"}
    assert texts(reading)["redis"] == "down: Could not connect"


def test_a_200_with_an_unhealthy_word_is_unhealthy_and_a_503_with_a_healthy_word_too():
    assert read({"status": "down"}).state == "unhealthy"
    reading = read({"status": "ok"}, 503)
    assert reading.state == "unhealthy" and reading.reasons == ("HTTP 503 says 'ok'",)


# --- unreadable answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"state": "good", "build": "x", "password": "s3cret"},
         ("no status field", "top-level fields: build, password, state", "set http.health.status")),
        ([1, 2], ("not an object", "set http.health.status")),
        ("<html>502 Bad Gateway</html>", ("neither JSON nor a Kubernetes-style probe text",)),
    ],
)
def test_unreadable_answers_name_the_key_to_set(body, fragments):
    with pytest.raises(health.Unreadable) as caught:
        read(body)
    assert caught.value.endpoint == f"{URL}/health"
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert "s3cret" not in str(caught.value) and "good" not in str(caught.value)  # names only, never values


def test_a_readiness_answer_with_nothing_readable_names_the_dependencies_key():
    with pytest.raises(health.Unreadable, match=r"set http\.health\.dependencies") as caught:
        read({"status": "ok"}, ready=answer({"uptime": 3}, path="/ready"))
    assert caught.value.endpoint == f"{URL}/ready"


# --- configured pointers, words and names ------------------------------------------------------------------


def test_configured_pointers_dotted_and_json_pointer():
    body = {"data": {"health": {"state": "GREEN", "rev": "2.1.0"}, "deps": {"maindb": {"ok": True}}}}
    spec = Spec.build(status="/data/health/state", version="data.health.rev", dependencies="data.deps",
                      healthy=["green"], names={"database": ["maindb"]})  # fmt: skip
    reading = read(body, spec=spec)
    assert (reading.state, reading.status, reading.version) == ("healthy", "GREEN", "2.1.0")
    assert texts(reading) == {"database": "ok: true"}


def test_configured_words_take_precedence_over_golive_defaults():
    spec = Spec.build(healthy=["degraded"], unhealthy=["amber"])
    assert read({"status": "degraded"}, spec=spec).state == "healthy"
    assert read({"status": "Amber"}, spec=spec).state == "unhealthy"
    assert read({"status": "ok"}, spec=spec).state == "healthy"  # defaults still known


def test_configured_status_pointer_that_is_absent_is_unreadable():
    with pytest.raises(health.Unreadable, match=r"nothing at http\.health\.status '/a/b'"):
        read({"status": "ok"}, spec=Spec.build(status="/a/b"))


def test_dialect_forced_to_kubernetes_refuses_json():
    with pytest.raises(health.Unreadable, match=r"http\.health\.dialect"):
        read({"status": "ok"}, spec=Spec.build(dialect="kubernetes"))


def test_dependency_aliases():
    spec = Spec.build()
    for name in ("postgres", "PostgreSQL", "db", "pg", "database"):
        assert spec.canonical(name) == "database"
    for name in ("rabbit", "amqp", "broker", "RabbitMQ"):
        assert spec.canonical(name) == "rabbitmq"
    assert spec.canonical("cache") == "redis" and spec.canonical("diskSpace") is None


def test_resolve_pointers():
    body = {"a": {"b/c": [10, {"d": "x"}]}, "e~f": 1}
    assert health.resolve(body, "/a/b~1c/1/d") == "x" and health.resolve(body, "/e~0f") == 1
    assert health.resolve({"a": [{"b": 2}]}, "a.0.b") == 2
    assert health.resolve(body, "a.missing") is health._MISSING


def test_version_in_reads_each_dialect():
    spec = Spec.build()
    assert health.version_in(json.dumps({"build": {"version": "2.1.0"}}), spec) == "2.1.0"
    assert health.version_in(json.dumps(IETF), spec, "application/health+json") == "2.1.0"
    assert health.version_in(json.dumps(GOLIVE_OK), spec) == "2.1.0"
    assert health.version_in("ok", spec) is None


# --- configuration -----------------------------------------------------------------------------------------

BASE = "release: {version: '2.1.0'}\nenvironments: {blue: {url: 'http://127.0.0.1:1', role: candidate}}\n"


def settings(text: str):
    return parse_settings(BASE + text, Path("golive.yaml"), "test", {})


def test_health_path_follows_http_health_path_and_sampling_follows_it():
    http = settings("http: {health: {path: /actuator/health, version_path: /actuator/info}}\n").document.http
    assert http.health_path == "/actuator/health" and http.sampling_paths == ("/actuator/health",)
    assert settings("http: {health_path: /healthz}\n").document.http.sampling_paths == ("/healthz",)
    same = settings("http: {health_path: /h, health: {path: /h}}\n").document.http
    assert same.health_path == "/h"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http: {health_path: /a, health: {path: /b}}\n", "golive.yaml: http: health.path and health_path disagree"),
        ("http: {health: {dialect: soap}}\n", "golive.yaml: http.health.dialect:"),
        ("http: {health: {status: 'a..b'}}\n", "golive.yaml: http.health.status: not a dotted path"),
        ("http: {health: {healthy: [ok], unhealthy: [OK]}}\n", "listed under both healthy and unhealthy"),
        ("http: {health: {ready_path: ready}}\n", "golive.yaml: http.health.ready_path: must start with /"),
    ],
)
def test_bad_health_configuration_is_one_line(text, message):
    with pytest.raises(ConfigError) as caught:
        settings(text)
    assert message in str(caught.value)


def test_the_report_shows_what_a_check_read_compactly():
    from golive.report import _fact_text

    reading = read({"status": "UP"}, version=answer({"build": {"version": "2.1.0"}}, path="/actuator/info"))
    assert _fact_text(reading.facts()) == (f"dialect spring; endpoints health {URL}/health; version "
                                           f"{URL}/actuator/info; state healthy; status UP; version 2.1.0")


def test_a_404_names_the_path_key():
    with pytest.raises(health.Unreadable, match=r"404\); set http\.health\.path"):
        read("Not Found", 404)
    with pytest.raises(health.Unreadable, match=r"set http\.health\.ready_path") as caught:
        read({"status": "ok"}, ready=answer({"detail": "Not Found"}, 404, "/ready"))
    assert caught.value.endpoint == f"{URL}/ready"
    with pytest.raises(health.Unreadable, match=r"set http\.health\.version_path"):
        read({"status": "UP"}, version=answer({"detail": "Not Found"}, 404, "/actuator/info"))
