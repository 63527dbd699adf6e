"""The golive configuration: one YAML file, validated, interpolated from the environment, credentials known.

``load_settings`` turns a file into ``Settings`` or raises ``ConfigError`` whose message is one line naming
the file and the key path (``golive.yaml: postgres.replicas[0]: not a PostgreSQL DSN``). Messages never carry
the offending value, so a bad password-bearing DSN cannot leak through an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, NoReturn, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from golive.config_commands import CutoverStep  # noqa: F401  (re-exported)
from golive.config_model import (  # the sections; the names other modules use are re-exported from here
    _SECTION_MODELS,
    MAX_BODY_BYTES,  # noqa: F401  (re-exported)
    SERVICE_SECTIONS,
    AlbLoadBalancer,  # noqa: F401  (re-exported)
    Aws,
    Cutover,  # noqa: F401  (re-exported)
    Document,
    EnvironmentSection,
    HaproxyLoadBalancer,  # noqa: F401  (re-exported)
    Http,
    Postgres,
    Prometheus,
    QueuePolicy,  # noqa: F401  (re-exported)
    RabbitMQ,
    Redis,
    Release,
    RollbackTriggers,  # noqa: F401  (re-exported)
    Synthetic,  # noqa: F401  (re-exported)
    Thresholds,  # noqa: F401  (re-exported)
    Trigger,  # noqa: F401  (re-exported)
)
from golive.config_types import (  # noqa: F401  (re-exported)
    _amqp_url,
    _Mistyped,
    _postgres_dsn,
    _redis_url,
)
from golive.masking import Masker, is_secret_env_name, secrets_of

DEFAULT_CONFIG = "golive.yaml"
CONFIG_ENV_VAR = "GOLIVE_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used. ``str()`` is the one line to show."""


# --- the validated result ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentView:
    """One environment with every service section resolved (shared section, overridden per environment)."""

    name: str
    role: str | None
    url: str
    expected_version: str | None
    host: str
    process: str | None
    log_file: str | None
    env_file: str | None
    required_env: tuple[str, ...]
    http: Http
    postgres: Postgres | None
    rabbitmq: RabbitMQ | None
    redis: Redis | None
    prometheus: Prometheus | None
    aws: Aws | None

    def timeout_s(self, section: str) -> float:
        """The network timeout for a component: its own ``timeout_s``, else ``http.timeout_s``."""
        own = getattr(getattr(self, section, None), "timeout_s", None)
        return float(own if own is not None else self.http.timeout_s)

    def max_timeout_s(self) -> float:
        """The longest network timeout of any component configured for this environment (what bounds of a
        dashboard frame or a watch reading are made of)."""
        sections = ("postgres", "rabbitmq", "redis", "prometheus", "aws")
        return max([self.timeout_s(name) for name in sections if getattr(self, name, None) is not None]
                   + [self.http.timeout_s])  # fmt: skip


@dataclass(frozen=True)
class Settings:
    path: Path
    source: str
    document: Document
    environments: dict[str, EnvironmentView]
    masker: Masker = field(default_factory=Masker)

    @property
    def release(self) -> Release:
        return self.document.release

    @property
    def attestations_path(self) -> Path:
        return self.path.parent / self.document.attestations.file

    def configured(self, view: EnvironmentView, key: str) -> bool:
        """Whether the configuration gives ``key`` (a path of ``key_paths``) for the environment ``view``.

        Service sections (``postgres.schema_version``) are the environment's resolved ones, ``environments[]``
        is this environment (``environments[].log_file``), the rest the document's (``synthetic``); ``[]`` is
        any item of a list or value of a mapping (``rabbitmq.queues[].min_consumers``). Absent, None and empty
        collections are not configured; a path that names no configuration key raises ValueError (a typo must
        not read as "not configured").
        """
        if key not in key_paths():
            raise ValueError(f"{key!r} names no configuration key")
        segments = key.replace("[]", ".[]").split(".")
        root: Any = view if segments[0] in SERVICE_SECTIONS else self.document
        if segments[:2] == ["environments", "[]"]:
            root, segments = self.document.environments[view.name], segments[2:]
        return _given(root, segments)

    def environment_by_role(self, role: str) -> EnvironmentView | None:
        matches = [view for view in self.environments.values() if view.role == role]
        return matches[0] if matches else None

    def select(self, name: str | None) -> EnvironmentView:
        """The environment under test: ``--env NAME``, else the one whose role is ``candidate``."""
        if name is not None:
            if name not in self.environments:
                known = ", ".join(sorted(self.environments))
                raise ConfigError(f"{self.path.name}: --env {name}: no such environment (have: {known})")
            return self.environments[name]
        candidate = self.environment_by_role("candidate")
        if candidate is None:
            raise ConfigError(
                f"{self.path.name}: environments: no environment has role candidate; pass --env NAME"
            )
        return candidate


def _given(value: Any, segments: list[str]) -> bool:
    if value is None or (isinstance(value, str | list | tuple | dict) and not value):
        return False
    if not segments:
        return True
    head, rest = segments[0], segments[1:]
    if head == "[]":
        items = value.values() if isinstance(value, Mapping) else value
        return any(_given(item, rest) for item in items)
    return _given(value.get(head) if isinstance(value, Mapping) else getattr(value, head, None), rest)


# --- the keys ----------------------------------------------------------------------------------------


@cache
def key_paths() -> tuple[str, ...]:
    """Every key path the configuration model accepts, derived from it (nothing hard-coded): sections and their
    keys (``postgres.schema_version.query``), ``[]`` for each item of a list or value of a mapping
    (``environments[].url``, ``rabbitmq.queues[].min_consumers``), both load balancer kinds. A per-environment
    service section is one path (``environments[].postgres``): its keys are the shared section's."""
    found: dict[str, None] = {}
    _walk(Document, "", found)
    return tuple(found)


def _walk(annotation: Any, path: str, found: dict[str, None]) -> None:
    origin = get_origin(annotation)
    if origin is Annotated:
        _walk(get_args(annotation)[0], path, found)
    elif origin in (Union, UnionType):
        for member in get_args(annotation):
            if member is not NoneType:
                _walk(member, path, found)
    elif origin in (list, tuple, set, frozenset):
        _walk(get_args(annotation)[0], f"{path}[]", found)
    elif origin is dict:
        _walk(get_args(annotation)[1], f"{path}[]", found)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            key = f"{path}.{name}" if path else name
            found[key] = None
            if not (annotation is EnvironmentSection and name in SERVICE_SECTIONS):
                _walk(info.annotation, key, found)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file (for editors: yaml-language-server and the like)."""
    schema = Document.model_json_schema()
    defs = schema["$defs"]
    # A per-environment section is merged over the shared one: the same keys, none of them required.
    overrides = defs["EnvironmentSection"]["properties"]
    for section, model in _SECTION_MODELS.items():
        name = f"{model.__name__}Override"
        defs[name] = {key: value for key, value in defs[model.__name__].items() if key != "required"}
        defs[name]["title"] = f"{section}, for this environment (merged over the shared section)"
        overrides[section] = {"anyOf": [{"$ref": f"#/$defs/{name}"}, {"type": "null"}], "default": None}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "golive configuration"}


def given_paths(model: BaseModel, path: str = "") -> set[str]:
    """The key paths a validated document (or section) was given explicitly, in ``key_paths`` notation."""
    found: set[str] = set()
    for name in model.model_fields_set:
        key = f"{path}.{name}" if path else name
        found.add(key)
        if not (isinstance(model, EnvironmentSection) and name in SERVICE_SECTIONS):
            found |= _given_in(getattr(model, name), key)
    return found


def _given_in(value: Any, path: str) -> set[str]:
    if isinstance(value, BaseModel):
        return given_paths(value, path)
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, list | tuple) else ()
    found: set[str] = set()
    for item in items:
        found |= _given_in(item, f"{path}[]")
    return found


# --- loading -----------------------------------------------------------------------------------------


def resolve_path(cli_value: str | None, environ: Mapping[str, str], cwd: Path) -> tuple[Path, str]:
    """Where the configuration comes from: ``--golive-config``, else ``$GOLIVE_CONFIG``, else ./golive.yaml."""
    if cli_value:
        return (cwd / cli_value), "--golive-config"
    if environ.get(CONFIG_ENV_VAR):
        return (cwd / environ[CONFIG_ENV_VAR]), f"${CONFIG_ENV_VAR}"
    return (cwd / DEFAULT_CONFIG), "default"


# What a configuration file may hold. Real files are a few hundred values a few levels deep; YAML aliases can make
# a file of a few lines expand to billions of values (an "alias bomb"), and deep nesting exhausts the parser's
# recursion. Anchors and aliases stay allowed (they are how YAML shares a block), bounded by what they expand to.
MAX_CONFIG_CHARS = 1_048_576
MAX_DEPTH = 64
MAX_VALUES = 100_000


class _Refused(yaml.YAMLError):
    """The file is valid YAML that golive will not read (too big, too deep, a key that is not a plain value)."""

    def __init__(self, loc: tuple[Any, ...], problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.loc, self.problem, self.mark = loc, problem, mark


class _ConfigLoader(yaml.SafeLoader):
    """A safe loader that bounds what a file expands to and refuses duplicate and non-scalar keys.

    While composing it counts every value, an alias counting as all the values it stands for, and refuses a
    document above ``MAX_VALUES`` of them, nested deeper than ``MAX_DEPTH``, or with an alias inside the very
    block it names; errors carry the key path where they happened.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._loc: list[Any] = []
        self._values = 0
        self._sizes: dict[int, int] = {}  # id(node) -> the values it expands to, once it is composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        part = _loc_part(parent, index)
        if part is not None:
            self._loc.append(part)
        try:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                target = self.anchors.get(event.anchor)  # an undefined alias is the composer's own error
                if target is not None:
                    size = self._sizes.get(id(target))
                    if size is None:
                        self._refuse(f"alias *{event.anchor} refers to the block that contains it", event)
                    self._count(size, event)
                node = super().compose_node(parent, index)
            else:
                event = self.peek_event()
                if len(self._loc) >= MAX_DEPTH:
                    self._refuse(f"nested deeper than {MAX_DEPTH} levels", event)
                before = self._values
                node = super().compose_node(parent, index)
                self._sizes[id(node)] = self._values - before + 1
                self._count(1, event)
            if isinstance(parent, yaml.MappingNode) and index is None and not isinstance(node, yaml.ScalarNode):
                self._refuse("a key is a list or mapping; keys are plain names", event)
            assert node is not None  # an event always composes to a node
            return node
        finally:
            if part is not None:
                self._loc.pop()

    def _count(self, values: int, event: yaml.Event) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            self._refuse(f"more than {MAX_VALUES} values once aliases are expanded", event)

    def _refuse(self, problem: str, event: yaml.Event) -> NoReturn:
        raise _Refused(tuple(self._loc), problem, event.start_mark)


def _loc_part(parent: yaml.Node | None, index: Any) -> Any:
    """The key path segment of the node composed at ``index`` of ``parent`` (None: the document, or a key)."""
    if isinstance(index, int):
        return index
    if isinstance(index, yaml.ScalarNode):
        return index.value
    return None


def _construct_mapping(loader: _ConfigLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # The keys written here, before merge keys (<<: *base) bring theirs in: those a written key overrides.
    seen: set[Any] = set()
    for key_node, _value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        mark = key_node.start_mark
        try:
            duplicate = key in seen
        except TypeError:  # unhashable: the composer refuses list and mapping keys, this is the last guard
            raise yaml.constructor.ConstructorError(None, None, "a key is not a plain value", mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_ConfigLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$\{(?P<bad>[^}]*)\}?")


def format_location(loc: tuple[Any, ...]) -> str:
    """('postgres', 'replicas', 0) -> 'postgres.replicas[0]'; odd keys are quoted: queues["agent.tasks"]."""
    text = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself was invalid"
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(part)):
            text += ("." if text else "") + str(part)
        else:
            text += f'["{part}"]'
    return text or "(top level)"


def _interpolate(value: Any, loc: tuple[Any, ...], environ: Mapping[str, str], masker: Masker, name: str) -> Any:
    if isinstance(value, dict):
        return {key: _interpolate(item, (*loc, key), environ, masker, name) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, (*loc, index), environ, masker, name) for index, item in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("bad") is not None or match.group("name") is None:
            raise ConfigError(f"{name}: {format_location(loc)}: malformed ${{...}} reference")
        var = match.group("name")
        if var in environ:
            result = environ[var]
        elif match.group("default") is not None:
            result = match.group("default")
        else:
            raise ConfigError(f"{name}: {format_location(loc)}: environment variable {var} is not set")
        if is_secret_env_name(var):
            masker.add(result)
        return result

    return _VAR.sub(substitute, value)


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if isinstance(error.get("input"), _Mistyped):
        return str(error["input"].expected)
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in {"model_type", "dict_type"}:
        return "expected a mapping of keys"
    if kind in {"string_type", "str_type"}:
        return "expected a string (quote values such as versions: \"2.1.0\")"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def validation_error(name: str, error: ValidationError, prefix: tuple[Any, ...] = ()) -> ConfigError:
    # Inputs only to recognise a _Mistyped: never printed (a value may be a password).
    problems = error.errors(include_url=False)
    # A misspelt key also leaves the real one missing: name the misspelling first, it is what to fix.
    problems.sort(key=lambda problem: problem["type"] != "extra_forbidden")
    first = problems[0]
    loc = tuple(first["loc"])
    if loc[:1] == ("load_balancer",) and loc[1:2] in {("alb",), ("haproxy",)}:
        loc = loc[:1] + loc[2:]  # pydantic names the union member; users never wrote it
    more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
    return ConfigError(f"{name}: {format_location((*prefix, *loc))}: {_describe(first)}{more}")


def _merge(shared: Mapping[str, Any] | None, override: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(shared or {})
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _environment_view(
    name: str, env_name: str, env: EnvironmentSection, document: Document, raw: Mapping[str, Any]
) -> EnvironmentView:
    sections: dict[str, Any] = {}
    for section in SERVICE_SECTIONS:
        override = getattr(env, section)
        shared = getattr(document, section)
        if override is None:
            sections[section] = shared
            continue
        merged = _merge(raw.get(section) if isinstance(raw.get(section), Mapping) else None, override)
        try:
            sections[section] = TypeAdapter(_SECTION_MODELS[section]).validate_python(merged)
        except ValidationError as error:
            raise validation_error(name, error, ("environments", env_name, section)) from None
    if env.version is not None:
        expected: str | None = env.version
    elif env.role == "candidate":
        expected = document.release.version
    elif env.role == "live":
        expected = document.release.previous
    else:
        expected = None
    return EnvironmentView(
        name=env_name,
        role=env.role,
        url=env.url.rstrip("/"),
        expected_version=expected,
        host=env.host,
        process=env.process,
        log_file=env.log_file,
        env_file=env.env_file,
        required_env=tuple(env.required_env),
        **sections,
    )


def _collect_secrets(document: Document, views: Mapping[str, EnvironmentView], masker: Masker) -> None:
    """Every credential a configured URL, DSN or path carries (userinfo, secret-named query parameters)."""
    shared: list[str] = []
    if document.load_balancer and document.load_balancer.front_url:
        shared.append(document.load_balancer.front_url)
    if document.security:
        shared += document.security.public_urls
    if document.synthetic:
        synthetic = document.synthetic
        shared += [synthetic.post_path, synthetic.get_path, synthetic.delete_path or ""]
    masker.add(*(secret for url in shared for secret in secrets_of(url)))
    for view in views.values():
        urls: list[str] = []
        if view.aws and view.aws.endpoint_url:
            urls.append(view.aws.endpoint_url)
        if view.postgres:
            urls += [view.postgres.dsn, *view.postgres.replicas]
        if view.rabbitmq:
            urls.append(view.rabbitmq.url)
            if view.rabbitmq.management_url:
                urls.append(view.rabbitmq.management_url)
        if view.redis:
            urls.append(view.redis.url)
        if view.prometheus:
            urls.append(view.prometheus.url)
        urls.append(view.url)
        # Paths may carry credentials in their query strings (?access_token=...), integrations in their URLs.
        http = view.http
        urls += [http.health_path, http.health.ready_path or "", http.health.version_path or "",
                 *(e.path for e in http.endpoints), *http.sampling_paths, *(i.url for i in http.integrations)]
        masker.add(*(secret for url in urls for secret in secrets_of(url)))


def read_yaml(text: str, name: str) -> Any:
    """Parse YAML golive reads (the configuration, the checklist files) within the bounds above.

    Raise ConfigError with one line naming ``name`` and where it went wrong.
    """
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigError(f"{name}: (top level): the file is larger than {MAX_CONFIG_CHARS} characters")
    try:
        raw = yaml.load(text, Loader=_ConfigLoader)
    except _Refused as error:
        line = f" (line {error.mark.line + 1})" if error.mark else ""
        where = format_location(error.loc[:8]) + ("..." if len(error.loc) > 8 else "")
        raise ConfigError(f"{name}: {where}: {error.problem}{line}") from None
    except RecursionError:  # the bounds above should make this unreachable: still one line, never a traceback
        raise ConfigError(f"{name}: (top level): nested too deeply") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        raise ConfigError(f"{name}: {where}: not valid YAML ({error.problem})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{name}: not valid YAML ({type(error).__name__})") from None
    return raw


def parse_settings(text: str, path: Path, source: str, environ: Mapping[str, str]) -> Settings:
    """Validate configuration text; raise ConfigError with one line naming the file and key path."""
    name = path.name
    raw = read_yaml(text, name)
    if raw is None:
        raise ConfigError(f"{name}: (top level): the file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: (top level): expected a mapping of sections, got {type(raw).__name__}")
    masker = Masker()
    raw = _interpolate(raw, (), environ, masker, name)
    try:
        document = Document.model_validate(raw)
    except ValidationError as error:
        raise validation_error(name, error) from None

    for role in ("candidate", "live"):
        holders = [env_name for env_name, env in document.environments.items() if env.role == role]
        if len(holders) > 1:
            raise ConfigError(
                f"{name}: environments: more than one environment has role {role} ({', '.join(holders)})"
            )
    views = {
        env_name: _environment_view(name, env_name, env, document, raw)
        for env_name, env in document.environments.items()
    }
    _collect_secrets(document, views, masker)
    return Settings(path=path, source=source, document=document, environments=views, masker=masker)


def load_settings(path: Path, source: str, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    if not path.is_file():
        hint = "" if source != "default" else f" (pass --golive-config PATH or set ${CONFIG_ENV_VAR})"
        raise ConfigError(f"{path}: configuration file not found{hint}")
    try:
        if path.stat().st_size > 4 * MAX_CONFIG_CHARS:  # not even read: UTF-8 takes at most 4 bytes a character
            raise ConfigError(f"{path}: (top level): the file is larger than {MAX_CONFIG_CHARS} characters")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration ({type(error).__name__})") from None
    return parse_settings(text, path, source, environ)
