"""Names and ports the sandbox's pieces agree on."""

from __future__ import annotations

GREEN_VERSION = "2.0.5"
BLUE_VERSION = "2.1.0"

HOST = "127.0.0.1"
BLUE_PORT = 18001
GREEN_PORT = 18002
HAPROXY_PORT = 18000
MOTO_PORT = 15000
PROMETHEUS_PORT = 19090
STANDBY_PORT = 15433
RABBITMQ_MANAGEMENT_PORT = 15672

PRIMARY_PORT = 5432
AMQP_PORT = 5672
REDIS_PORT = 6379

DATABASE = "golive_sandbox"
VHOST = "golive-sandbox"
REDIS_PREFIX = "golive-sandbox:"
# The shared Redis's maxmemory while the sandbox runs when it has none, at least (a cache has a limit; `down`
# takes it back).
REDIS_MAXMEMORY = 256 * 1024 * 1024
TASK_QUEUE = "agent.tasks"
DEAD_LETTER_QUEUE = "agent.tasks.dlq"
STANDBY_APPLICATION_NAME = "golive_standby"

PRIMARY_DSN = f"postgresql://postgres@{HOST}:{PRIMARY_PORT}/{DATABASE}"  # the apps' (and the tests') session
STANDBY_DSN = f"postgresql://postgres@{HOST}:{STANDBY_PORT}/{DATABASE}"
# golive's own role in the sandbox, as the README asks of every deployment: it can read everything
# (pg_read_all_data) and the statistics (pg_monitor), and write nothing. The golive configuration connects as it.
READER_ROLE = "golive_sandbox_reader"
READER_DSN = f"postgresql://{READER_ROLE}@{HOST}:{PRIMARY_PORT}/{DATABASE}"
STANDBY_READER_DSN = f"postgresql://{READER_ROLE}@{HOST}:{STANDBY_PORT}/{DATABASE}"
AMQP_URL = f"amqp://guest:guest@{HOST}:{AMQP_PORT}/{VHOST}"
REDIS_URL = f"redis://{HOST}:{REDIS_PORT}/0"
MANAGEMENT_URL = f"http://{HOST}:{RABBITMQ_MANAGEMENT_PORT}"

# Environment variables the app and the worker read their configuration from.
ENV_VERSION = "GOLIVE_SANDBOX_VERSION"
ENV_NAME = "GOLIVE_SANDBOX_ENV"
ENV_PG_DSN = "GOLIVE_SANDBOX_PG_DSN"
ENV_AMQP_URL = "GOLIVE_SANDBOX_AMQP_URL"
ENV_REDIS_URL = "GOLIVE_SANDBOX_REDIS_URL"
ENV_FAULT_FILE = "GOLIVE_SANDBOX_FAULT_FILE"
ENV_DIALECT = "GOLIVE_SANDBOX_DIALECT"
ENV_METRICS = "GOLIVE_SANDBOX_METRICS"  # the apps' metric naming (`up --metrics`): golive.promql's preset names
ENV_STATE_DIR = "GOLIVE_SANDBOX_DIR"
DEFAULT_STATE_DIR = "/tmp/golive-sandbox"
DEFAULT_METRICS = "golive"

# The health dialects the apps can speak (`golive sandbox up --dialect`), and each one's liveness path: the
# one HAProxy and the ALB target groups check, and golive's http.health_path.
DIALECTS = ("golive", "ietf", "spring", "flags")
DEFAULT_DIALECT = "golive"
LIVENESS_PATHS = {"golive": "/health", "ietf": "/health", "spring": "/actuator/health", "flags": "/health"}
# The dependencies the apps report, as `fault --dependency-down` names them.
DEPENDENCIES = ("database", "rabbitmq", "redis")
# `golive sandbox up --NAME VALUE` options the apps read from their environment: name -> (variable, default).
# `up` records them in state.json and restarts blue and green (and HAProxy, whose check follows the dialect)
# when asked for other values.
APP_OPTIONS = {
    "dialect": (ENV_DIALECT, DEFAULT_DIALECT),
    "metrics": (ENV_METRICS, DEFAULT_METRICS),
}


def version_tuple(version: str) -> tuple[int, ...]:
    """``"2.1.0"`` -> ``(2, 1, 0)``, for ordering releases."""
    return tuple(int(part) for part in version.split("."))
