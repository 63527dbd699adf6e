"""DNS probe: the Route53 record sets behind a name, with their TTLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from golive.probes import aws
from golive.probes.errors import ProbeError


@dataclass(frozen=True)
class RecordSet:
    """One Route53 record set of a name (a weighted name has several, told apart by set_identifier)."""

    name: str
    type: str
    set_identifier: str | None
    ttl: int | None  # None for an alias record: the alias target's TTL applies

    @property
    def label(self) -> str:
        return f"{self.name} {self.type}" + (f" ({self.set_identifier})" if self.set_identifier else "")


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


def record_sets(route53: Any, zone_id: str, name: str) -> list[RecordSet]:
    """Every record set of ``name`` in the hosted zone; a name with none raises ProbeError."""
    wanted = _absolute(name).lower()
    found: list[RecordSet] = []
    start: dict[str, str] = {"StartRecordName": wanted}
    # Record sets come sorted by name: page until the name changes (bounded: a name has few record sets).
    for _page in range(20):
        response = aws.call(route53, "list_resource_record_sets", HostedZoneId=zone_id, MaxItems="100", **start)
        sets = response.get("ResourceRecordSets", [])
        for record in sets:
            if _absolute(record["Name"]).lower() != wanted:
                return _or_missing(found, route53, zone_id, name)
            ttl = record.get("TTL")
            found.append(
                RecordSet(
                    name=record["Name"],
                    type=record["Type"],
                    set_identifier=record.get("SetIdentifier"),
                    ttl=int(ttl) if ttl is not None and "AliasTarget" not in record else None,
                )
            )
        if not response.get("IsTruncated"):
            break
        start = {"StartRecordName": response["NextRecordName"], "StartRecordType": response["NextRecordType"]}
        if "NextRecordIdentifier" in response:
            start["StartRecordIdentifier"] = response["NextRecordIdentifier"]
    return _or_missing(found, route53, zone_id, name)


def _or_missing(found: list[RecordSet], route53: Any, zone_id: str, name: str) -> list[RecordSet]:
    if not found:
        raise ProbeError("aws", str(route53.meta.endpoint_url), f"route53 zone {zone_id} has no record {name}")
    return found
