"""``golive gate N --review-exit-code K``: the exit status a REVIEW gets, for engines that read only 0 or not 0.

A Kubernetes Job, Argo Rollouts' job provider or a CI step passes on exit 0 and fails on anything else, so a
REVIEW (exit 1) already stops them, as a NO-GO does. ``--review-exit-code 0`` lets a REVIEW through (someone
reviews the report afterwards); any other K tells it apart from a NO-GO (2) where the engine shows the status.
Only the process's status changes: the decision record still says REVIEW and exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

OPTION = "--review-exit-code"


def parse(value: str) -> int:
    """K as given; one line and exit 2 for anything but a number from 0 to 255."""
    if not value.isdigit() or int(value) > 255:
        print(f"golive gate: {OPTION} {value!r}: expected a number from 0 to 255", file=sys.stderr)
        raise SystemExit(2)
    return int(value)


def split(args: Sequence[str], given: str | None = None) -> tuple[int | None, list[str]]:
    """(K, the other arguments): ``--review-exit-code K`` or ``=K`` taken out of what goes to pytest."""
    rest: list[str] = []
    value = given
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == OPTION:
            if index + 1 >= len(args):
                print(f"golive gate: {OPTION} needs a value (a number from 0 to 255)", file=sys.stderr)
                raise SystemExit(2)
            value = args[index + 1]
            index += 2
            continue
        if arg.startswith(f"{OPTION}="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        index += 1
    return (parse(value) if value is not None else None), rest


def exit_status(code: int, recorded: str | None, review_exit_code: int | None) -> int:
    """The process's exit status: K for a run whose record says REVIEW (``recorded``: the record's verdict, None
    without one), the verdict's own code otherwise."""
    if review_exit_code is not None and code == 1 and recorded == "REVIEW":
        return review_exit_code
    return code
