"""The gate table (golive/gates.py) is the one place gates are defined, and it agrees with markers.ini."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from golive import gates, record
from golive.markers import declared_markers, gate_markers, gate_table_problem


def test_the_table_agrees_with_markers_ini():
    assert gate_table_problem() is None
    assert sorted(marker for gate in gates.GATES for marker in gate.markers) == sorted(gate_markers())


def _declared() -> list[tuple[str, str]]:
    return [(m.bare_name, m.description) for m in declared_markers() if m.group == "gates"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda entries: [*entries, ("canary", "a gate nobody runs")], "declares 'canary', which no gate"),
        (lambda entries: [e for e in entries if e[0] != "data_integrity"], "runs marker 'data_integrity', undeclared"),
        (lambda entries: [(n, "Gate 1: pre-deployment go/no-go") if n == "pre" else (n, d) for n, d in entries],
         "must start with 'Gate 1: pre-deployment go/no-go' and name (Release Manager)"),
        (lambda entries: [(n, "Gate 9: other (Release Manager)") if n == "pre" else (n, d) for n, d in entries],
         "markers.ini [gates] pre: the description must start with"),
    ],
)
def test_a_drifted_markers_ini_is_named(edit, message):
    with pytest.raises(gates.GateTableError, match=re.escape(message)):
        gates.check_against_markers(edit(_declared()))


@pytest.mark.parametrize("gate", gates.GATES, ids=lambda gate: gate.name)
def test_each_gate_is_found_by_its_arguments_and_its_expression(gate):
    for argument in gate.arguments:
        assert gates.BY_ARGUMENT[argument] is gate
    assert gates.by_expression(gate.expression) is gate
    assert gates.by_expression("  or ".join(reversed(gate.markers))) is gate
    assert record.gate_name(gate.expression) == gate.name


@pytest.mark.parametrize("expression", ["pre or immediate", "not pre", "extended", "pre and critical", ""])
def test_other_expressions_are_no_gate(expression):
    assert gates.by_expression(expression) is None
    assert record.gate_name(expression) not in gates.BY_NAME


def test_the_runbooks_three_decisions():
    numbered = {gate.number: gate for gate in gates.GATES if gate.number}
    assert {number: (gate.name, gate.authority) for number, gate in numbered.items()} == {
        "1": ("pre", "Release Manager"), "2": ("immediate", "Deployment Lead"), "3": ("post", "Deployment Lead"),
    }
    assert numbered["3"].expression == "extended or data_integrity"  # CONTRACT section 2


def test_golive_gate_refuses_an_unknown_gate_in_one_line():
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTEST_ADDOPTS", "GOLIVE_CONFIG"}}
    result = subprocess.run([sys.executable, "-m", "golive", "gate", "4"], capture_output=True, text=True,
                            timeout=60, env=environ)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid choice: '4'" in result.stderr
