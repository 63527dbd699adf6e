"""Hooks golive calls, for outputs of your own (a chat message, a ticket, a dashboard) without forking golive.

golive.plugin adds these specifications through ``pytest_addhooks``; implement one in a ``conftest.py`` beside
the validations, or in any pytest plugin::

    # conftest.py
    from pathlib import Path


    def pytest_golive_decision(decision, record):
        line = f"gate {record['gate']} on {record['environment']}: {decision.verdict.label}\\n"
        with Path("reports/decisions.log").open("a") as log:
            log.write(line)

pytest passes only the arguments an implementation names (``decision``, ``record``, ``config``), so
``def pytest_golive_decision(record):`` is fine too. The README's "Outputs of your own" says the same.
"""

from __future__ import annotations

from typing import Any

import pytest

from golive.verdict import Decision


@pytest.hookspec
def pytest_golive_decision(decision: Decision, record: dict[str, Any], config: pytest.Config) -> None:
    """golive decided a gate run and wrote its decision record.

    Called once per decided gate run, on the process that decides (the controller under ``-n``, never a
    worker), after the record is written to the reports directory (and to ``--golive-json``), before the
    terminal summary. Not called for runs that decide nothing (``--collect-only``, ``golive checks``...).

    :param decision: the ``golive.verdict.Decision``: ``verdict`` (GO, REVIEW or NO-GO), ``exit_code``,
        ``reasons`` and ``notes``.
    :param record: the decision record as the JSON file holds it (credentials masked); a copy, so changing it
        changes neither the file nor what other implementations get. When the record could not be written,
        the decision is the NO-GO that says so and ``record`` is the one that would have been written.
    :param config: the pytest config of the run.

    The decision stands whatever an implementation does: one that raises is reported on stderr in one line
    (``golive: pytest_golive_decision failed: ...``) and changes neither the verdict nor the exit code.
    """
