"""Architecture: one code reads a decision record, one code parses what golive is handed (issue 22).

- Only ``golive/decision_record.py`` reads a decision record's keys (``verdict``, ``exit_code``, ``checks``,
  ``outcome``, ``reasons``, ...): every other module asks a ``DecisionRecord`` (``label``, ``failed_checks``,
  ``agrees``, ``consistent``), so none re-derives whether a verdict and an exit code agree.
- Only ``golive/inputs.py`` calls ``json.load``/``json.loads``: every JSON golive reads (records, envelopes,
  attestations, hook events, webhook payloads, request bodies, health answers) is size- and depth-capped there.
  The sandbox (golive's own stand-in of the orchestrator, not a reader of golive's outputs) is outside the rule.

A few modules subscript a key of the same name in a document that is not a decision record; each is listed
below with the reason, and the list is checked to be exact, so a new reader cannot hide behind an old entry.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "golive"
RECORD_KEYS = {"verdict", "exit_code", "checks", "outcome", "reasons", "counts", "partial", "marker_expression"}
RECORD_MODULE = "golive/decision_record.py"
JSON_MODULE = "golive/inputs.py"
OUTSIDE = ("golive/sandbox/",)

# (module, key): why that module reads a key of this name in something that is not a decision record.
NOT_RECORDS = {
    ("golive/health.py", "checks"): "a health answer's checks (IETF health check format, Spring Boot Actuator)",
    ("golive/evidence/verify.py", "verdict"): "the signed statement's decision, compared with the record's head",
}


def _reads(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and node.slice.value in RECORD_KEYS:
            found.append((node.lineno, str(node.slice.value)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("get", "pop", "setdefault") and node.args \
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in RECORD_KEYS:
            found.append((node.lineno, str(node.args[0].value)))
    return found


def _json_parses(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        called = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr in ("load", "loads") and isinstance(node.func.value, ast.Name) \
            and node.func.value.id == "json"
        imported = isinstance(node, ast.ImportFrom) and node.module == "json" \
            and any(alias.name in ("load", "loads") for alias in node.names)
        if called or imported:
            lines.append(node.lineno)
    return lines


def _modules() -> dict[str, ast.AST]:
    root = PACKAGE.parent
    return {path.relative_to(root).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(PACKAGE.rglob("*.py"))}


def test_only_the_record_model_reads_a_decision_record():
    readers, allowed_seen = [], set()
    for name, tree in _modules().items():
        if name == RECORD_MODULE or name.startswith(OUTSIDE):
            continue
        for line, key in _reads(tree):
            if (name, key) in NOT_RECORDS:
                allowed_seen.add((name, key))
            else:
                readers.append(f"{name}:{line} reads {key!r}")
    assert not readers, "read the record through golive.decision_record.DecisionRecord: " + "; ".join(readers)
    assert allowed_seen == set(NOT_RECORDS), f"stale entries in NOT_RECORDS: {set(NOT_RECORDS) - allowed_seen}"


def test_only_the_bounded_reader_parses_json():
    parsers = [f"{name}:{line}" for name, tree in _modules().items()
               if name != JSON_MODULE and not name.startswith(OUTSIDE) for line in _json_parses(tree)]
    assert not parsers, "parse outside JSON through golive.inputs (size and depth capped): " + "; ".join(parsers)


def test_the_rules_see_what_they_forbid():
    """The scanners themselves: a reader and a parser written the usual ways are found."""
    tree = ast.parse("import json\nfrom json import loads\nr = json.loads(t)\nv = r['verdict']\nc = r.get('checks')\n")
    assert _reads(tree) == [(4, "verdict"), (5, "checks")]
    assert sorted(_json_parses(tree)) == [2, 3]
