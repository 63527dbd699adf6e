"""Where the sandbox keeps its things (``Paths``) and what ``state.json`` records (``State``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golive.sandbox import constants as c
from golive.sandbox.processes import ProcessRecord

ENVIRONMENTS = {"blue": (c.BLUE_VERSION, c.BLUE_PORT), "green": (c.GREEN_VERSION, c.GREEN_PORT)}


class SandboxError(Exception):
    """Something the user can act on. ``str()`` is the one line to print."""


def state_dir() -> Path:
    return Path(os.environ.get(c.ENV_STATE_DIR) or c.DEFAULT_STATE_DIR)


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def fault_file(self, env: str) -> Path:
        return self.root / "faults" / f"{env}.json"

    @property
    def standby_data(self) -> Path:
        return self.root / "standby"

    @property
    def prometheus_data(self) -> Path:
        return self.root / "prometheus-data"

    @property
    def prometheus_config(self) -> Path:
        return self.root / "prometheus.yml"

    @property
    def prometheus_rules(self) -> Path:
        return self.root / "alert-rules.yml"

    @property
    def haproxy_config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def haproxy_socket(self) -> Path:
        return self.root / "haproxy.sock"

    def env_file(self, env: str) -> Path:
        return self.root / "env" / f"{env}.env"

    @property
    def source(self) -> Path:
        return self.root / "src"

    @property
    def release_repository(self) -> Path:
        return self.root / "release-repo"

    def deploy_script(self, name: str) -> Path:
        return self.root / "deploy" / f"{name}.sh"


@dataclass
class State:
    """What ``state.json`` holds: processes started, shared-service changes to undo, AWS identifiers."""

    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    restore: dict[str, Any] = field(default_factory=dict)
    aws: dict[str, Any] = field(default_factory=dict)
    app_options: dict[str, str] = field(default_factory=dict)  # c.APP_OPTIONS the apps run with (`up --metrics`)

    @property
    def dialect(self) -> str:
        return self.app_options.get("dialect", c.DEFAULT_DIALECT)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except ValueError as exc:
            raise SandboxError(f"{path}: unreadable sandbox state ({exc}); remove it and run `down`") from None
        return cls(
            processes={name: ProcessRecord.from_json(rec) for name, rec in data.get("processes", {}).items()},
            restore=dict(data.get("restore", {})),
            aws=dict(data.get("aws", {})),
            app_options=dict(data.get("app_options", {})),
        )

    def save(self, path: Path) -> None:
        data = {
            "processes": {name: rec.to_json() for name, rec in self.processes.items()},
            "restore": self.restore,
            "aws": self.aws,
            "app_options": self.app_options,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(path)


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    port: int | None
    ready: Callable[[], str | None]  # None when ready, else what was seen
    env: dict[str, str] | None = None
    user: str | None = None
