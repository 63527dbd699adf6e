"""Where decision records, reports, the timeline, journals and runs go: the one rule, for the plugin and every
command.

``--golive-reports DIR`` (``--reports DIR`` too, the older spelling), else ``$GOLIVE_REPORTS``, else the ini's
``golive_reports``, else ``reports``. A relative ``--golive-reports`` or ``$GOLIVE_REPORTS`` is taken from the
working directory; the ini's value, and the default, from the directory of the ini file pytest uses (its rootdir),
or the working directory when there is none. The plugin is given pytest's own ini reading (``IniSetting`` from
``config.getini``); a command finds the ini file the way pytest does (``find_ini``): upward from the working
directory, the first of ``pytest.toml``, ``.pytest.toml``, ``pytest.ini``, ``.pytest.ini``, ``pyproject.toml``
(``[tool.pytest]`` or ``[tool.pytest.ini_options]``), ``tox.ini`` (``[pytest]``), ``setup.cfg``
(``[tool:pytest]``) that holds pytest's configuration.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import iniconfig

OPTION = "--golive-reports"
ALIAS = "--reports"  # the spelling commands had before --golive-reports: kept, scripts use it
VARIABLE = "GOLIVE_REPORTS"
INI_KEY = "golive_reports"
DEFAULT = "reports"
RULE = f"{OPTION}, else ${VARIABLE}, else the ini's {INI_KEY}, else ./{DEFAULT}"


@dataclass(frozen=True)
class IniSetting:
    """What the ini file says: ``golive_reports`` (None when it does not set it), the directory its values are
    read from, and the file (None without one)."""

    value: str | None
    root: Path
    path: Path | None = None


@dataclass(frozen=True)
class ReportsDir:
    """The reports directory and where that came from (``--golive-reports``, ``$GOLIVE_REPORTS``, ...)."""

    path: Path
    source: str

    @property
    def named(self) -> str:
        """How a one-line message names it: ``--golive-reports DIR``, ``$GOLIVE_REPORTS DIR``, ..."""
        if self.source in (OPTION, f"${VARIABLE}"):
            return f"{self.source} {self.path}"
        return f"reports directory {self.path} ({self.source})"


def resolve(given: str | Path | None, environ: Mapping[str, str], start: Path,
            ini: IniSetting | None = None) -> ReportsDir:
    """The reports directory by the one rule; ``start`` is the working directory, ``ini`` what the ini file says
    (looked up from ``start`` when not given)."""
    if given:
        return ReportsDir(start / Path(given), OPTION)
    if environ.get(VARIABLE):
        return ReportsDir(start / environ[VARIABLE], f"${VARIABLE}")
    ini = ini if ini is not None else find_ini(start)
    if ini.value:
        where = ini.path.name if ini.path is not None else "the ini file"
        return ReportsDir(ini.root / ini.value, f"{INI_KEY} in {where}")
    return ReportsDir(ini.root / DEFAULT, "default")


def find_ini(start: Path) -> IniSetting:
    """pytest's configuration file for a run started in ``start`` with no path arguments, and its
    ``golive_reports``. A file pytest would refuse (unparsable) counts as one that does not set it: the gate run
    then stops on it with pytest's own message."""
    first_pyproject: Path | None = None
    for base in (start, *start.parents):
        for name in _LOADERS:
            candidate = base / name
            if not candidate.is_file():
                continue
            if name == "pyproject.toml" and first_pyproject is None:
                first_pyproject = candidate
            try:
                section = _LOADERS[name](candidate)
            except (OSError, UnicodeDecodeError, ValueError, iniconfig.ParseError):
                section = None
            if section is not None:
                value = section.get(INI_KEY)
                return IniSetting(str(value) if value not in (None, "") else None, base, candidate)
    if first_pyproject is not None:
        return IniSetting(None, first_pyproject.parent, first_pyproject)
    return IniSetting(None, start)


Loader = Callable[[Path], "Mapping[str, object] | None"]


def _ini_section(section: str, always: bool = False) -> Loader:
    """A loader of an ini-style file's ``[section]``; ``always``: the file is pytest's even without it."""

    def load(path: Path) -> Mapping[str, object] | None:
        parsed = iniconfig.IniConfig(str(path))
        if section in parsed:
            return dict(parsed[section].items())
        return {} if always else None

    return load


def _toml_pytest(path: Path) -> Mapping[str, object] | None:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    table = document.get("pytest")
    return table if isinstance(table, dict) else {}


def _toml_tool_pytest(path: Path) -> Mapping[str, object] | None:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    tool = document.get("tool")
    table = tool.get("pytest") if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        return None
    native = {key: value for key, value in table.items() if key != "ini_options"}
    if native:
        return native
    options = table.get("ini_options")
    return options if isinstance(options, dict) else None


_LOADERS: dict[str, Loader] = {
    "pytest.toml": _toml_pytest, ".pytest.toml": _toml_pytest,
    "pytest.ini": _ini_section("pytest", always=True), ".pytest.ini": _ini_section("pytest", always=True),
    "pyproject.toml": _toml_tool_pytest, "tox.ini": _ini_section("pytest"), "setup.cfg": _ini_section("tool:pytest"),
}


def add_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--golive-reports DIR`` (and ``--reports DIR``) on a command; resolve it with ``resolve``."""
    parser.add_argument(OPTION, ALIAS, dest="reports", metavar="DIR", default=None,
                        help=f"{what} (default: ${VARIABLE}, else the ini's {INI_KEY}, else ./{DEFAULT})")
