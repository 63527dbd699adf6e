"""Bad configuration (issue 12): one line naming the file and the key, exit 2, never a traceback, never a hang.

The loader's bounds in-process, then every command that reads a configuration as a real subprocess with a hard
timeout: a run that hangs (the alias bomb once held a gate for ten minutes) fails by the timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golive.config import MAX_DEPTH, MAX_VALUES, ConfigError, parse_settings
from tests.support import REPO

BASE = """\
release: {version: "2.1.0", previous: "2.0.5"}
environments:
  blue: {url: "http://127.0.0.1:9", role: candidate}
  green: {url: "http://127.0.0.1:9", role: live}
"""
# Billion laughs: nine levels of ten aliases each, 10^9 values once expanded.
ALIAS_BOMB = "laughs:\n  l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha, ha]\n" + "".join(
    f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]\n" for level in range(1, 10)
)
BAD_FILES = {
    "alias-bomb": (ALIAS_BOMB, f"laughs.l4[7]: more than {MAX_VALUES} values once aliases are expanded (line 10)"),
    "deep": ("http: " + "[" * 5000 + "]" * 5000 + "\n",
             f"http[0][0][0][0][0][0][0]...: nested deeper than {MAX_DEPTH} levels (line 5)"),
    "unhashable-key": ("http:\n  ? [a, b]\n  : 1\n", "http: a key is a list or mapping; keys are plain names (line 6)"),
    "boolean-timeout": ("http: {timeout_s: true}\n", "http.timeout_s: expected a number, not true or false"),
}  # fmt: skip


def error_of(addition: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(BASE + addition, Path("golive.yaml"), "--golive-config", {})
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        # Not the alias bomb: it would hang this process where golive has no bound (a subprocess test runs it).
        *(pytest.param(text, f"golive.yaml: {expected}", id=case) for case, (text, expected) in BAD_FILES.items()
          if case != "alias-bomb"),
        pytest.param("http: &h {x: *h}\n",
                     "golive.yaml: http.x: alias *h refers to the block that contains it (line 5)", id="cycle"),
        pytest.param("http: {verify_tls: 1}\n", "golive.yaml: http.verify_tls: expected true or false, not a number",
                     id="number-for-a-flag"),
        pytest.param("http: {endpoints: [{path: /a, expect: [200, false]}]}\n",
                     "golive.yaml: http.endpoints[0].expect[1]: expected a number, not true or false", id="in-a-list"),
        pytest.param("thresholds: {cert_min_days: yes}\n",
                     "golive.yaml: thresholds.cert_min_days: expected a number, not true or false", id="yes"),
        pytest.param("postgres: {dsn: 'postgresql://h/db', business_metrics: [{name: m, sql: 'SELECT 1', min: on}]}\n",
                     "golive.yaml: postgres.business_metrics[0].min: expected a number, not true or false",
                     id="optional-number"),
        pytest.param("redis: {url: 'redis://h'}\nextra: 1\n", "golive.yaml: extra: unknown key", id="unknown-key"),
        pytest.param("postgres: {dsn: 'postgresql://h/db', schema_version: {query: 'SELECT 1; SELECT 2', expect: x}}\n",
                     "golive.yaml: postgres.schema_version.query: holds 2 SQL statements; configured SQL runs as "
                     "exactly one read-only statement", id="two-statements"),
        pytest.param("synthetic: {post_path: /a, get_path: /b, sql: ' -- nothing'}\n",
                     "golive.yaml: synthetic.sql: holds no SQL statement", id="no-statement"),
        pytest.param("x: '" + "a" * 1_048_576 + "'\n",
                     "golive.yaml: (top level): the file is larger than 1048576 characters", id="too-large"),
    ],
)  # fmt: skip
def test_bad_yaml_and_values_are_one_line_naming_the_key(addition, expected):
    assert error_of(addition) == expected


def test_what_stays_accepted():
    shared = BASE.replace("  green:", "  green: &env", 1)
    text = (shared.replace("role: live}", "role: live}\n  red: {<<: *env, role: null}")
            + "http: {timeout_s: '2', verify_tls: false, endpoints: [{path: /a, expect: [200]}]}\n"
            + "thresholds: {p95_ms: 150, error_rate: 0}\n"
            + "postgres: {dsn: 'postgresql://h/db', schema_version: {query: \"SELECT ';' -- one;\", expect: x}}\n"
            + "synthetic: {post_path: /a, get_path: /b, sql: 'SELECT status FROM t WHERE id = %(id)s;', "
            + "body: {urgent: true, count: 1}}\n")  # fmt: skip
    settings = parse_settings(text, Path("golive.yaml"), "--golive-config", {})
    document = settings.document
    assert (document.http.timeout_s, document.http.verify_tls, document.thresholds.p95_ms) == (2.0, False, 150.0)
    assert settings.environments["red"].url == "http://127.0.0.1:9"  # a merge key (an alias) is fine
    assert document.synthetic is not None and document.synthetic.body == {"urgent": True, "count": 1}


def test_a_per_environment_section_is_held_to_the_same_types():
    text = BASE.replace("role: candidate}", "role: candidate, redis: {timeout_s: on}}") + "redis: {url: 'redis://h'}\n"
    with pytest.raises(ConfigError, match=r"^golive.yaml: environments.blue.redis.timeout_s: expected a number, not"):
        parse_settings(text, Path("golive.yaml"), "--golive-config", {})


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}


def _run_all(commands: dict[str, list[str]]) -> dict[str, tuple[int, str, str]]:
    """Run the commands side by side; each must end within the hard timeout (a hang fails the test)."""
    started = {
        name: subprocess.Popen(command, cwd=REPO, env=_environ(), text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        for name, command in commands.items()
    }  # fmt: skip
    results = {}
    try:
        for name, process in started.items():
            stdout, stderr = process.communicate(timeout=60)
            results[name] = (process.returncode, stdout, stderr)
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_every_command_that_reads_the_configuration_says_one_line(case, tmp_path):
    text, expected = BAD_FILES[case]
    config = tmp_path / f"{case}.yaml"
    config.write_text(BASE + text)
    reports = tmp_path / "reports"
    golive = [sys.executable, "-m", "golive"]
    commands = {
        "pytest": [sys.executable, "-m", "pytest", "-m", "pre", f"--golive-config={config}",
                   f"--golive-reports={reports}", "-p", "no:cacheprovider", "-q"],
        "dashboard": [*golive, "dashboard", "--golive-config", str(config)],
        "watch": [*golive, "watch", "--golive-config", str(config), "--duration", "1"],
    }  # fmt: skip
    if case in {"alias-bomb", "unhashable-key"}:  # through golive gate too (its child pytest reads it the same way)
        commands["gate"] = [*golive, "gate", "1", "--golive-config", str(config), "--golive-reports", str(reports)]
    results = _run_all(commands)
    line = f"golive: {config.name}: {expected}"
    for name, (code, stdout, stderr) in results.items():
        assert code == 2, (name, stdout, stderr)
        assert "Traceback" not in stdout + stderr, name
        assert stderr.splitlines() == [f"Exit: {line}" if name in {"pytest", "gate"} else line], (name, stderr)
    assert json.loads((reports / "latest-pre.json").read_text())["reasons"] == [f"configuration: {line[8:]}"]


def test_a_reports_path_that_is_not_a_directory_is_one_line(tmp_path):
    config = tmp_path / "golive.yaml"
    config.write_text(BASE)
    not_a_directory = tmp_path / "reports.txt"
    not_a_directory.write_text("a file\n")
    record = tmp_path / "record.json"
    results = _run_all({
        "pytest": [sys.executable, "-m", "pytest", "-m", "pre", f"--golive-config={config}",
                   f"--golive-reports={not_a_directory}", f"--golive-json={record}", "-p", "no:cacheprovider", "-q"],
        "gate": [sys.executable, "-m", "golive", "gate", "1", "--golive-config", str(config),
                 "--golive-reports", f"{not_a_directory}/sub"],
    })  # fmt: skip
    expected = {
        "pytest": f"Exit: golive: --golive-reports {not_a_directory}: not a directory",
        "gate": f"Exit: golive: --golive-reports {not_a_directory}/sub: cannot create it (Not a directory)",
    }
    for name, (code, stdout, stderr) in results.items():
        assert code == 2, (name, stdout, stderr)
        assert "Traceback" not in stdout + stderr and "INTERNALERROR" not in stdout + stderr, name
        assert stderr.splitlines() == [expected[name]], (name, stderr)
    # The NO-GO still goes where it was asked for; nothing was written beside the file.
    document = json.loads(record.read_text())
    assert (document["verdict"], document["reasons"]) == (
        "NO-GO", [f"configuration: --golive-reports {not_a_directory}: not a directory"]
    )
    assert not_a_directory.read_text() == "a file\n"
