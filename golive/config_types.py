"""The configuration's value types and the base of every section (strict, frozen, no unknown key).

Validators raise ``ValueError`` with a message that never carries the offending value. golive.config_model
builds the sections on these; import the sections from ``golive.config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, model_validator

from golive import promql
from golive.sqltext import statement_count

# --- value types -------------------------------------------------------------------------------------


def _url_check(value: str, schemes: tuple[str, ...], what: str, need_host: bool = True) -> str:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise ValueError(what) from None
    if parts.scheme not in schemes or (need_host and not parts.hostname):
        raise ValueError(what)
    return value


def _http_url(value: str) -> str:
    return _url_check(value, ("http", "https"), "not an http(s) URL")


def _postgres_dsn(value: str) -> str:
    what = "not a PostgreSQL DSN"
    if "://" in value:
        _url_check(value, ("postgresql", "postgres"), what)
        return value
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(value)
    except Exception:
        raise ValueError(what) from None
    if not params.get("host") and not params.get("dbname"):
        raise ValueError(what)
    return value


def _amqp_url(value: str) -> str:
    return _url_check(value, ("amqp", "amqps"), "not an AMQP URL (amqp://user:password@host:port/vhost)")


def _redis_url(value: str) -> str:
    if value.startswith("unix://"):
        return value
    return _url_check(value, ("redis", "rediss"), "not a Redis URL (redis://host:port/db)")


def _relative_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with /")
    return value


def _query_template(value: str) -> str:
    """A PromQL template: ``{job}`` and ``{window}`` filled in by str.format, PromQL's own braces doubled."""
    try:
        promql.selectors(value.format(job="job", window="1m"))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"not a query template ({exc}): write PromQL's braces as {{{{ and }}}}, placeholders {{job}} and {{window}}"
        ) from None
    return value


@dataclass(frozen=True)
class _Mistyped:
    """Stands for a boolean given as a number or a number given as a boolean: no field type accepts it."""

    expected: str  # what the key takes, for the error line


def _unmistaken(value: Any, annotation: Any) -> Any:
    """``value`` with every boolean where ``annotation`` expects a number, and every number where it expects a
    boolean, replaced by a ``_Mistyped`` (looking into lists and mappings; sections check their own fields)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unmistaken(value, get_args(annotation)[0])
    if origin in (Union, UnionType):
        members = [member for member in get_args(annotation) if member is not NoneType]
        if Any in members or (isinstance(value, bool) and bool in members):
            return value
        fixed = [_unmistaken(value, member) for member in members]
        return fixed[0] if all(isinstance(item, _Mistyped) for item in fixed) else value
    if origin in (list, tuple, set, frozenset) and isinstance(value, list):
        return [_unmistaken(item, get_args(annotation)[0]) for item in value]
    if origin is dict and isinstance(value, dict):
        return {key: _unmistaken(item, get_args(annotation)[1]) for key, item in value.items()}
    if annotation in (int, float) and isinstance(value, bool):
        return _Mistyped("expected a number, not true or false")
    if annotation is bool and isinstance(value, int | float) and not isinstance(value, bool):
        return _Mistyped("expected true or false, not a number")
    return value


def _one_statement(value: str) -> str:
    """Configured SQL runs as exactly one read-only statement: refuse more (or none) when the file is read."""
    count = statement_count(value)
    if count != 1:
        raise ValueError(
            "holds no SQL statement" if count == 0
            else f"holds {count} SQL statements; configured SQL runs as exactly one read-only statement"
        )
    return value


HttpUrl = Annotated[StrictStr, AfterValidator(_http_url)]
PostgresDsn = Annotated[StrictStr, AfterValidator(_postgres_dsn)]
AmqpUrl = Annotated[StrictStr, AfterValidator(_amqp_url)]
RedisUrl = Annotated[StrictStr, AfterValidator(_redis_url)]
UrlPath = Annotated[StrictStr, AfterValidator(_relative_path)]
Seconds = Annotated[float, Field(gt=0, le=3600)]
Ratio = Annotated[float, Field(ge=0, le=1)]
NonEmpty = Annotated[StrictStr, Field(min_length=1)]
QueryTemplate = Annotated[StrictStr, Field(min_length=1), AfterValidator(_query_template)]
Sql = Annotated[StrictStr, Field(min_length=1), AfterValidator(_one_statement)]  # run by golive.probes.postgres


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data: Any) -> Any:
        """pydantic reads ``true`` as 1 for a number (``timeout_s: true`` would be one second) and 1 as true for
        a flag: such a value is replaced by one no type accepts, so the key fails as any other wrong type does.
        Numbers still come as ints, floats or strings (``${VAR}``)."""
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {key: _unmistaken(value, fields[key].annotation) if key in fields else value
                for key, value in data.items()}
