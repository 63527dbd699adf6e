"""AWS resources the release depends on: Secrets Manager secrets, CloudWatch alarms and log groups.

Built on ``golive.probes.aws.call``: every call is bounded, and any failure to look raises ProbeError. A
resource that does not exist is an answer (reported by the caller), not a failure to look.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from golive.probes import aws
from golive.probes.errors import ProbeError

_ALARM_NAMES_PER_CALL = 100  # DescribeAlarms accepts at most 100 names
_MAX_PAGES = 50  # bounds a paginated listing: 50 pages of log groups is far more than one prefix matches


@dataclass(frozen=True)
class SecretState:
    """What Secrets Manager says about a secret (never its value: DescribeSecret does not return it)."""

    name: str
    exists: bool
    deletion_date: datetime | None = None  # set when the secret is scheduled for deletion
    changed_at: datetime | None = None  # the newest of LastChangedDate and LastRotatedDate (else CreatedDate)

    def age_days(self, now: datetime | None = None) -> float | None:
        if self.changed_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.changed_at).total_seconds() / 86400


def secret_state(client: Any, name: str) -> SecretState:
    """The deletion date and last change of one secret; ``exists`` is False when there is no such secret."""
    try:
        answer = aws.call(client, "describe_secret", SecretId=name)
    except aws.NotFound:
        return SecretState(name=name, exists=False)
    changes = [answer[key] for key in ("LastChangedDate", "LastRotatedDate") if isinstance(answer.get(key), datetime)]
    if not changes and isinstance(answer.get("CreatedDate"), datetime):
        changes = [answer["CreatedDate"]]
    deleted = answer.get("DeletedDate")
    return SecretState(
        name=name,
        exists=True,
        deletion_date=deleted if isinstance(deleted, datetime) else None,
        changed_at=max(changes) if changes else None,
    )


def alarm_states(client: Any, names: Iterable[str]) -> dict[str, str]:
    """Each named CloudWatch alarm (metric or composite) that exists, with its state: OK, ALARM, ..."""
    wanted = list(dict.fromkeys(names))
    states: dict[str, str] = {}
    for start in range(0, len(wanted), _ALARM_NAMES_PER_CALL):
        batch = wanted[start : start + _ALARM_NAMES_PER_CALL]
        token: str | None = None
        for _page in range(_MAX_PAGES):
            kwargs: dict[str, Any] = {"AlarmNames": batch, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
            if token:
                kwargs["NextToken"] = token
            answer = aws.call(client, "describe_alarms", **kwargs)
            for alarm in [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]:
                states[alarm["AlarmName"]] = alarm["StateValue"]
            token = answer.get("NextToken")
            if not token:
                break
    return states


def existing_log_groups(client: Any, names: Iterable[str]) -> set[str]:
    """The named CloudWatch Logs groups that exist."""
    found: set[str] = set()
    for name in dict.fromkeys(names):
        token: str | None = None
        for _page in range(_MAX_PAGES):
            kwargs: dict[str, Any] = {"logGroupNamePrefix": name}
            if token:
                kwargs["nextToken"] = token
            answer = aws.call(client, "describe_log_groups", **kwargs)
            if any(group.get("logGroupName") == name for group in answer.get("logGroups", [])):
                found.add(name)
                break
            token = answer.get("nextToken")
            if not token:
                break
        else:
            where = str(client.meta.endpoint_url)
            raise ProbeError("aws", where, f"logs describe_log_groups: more than {_MAX_PAGES} pages for {name!r}")
    return found
