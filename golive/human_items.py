"""The human checklist items: data beside the validations of their area, not code in the engine.

Each area's items live in ``validations/<area>.checklist.yaml``, next to ``validations/test_<area>.py`` whose
attestation check runs one test per item. A release manager edits that file: the checklist sentence, who may
sign it, whether an unsigned item blocks (``critical: true``, a NO-GO) or asks for review. Nothing here has
items of its own: a file that cannot be read, is not a list of well-formed items, or repeats an id is a
configuration error (one line naming the file and the item), so a checklist never silently shrinks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from golive.config import ConfigError, read_yaml, validation_error

SUFFIX = ".checklist.yaml"
VALIDATIONS_ENV_VAR = "GOLIVE_VALIDATIONS"
MAX_FILE_BYTES = 262_144


@dataclass(frozen=True)
class HumanItem:
    id: str
    title: str  # the checklist sentence
    roles: tuple[str, ...]  # who may sign it
    area: str  # the validations file it lives beside, without test_ and .py
    critical: bool = False

    def allows(self, role: str) -> bool:
        return normal_role(role) in {normal_role(allowed) for allowed in self.roles}

    def __str__(self) -> str:
        return self.id


def normal_role(role: str) -> str:
    return " ".join(role.lower().replace("_", " ").replace("-", " ").split())


_Text = Annotated[StrictStr, Field(min_length=1, max_length=300)]


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[StrictStr, Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$", max_length=120)]
    title: _Text
    roles: Annotated[list[_Text], Field(min_length=1)]
    critical: StrictBool = False


def area_of(module_file: str | Path) -> str:
    """``validations/test_team.py`` -> ``team``."""
    return Path(module_file).stem.removeprefix("test_")


def load_area(path: Path) -> tuple[HumanItem, ...]:
    """The items of one ``<area>.checklist.yaml``; raise ConfigError (one line) when it cannot be trusted."""
    area = path.name.removesuffix(SUFFIX)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: the human checklist items of area {area!r} are missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the checklist items ({type(error).__name__})") from None
    raw = read_yaml(text, str(path))
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: (top level): expected a list of items (- id: ..., title: ..., roles: [...])")
    items: list[HumanItem] = []
    for index, entry in enumerate(raw):
        try:
            item = _Item.model_validate(entry)
        except ValidationError as error:
            raise validation_error(str(path), error, (index,)) from None
        items.append(HumanItem(item.id, item.title.strip(), tuple(r.strip() for r in item.roles), area, item.critical))
    _refuse_duplicates(items, path)
    return tuple(items)


def for_module(module_file: str | Path) -> tuple[HumanItem, ...]:
    """The items beside a validations module: ``test_team.py`` reads ``team.checklist.yaml`` next to it."""
    module = Path(module_file)
    return load_area(module.with_name(area_of(module) + SUFFIX))


def load_all(validations_dir: Path) -> tuple[HumanItem, ...]:
    """Every area's items under ``validations_dir``, by file name; an id may appear once in the whole list."""
    if not validations_dir.is_dir():
        raise ConfigError(f"{validations_dir}: no validations directory (pass --validations DIR or set "
                          f"${VALIDATIONS_ENV_VAR})")
    files = sorted(validations_dir.glob(f"*{SUFFIX}"))
    if not files:
        raise ConfigError(f"{validations_dir}: holds no human checklist items (*{SUFFIX})")
    items = [item for path in files for item in load_area(path)]
    _refuse_duplicates(items, validations_dir)
    return tuple(items)


def by_id(items: Iterable[HumanItem]) -> dict[str, HumanItem]:
    return {item.id: item for item in items}


def validations_dir(cli_value: str | None, environ: Mapping[str, str] | None = None,
                    cwd: Path | None = None) -> Path:
    """Where ``golive attest`` and ``golive checklist`` read the items: --validations, $GOLIVE_VALIDATIONS,
    else ./validations."""
    environ = os.environ if environ is None else environ
    chosen = cli_value or environ.get(VALIDATIONS_ENV_VAR) or "validations"
    return (cwd or Path.cwd()) / chosen


def _refuse_duplicates(items: Iterable[HumanItem], where: Path) -> None:
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise ConfigError(f"{where}: item {item.id!r} is declared twice (areas {seen[item.id]} and {item.area})")
        seen[item.id] = item.area
