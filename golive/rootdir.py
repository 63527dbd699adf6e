"""Keep pytest's rootdir where the project is when a plugin option's value is a path outside it.

pytest picks its rootdir and ini file from the command line's existing paths before any plugin is loaded, when
it does not yet know that ``--golive-config`` takes a value: in ``pytest -m pre --golive-config
/etc/golive/prod.yaml`` it reads ``/etc/golive`` as a test path, roots the run there, reads no
``pyproject.toml`` and no golive run is recognised (every check errors). Once golive is loaded the options
are known, so the rootdir is determined again from the real test paths (``reroot``), before any conftest
is imported. When this pytest's internals are not the ones this was written for, nothing is changed and the
run stops instead with one line saying to write the option as ``--golive-config=PATH`` (``reroot_error``).
"""

from __future__ import annotations

import copy
import itertools
import sys
from pathlib import Path

import pytest

REROOT_ERROR = pytest.StashKey[str]()


def reroot(early_config: pytest.Config, args: list[str]) -> None:
    """Determine rootdir and ini file again with every plugin's options known, and apply them if they differ.

    ``args`` is the list pytest goes on parsing (it holds the ini file's ``addopts`` in front): it is edited
    in place, so the right ini file's ``addopts`` apply instead of the wrong one's.
    """
    try:
        _reroot(early_config, args)
    except (AttributeError, ImportError, TypeError) as error:  # another pytest's internals
        early_config.stash[REROOT_ERROR] = f"{type(error).__name__}: {error}"


def reroot_error(config: pytest.Config) -> str | None:
    """The line to stop with when ``reroot`` could not look (a path option may have moved the rootdir)."""
    why = config.stash.get(REROOT_ERROR, None)
    separate = _separate_path_values(config) if why is not None else []
    if not separate:
        return None
    options = ", ".join(f"{option}={value}" for option, value in separate)
    return (f"pytest may have taken a path option's value for a test path (rootdir {config.rootpath}); "
            f"write it with '=': {options} ({why})")


def _reroot(early_config: pytest.Config, args: list[str]) -> None:
    from _pytest.config.findpaths import determine_setup  # no public API determines a rootdir

    ini_addopts = list(early_config.getini("addopts"))
    addopts_applied = bool(ini_addopts) and args[:len(ini_addopts)] == ini_addopts
    own_args = args[len(ini_addopts):] if addopts_applied else list(args)
    parser = early_config._parser
    namespace = parser.parse_known_args(own_args, namespace=copy.copy(early_config.option))
    rootpath, inipath, inicfg, ignored = determine_setup(
        inifile=namespace.inifilename,
        override_ini=namespace.override_ini,
        args=namespace.file_or_dir,
        rootdir_cmd_arg=namespace.rootdir or None,
        invocation_dir=early_config.invocation_params.dir,
    )
    if rootpath == early_config.rootpath and inipath == early_config.inipath:
        return

    early_config._unconfigure_python_path()  # the wrong ini file's `pythonpath`
    early_config._rootpath = rootpath
    early_config._inipath = inipath
    early_config._inicfg = inicfg
    early_config._ignored_config_files = ignored
    early_config._inicache.clear()
    parser.extra_info["rootdir"] = str(rootpath)
    parser.extra_info["inifile"] = str(inipath)

    # Apply the right ini file's `addopts` when pytest applied the wrong one's (or none, from no ini file).
    if addopts_applied or not ini_addopts:
        new_addopts = early_config._validate_args(early_config.getini("addopts"), "via addopts config")
        args[:] = new_addopts + own_args
        early_config.pluginmanager.consider_preparse(new_addopts, exclude_only=False)
    early_config._checkversion()
    for path in reversed(early_config.getini("pythonpath")):
        sys.path.insert(0, str(path))
    confcutdir_given = namespace.confcutdir is not None
    early_config.known_args_namespace = parser.parse_known_args(args, namespace=copy.copy(early_config.option))
    if not confcutdir_given:
        early_config.known_args_namespace.confcutdir = str(inipath.parent if inipath is not None else rootpath)
    early_config._validate_plugins()


# Options whose value is a path, golive's and pytest-html's; pytest reads a separate value as a test path.
PATH_OPTIONS = ("--golive-config", "--golive-json", "--golive-reports", "--html")


def _separate_path_values(config: pytest.Config) -> list[tuple[str, str]]:
    arguments = [*config.invocation_params.args]
    return [(option, value) for option, value in itertools.pairwise(arguments)
            if option in PATH_OPTIONS and Path(value).exists()]

