"""Data integrity: the schema is the release's, invariants hold, no data was lost or altered across the cutover.

Gate 3 (``data_integrity``). The schema version is Gate 2's check (validations/test_pre_cutover.py), run again
here. Every query runs in the ``postgres`` fixture's read-only session. Row counts and
checksums are compared with the baseline Gate 1 captured from the live environment before the deployment; a
missing baseline fails these checks as warnings (REVIEW) that say to run Gate 1, never as a silent pass.
"""

import pytest

from golive.fixtures import fail_as_warning
from golive.masking import is_secret_env_name
from golive.probes import postgres as pg

pytestmark = pytest.mark.data_integrity

# How many offending rows an invariant's message shows, and how much of each value.
SHOWN_ROWS = 3
SHOWN_VALUE_CHARS = 40


def _integrity(target, key):
    """One list of postgres.integrity (the check's requires marker made sure it is configured)."""
    return getattr(target.view.postgres.integrity, key)


def _show(columns, row):
    """One offending row as ``(id=7, agent_id=-1)``: values of secret-looking columns masked, long ones cut."""
    shown = []
    for column, value in zip(columns, row, strict=True):
        text = "***" if is_secret_env_name(column) else str(value)
        if len(text) > SHOWN_VALUE_CHARS:
            text = text[: SHOWN_VALUE_CHARS - 3] + "..."
        shown.append(f"{column}={text}")
    return f"({', '.join(shown)})"


def _baseline_lacks(request, baseline, what, tables):
    """A baseline captured before these tables were configured cannot vouch for them: a warning, not a pass."""
    names = ", ".join(tables)
    fail_as_warning(request, f"the Gate 1 baseline at {baseline.where} has no {what} of {names}: run Gate 1 again")


@pytest.mark.critical
@pytest.mark.requires("postgres.integrity.invariants")
def test_invariants_hold(postgres, target):
    """Every data invariant holds: each postgres.integrity.invariants query returns no row."""
    violated = []
    for invariant in _integrity(target, "invariants"):
        found = pg.first_rows(postgres, invariant.sql, SHOWN_ROWS)
        if found.total:
            rows = ", ".join(_show(found.columns, row) for row in found.rows)
            more = f" and {found.total - len(found.rows)} more" if found.total > len(found.rows) else ""
            violated.append(f"{invariant.name!r}: {found.total} violating row(s), e.g. {rows}{more}")
    assert not violated, f"{postgres.endpoint}: {'; '.join(violated)}; expected none"


@pytest.mark.critical
@pytest.mark.requires("postgres.integrity.tables")
def test_no_rows_lost_since_gate1(postgres, target, gate1_baseline, request):
    """No data lost across the cutover: no integrity table has fewer rows than at Gate 1."""
    tables = _integrity(target, "tables")
    before = gate1_baseline.figures(request, "row_counts")
    now = pg.row_counts(postgres, tables)
    lost, unknown = [], []
    for table in tables:
        if table not in before:
            unknown.append(table)
        elif now[table] < before[table]:
            missing = before[table] - now[table]
            lost.append(f"{table} has {now[table]} rows, {missing} fewer than {before[table]} at Gate 1")
    assert not lost, f"{postgres.endpoint}: {'; '.join(lost)} ({gate1_baseline.cited})"
    if unknown:
        _baseline_lacks(request, gate1_baseline, "row count", unknown)


@pytest.mark.critical
@pytest.mark.requires("postgres.integrity.immutable_tables")
def test_immutable_tables_unchanged(postgres, target, gate1_baseline, request):
    """Reference data unchanged: each immutable table's checksum equals the one taken at Gate 1."""
    tables = _integrity(target, "immutable_tables")
    before = gate1_baseline.figures(request, "table_checksums")
    changed, unknown = [], []
    for table in tables:
        if table not in before:
            unknown.append(table)
            continue
        checksum = pg.table_checksum(postgres, table)
        if checksum != before[table]:
            changed.append(f"{table} (md5 {checksum}, was {before[table]})")
    assert not changed, (
        f"{postgres.endpoint}: immutable table(s) changed since Gate 1: {', '.join(changed)} "
        f"({gate1_baseline.cited})"
    )
    if unknown:
        _baseline_lacks(request, gate1_baseline, "checksum", unknown)
