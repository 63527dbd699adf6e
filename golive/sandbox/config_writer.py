"""The files the sandbox writes for others: HAProxy's and Prometheus's configuration, each app's variables, and
the golive configuration that points at the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from golive.sandbox import constants as c
from golive.sandbox import schema
from golive.sandbox.aws_resources import ALARMS, BACKUP_PREFIX, BUCKET, DNS_RECORD, LOG_GROUPS, REPOSITORY, SECRETS
from golive.sandbox.state import ENVIRONMENTS, Paths, State

# What a deployment of the orchestrator runs: pg_dump before migrating, psql to migrate, haproxy to cut over.
DEPLOY_COMMANDS = ("pg_dump", "psql", "haproxy")
# Prometheus scrapes every 2 s and its alert rules look 30 s back: Gate 2's figures use the same window.
PROMETHEUS_WINDOW = "30s"
# Gate 2's synthetic transaction: a task through the API, done by the worker, then deleted (golive-owned).
SYNTHETIC = {
    "post_path": "/api/tasks",
    "body": {"agent": "planner", "payload": {"synthetic": "{marker}"}, "priority": 0},
    "id_field": "task_id",
    "sql": "SELECT status FROM tasks WHERE id = %(id)s",
    "done_value": "done",
    "get_path": "/api/tasks/{id}",
    "delete_path": "/api/tasks/{id}",
}


def write_service_configs(paths: Paths, dialect: str) -> None:
    """HAProxy's and Prometheus's configuration (and Prometheus's alert rules)."""
    paths.haproxy_config.write_text(
        "\n".join(
            [
                "global",
                f"    stats socket {paths.haproxy_socket} mode 600 level admin expose-fd listeners",
                "    stats timeout 10s",
                "    maxconn 2000",
                "",
                "defaults",
                "    mode http",
                "    timeout connect 2s",
                "    timeout client 30s",
                "    timeout server 30s",
                "    timeout check 2s",
                "",
                "frontend orchestrator",
                f"    bind {c.HOST}:{c.HAPROXY_PORT}",
                "    default_backend be",
                "",
                "backend be",
                "    balance roundrobin",
                "    option httpchk",
                f"    http-check send meth GET uri {c.LIVENESS_PATHS[dialect]}",
                "    default-server inter 2s fall 2 rise 2",
                f"    server blue {c.HOST}:{c.BLUE_PORT} weight 0 check",
                f"    server green {c.HOST}:{c.GREEN_PORT} weight 100 check",
                "",
            ]
        )
    )
    paths.prometheus_config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "2s", "scrape_timeout": "1s", "evaluation_interval": "2s"},
                "rule_files": [str(paths.prometheus_rules)],
                "scrape_configs": [
                    {
                        "job_name": f"orchestrator-{env}",
                        "static_configs": [
                            {
                                "targets": [f"{c.HOST}:{port}"],
                                "labels": {"environment": env, "version": version},
                            }
                        ],
                    }
                    for env, (version, port) in ENVIRONMENTS.items()
                ],
            },
            sort_keys=False,
        )
    )
    paths.prometheus_rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "orchestrator",
                        "rules": [
                            {
                                "alert": "OrchestratorDown",
                                "expr": 'up{job=~"orchestrator-.*"} == 0',
                                "for": "10s",
                                "labels": {"severity": "critical"},
                                "annotations": {"summary": "{{ $labels.job }} does not answer scrapes"},
                            },
                            {
                                "alert": "OrchestratorHighErrorRate",
                                "expr": 'sum by (job) (rate(http_requests_total{status=~"5.."}[30s])) '
                                "/ sum by (job) (rate(http_requests_total[30s])) > 0.01",
                                "for": "10s",
                                "labels": {"severity": "critical"},
                                "annotations": {"summary": "{{ $labels.job }} answers over 1% with 5xx"},
                            },
                            {
                                "alert": "OrchestratorHighLatency",
                                "expr": "histogram_quantile(0.95, sum by (job, le) "
                                "(rate(http_request_duration_seconds_bucket[30s]))) > 0.2",
                                "for": "10s",
                                "labels": {"severity": "warning"},
                                "annotations": {"summary": "{{ $labels.job }} p95 latency above 200 ms"},
                            },
                        ],
                    }
                ]
            },
            sort_keys=False,
        )
    )


def app_variables(env: str, paths: Paths, options: dict[str, str] | None = None) -> dict[str, str]:
    """The variables an app runs with: `up` passes them to its process and stages them in its env file;
    ``options`` are c.APP_OPTIONS' values (unset: the defaults)."""
    version, _port = ENVIRONMENTS[env]
    chosen = {variable: (options or {}).get(name) or default for name, (variable, default) in c.APP_OPTIONS.items()}
    return {
        c.ENV_VERSION: version,
        c.ENV_NAME: env,
        c.ENV_PG_DSN: c.PRIMARY_DSN,
        c.ENV_AMQP_URL: c.AMQP_URL,
        c.ENV_REDIS_URL: c.REDIS_URL,
        c.ENV_FAULT_FILE: str(paths.fault_file(env)),
        "LOG_LEVEL": "INFO",
        "DEBUG": "false",
    } | chosen


def write_golive_config(path: Path, paths: Paths, state: State) -> None:
    """The golive configuration for the sandbox: exactly the contract's keys."""
    environments = {}
    for env, (_version, port) in ENVIRONMENTS.items():
        environments[env] = {
            "url": f"http://{c.HOST}:{port}",
            "role": "candidate" if env == "blue" else "live",
            "host": "local://",
            "process": f"golive.sandbox.app --env {env}",
            "log_file": str(paths.log(env)),
            "env_file": str(paths.env_file(env)),
            "required_env": list(app_variables(env, paths, state.app_options)),
        }
    rules = yaml.safe_load(paths.prometheus_rules.read_text())["groups"]
    config = {
        "release": {
            "version": c.BLUE_VERSION,
            "previous": c.GREEN_VERSION,
            "repository": str(paths.release_repository),
            "tag_format": "v{version}",
        },
        "environments": environments,
        "http": {
            "timeout_s": 5,
            "verify_tls": True,
            "health_path": c.LIVENESS_PATHS[state.dialect],
            **_health_keys(state.dialect),
            "endpoints": [
                {"path": endpoint, "method": "GET", "expect": [200]}
                for endpoint in ("/api/agents", "/api/messages", "/api/status", "/api/health")
            ],
            # The deployment's one external dependency here: the S3 bucket its backups go to (moto).
            "integrations": [
                {"name": "backup storage (S3)", "url": f"http://{c.HOST}:{c.MOTO_PORT}/{BUCKET}", "expect": [200]}
            ],
        },
        "thresholds": {"error_rate": 0.001, "p95_ms": 200, "cert_min_days": 30},
        "postgres": {
            "dsn": c.READER_DSN,
            "replicas": [c.STANDBY_READER_DSN],
            "schema_version": {"query": "SELECT max(version) FROM schema_versions", "expect": c.BLUE_VERSION},
            "integrity": {
                "tables": ["agents", "messages", "tasks"],
                "invariants": [{"name": name, "sql": sql} for name, sql in schema.INVARIANTS],
                "immutable_tables": ["agents"],
            },
            "business_metrics": [dict(metric) for metric in schema.BUSINESS_METRICS],
        },
        "rabbitmq": {
            "url": c.AMQP_URL,
            "management_url": c.MANAGEMENT_URL,
            "queues": {
                c.TASK_QUEUE: {"min_consumers": 1, "max_messages": 1000},
                c.DEAD_LETTER_QUEUE: {"max_messages": 0},
            },
        },
        "redis": {"url": c.REDIS_URL, "min_hit_rate": 0.0},
        "prometheus": {
            "url": f"http://{c.HOST}:{c.PROMETHEUS_PORT}",
            "jobs": {env: f"orchestrator-{env}" for env in ENVIRONMENTS},
            "window": PROMETHEUS_WINDOW,
            "alert_rules": [rule["alert"] for group in rules for rule in group["rules"] if "alert" in rule],
        },
        "load_balancer": {
            "kind": "alb",
            "listener_arn": state.aws["listener_arn"],
            "target_groups": dict(state.aws["target_groups"]),
            # Traffic enters through HAProxy (moto's ALB forwards nothing): `helper cutover` moves both.
            "front_url": f"http://{c.HOST}:{c.HAPROXY_PORT}",
        },
        "aws": {
            "region": "us-east-1",
            "endpoint_url": f"http://{c.HOST}:{c.MOTO_PORT}",
            "secrets": list(SECRETS),
            "backups": {"bucket": BUCKET, "prefix": BACKUP_PREFIX, "max_age_h": 24},
            "image": {"repository": REPOSITORY, "tag": c.BLUE_VERSION, "max_size_mb": 500},
            "alarms": list(ALARMS),
            "log_groups": list(LOG_GROUPS),
            "dns": {"zone_id": state.aws["dns_zone_id"], "record": DNS_RECORD},
        },
        "synthetic": SYNTHETIC,
        "security": {"source_paths": [str(paths.source)]},
        "deploy": {
            "host": "local://",
            "commands": list(DEPLOY_COMMANDS),
            "files": [str(paths.deploy_script(name)) for name in ("deploy", "rollback")],
        },
        "attestations": "reports/attestations.jsonl",
        # The runbook's automatic rollback triggers (golive watch, golive cutover).
        "rollback_triggers": {
            "error_rate": {"above": 0.10, "for_s": 30},
            "p95_ms": {"above": 2000, "for_s": 30},
            "database_down": {"for_s": 10},
            "crash": {"for_s": 0},
        },
        # The runbook's plan (Gate 2, 50 % for 2 min, 100 % for 5 min); `golive demo --cutover` shortens the bakes.
        "cutover": {"interval_s": 1.0, "dns": {"set_identifiers": {env: env for env in ENVIRONMENTS}}},
    }
    text = "# Written by `golive sandbox up`: the golive configuration for the local sandbox.\n"
    text += yaml.safe_dump(config, sort_keys=False, width=200)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _health_keys(dialect: str) -> dict[str, Any]:
    """What golive cannot detect about the dialect's health answers: only the endpoints that are not the health
    path (golive.health recognises every format itself)."""
    keys = {"spring": {"version_path": "/actuator/info"}, "flags": {"ready_path": "/ready"}}.get(dialect)
    return {"health": keys} if keys else {}
