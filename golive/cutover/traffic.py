"""The traffic managers ``golive cutover`` writes to: the ALB listener, HAProxy's runtime API, weighted DNS.

This is the one place golive changes a target. Each manager reads the weights of the two sides and moves them
in one call (``ModifyListener`` with a weighted ``ForwardConfig``; one HAProxy runtime-API line holding both
``set weight`` commands; one Route53 change batch), after validating them within the API's range. ``apply``
retries a call that fails or times out within a bound and reads the weights back: a call that "succeeded" but
left other weights is not a success.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from golive.config import AlbLoadBalancer, Aws, HaproxyLoadBalancer
from golive.config_commands import CutoverDns
from golive.config_model import Dns
from golive.probes import aws, haproxy_socket
from golive.probes import load_balancer as lb_probe
from golive.probes.errors import ProbeError

SIDES = lb_probe.ENVIRONMENTS  # ("blue", "green"): how the load balancer section names its two pools


class TrafficError(Exception):
    """A traffic manager could not be read or written. One line."""


@dataclass(frozen=True)
class Limits:
    """The weights an API accepts."""

    low: int
    high: int
    what: str

    def check(self, weights: dict[str, int]) -> None:
        for side, weight in weights.items():
            if not self.low <= weight <= self.high:
                raise TrafficError(f"{self.what}: weight {weight} for {side} is outside {self.low}..{self.high}")
        if not any(weights.values()):
            raise TrafficError(f"{self.what}: every weight 0 would send traffic nowhere")


# ALB: TargetGroupTuple Weight 0..999; HAProxy: server weight 0..256; Route53: Weight 0..255.
ALB_LIMITS = Limits(0, 999, "ALB ForwardConfig")
HAPROXY_LIMITS = Limits(0, 256, "HAProxy server weight")
DNS_LIMITS = Limits(0, 255, "Route53 weighted record")


def weights_for(candidate: str, live: str, share: int) -> dict[str, int]:
    """The weights putting ``share`` percent of traffic on the candidate's side."""
    return {candidate: share, live: 100 - share}


def same_shares(left: dict[str, int], right: dict[str, int]) -> bool:
    """Whether two weightings split traffic the same way (weights are relative: 1/1 is 50/50)."""
    a, b = lb_probe.traffic_shares(left), lb_probe.traffic_shares(right)
    return all(abs(a.get(side, 0.0) - b.get(side, 0.0)) < 0.01 for side in SIDES)


class TrafficManager(Protocol):
    name: str  # what to call it in messages and the journal
    limits: Limits

    def read(self) -> dict[str, int]:
        """Each side's current weight. Raises TrafficError."""
        ...

    def calls(self, weights: dict[str, int]) -> list[str]:
        """The call(s) ``write`` would make, for ``--dry-run`` and the journal."""
        ...

    def write(self, weights: dict[str, int]) -> None:
        """Move both sides in one call. Raises TrafficError."""
        ...


def _rising_first(weights: dict[str, int], current: dict[str, int] | None) -> list[tuple[str, int]]:
    """The sides in the order to set them: the one gaining weight first, so traffic never has nowhere to go."""
    current = current or {}
    return sorted(weights.items(), key=lambda item: item[1] <= current.get(item[0], 0))


# --- HAProxy -------------------------------------------------------------------------------------------------


class HaproxyTraffic:
    limits = HAPROXY_LIMITS

    def __init__(self, section: HaproxyLoadBalancer, timeout_s: float) -> None:
        self.section = section
        self.timeout_s = timeout_s
        self.name = f"HAProxy backend {section.backend} ({section.admin_socket})"
        self._probe = lb_probe.Haproxy(section, timeout_s)

    def read(self) -> dict[str, int]:
        try:
            return self._probe.weights()
        except ProbeError as error:
            raise TrafficError(f"{self.name}: {error.detail}") from None

    def _line(self, weights: dict[str, int]) -> str:
        try:
            current: dict[str, int] | None = self._probe.weights()
        except ProbeError:
            current = None
        return "; ".join(
            f"set weight {self.section.backend}/{self.section.servers[side]} {weight}"  # type: ignore[index]
            for side, weight in _rising_first(weights, current)
        )

    def calls(self, weights: dict[str, int]) -> list[str]:
        return [f"runtime API on {self.section.admin_socket}: {self._line(weights)}"]

    def write(self, weights: dict[str, int]) -> None:
        self.limits.check(weights)
        line = self._line(weights)
        try:
            answer = haproxy_socket.command(self.section.admin_socket, line, self.timeout_s).strip()
        except TimeoutError:
            raise TrafficError(f"{self.name}: `{line}`: no answer within {self.timeout_s:g}s") from None
        except OSError as error:
            raise TrafficError(f"{self.name}: admin socket: {type(error).__name__}: {error}") from None
        if answer:  # `set weight` answers nothing when it worked
            raise TrafficError(f"{self.name}: `{line}` answered {answer[:200]!r}")


# --- ALB -----------------------------------------------------------------------------------------------------


class AlbTraffic:
    limits = ALB_LIMITS

    def __init__(self, section: AlbLoadBalancer, elbv2: Any) -> None:
        self.section = section
        self.elbv2 = elbv2
        self.name = f"ALB listener {section.listener_arn}"
        self._probe = lb_probe.Alb(section, elbv2)

    def read(self) -> dict[str, int]:
        try:
            return self._probe.weights()
        except ProbeError as error:
            raise TrafficError(f"{self.name}: {error.detail}") from None

    def _actions(self, weights: dict[str, int]) -> list[dict[str, Any]]:
        """The listener's default actions with the forward action's groups re-weighted; its stickiness and the
        other actions (authentication, ...) kept as they are."""
        try:
            listeners = aws.call(self.elbv2, "describe_listeners", ListenerArns=[self.section.listener_arn])
        except ProbeError as error:
            raise TrafficError(f"{self.name}: {error.detail}") from None
        found = listeners.get("Listeners") or []
        if not found:
            raise TrafficError(f"{self.name}: listener does not exist")
        actions: list[dict[str, Any]] = []
        forwarded = False
        for action in found[0].get("DefaultActions", []):
            if action.get("Type") != "forward" or forwarded:
                actions.append(action)
                continue
            forwarded = True
            config: dict[str, Any] = {
                "TargetGroups": [
                    {"TargetGroupArn": self.section.target_groups[side], "Weight": weight}  # type: ignore[index]
                    for side, weight in sorted(weights.items())
                ]
            }
            stickiness = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig")
            if stickiness:
                config["TargetGroupStickinessConfig"] = stickiness
            kept = {key: value for key, value in action.items() if key in ("Order",)}
            actions.append({**kept, "Type": "forward", "ForwardConfig": config})
        if not forwarded:
            raise TrafficError(f"{self.name}: its default action does not forward; golive moves only forward weights")
        return actions

    def calls(self, weights: dict[str, int]) -> list[str]:
        groups = ", ".join(f"{side} {self.section.target_groups[side]} weight {weight}"  # type: ignore[index]
                           for side, weight in sorted(weights.items()))
        return [f"elbv2 ModifyListener {self.section.listener_arn}: forward to {groups}"]

    def write(self, weights: dict[str, int]) -> None:
        self.limits.check(weights)
        actions = self._actions(weights)
        try:
            aws.call(self.elbv2, "modify_listener", ListenerArn=self.section.listener_arn, DefaultActions=actions)
        except ProbeError as error:
            raise TrafficError(f"{self.name}: ModifyListener: {error.detail}") from None


# --- weighted DNS --------------------------------------------------------------------------------------------


def _dns_name(name: str) -> str:
    return name if name.endswith(".") else name + "."


class DnsTraffic:
    limits = DNS_LIMITS

    def __init__(self, dns: Dns, section: CutoverDns, route53: Any) -> None:
        self.dns = dns
        self.section = section
        self.route53 = route53
        self.name = f"Route53 weighted records {dns.record} (zone {dns.zone_id})"

    def _records(self) -> dict[str, dict[str, Any]]:
        """The weighted record set of each side, by side."""
        try:
            answer = aws.call(self.route53, "list_resource_record_sets", HostedZoneId=self.dns.zone_id,
                              StartRecordName=_dns_name(self.dns.record))  # fmt: skip
        except ProbeError as error:
            raise TrafficError(f"{self.name}: {error.detail}") from None
        by_identifier = {identifier: side for side, identifier in self.section.set_identifiers.items()}
        found: dict[str, dict[str, Any]] = {}
        for record in answer.get("ResourceRecordSets", []):
            side = by_identifier.get(record.get("SetIdentifier", ""))
            if _dns_name(record.get("Name", "")) == _dns_name(self.dns.record) and side is not None:
                found[side] = record
        missing = sorted(set(self.section.set_identifiers) - set(found))
        if missing:
            names = ", ".join(f"{side} ({self.section.set_identifiers[side]})" for side in missing)
            raise TrafficError(f"{self.name}: no weighted record for {names}")
        return found

    def read(self) -> dict[str, int]:
        return {side: int(record.get("Weight", 0)) for side, record in self._records().items()}

    def calls(self, weights: dict[str, int]) -> list[str]:
        sets = ", ".join(f"{self.section.set_identifiers[side]} weight {weight}"  # type: ignore[index]
                         for side, weight in sorted(weights.items()))
        return [f"route53 ChangeResourceRecordSets {self.dns.zone_id}: UPSERT {self.dns.record} {sets}"]

    def write(self, weights: dict[str, int]) -> None:
        self.limits.check(weights)
        records = self._records()
        changes = [{"Action": "UPSERT", "ResourceRecordSet": {**records[side], "Weight": weight}}
                   for side, weight in sorted(weights.items())]  # fmt: skip
        try:
            aws.call(self.route53, "change_resource_record_sets", HostedZoneId=self.dns.zone_id,
                     ChangeBatch={"Comment": "golive cutover", "Changes": changes})  # fmt: skip
        except ProbeError as error:
            raise TrafficError(f"{self.name}: ChangeResourceRecordSets: {error.detail}") from None


# --- building and applying -----------------------------------------------------------------------------------


def managers(section: AlbLoadBalancer | HaproxyLoadBalancer, aws_section: Aws | None, dns: CutoverDns | None,
             timeout_s: float) -> list[TrafficManager]:
    """The configured load balancer's manager, then weighted DNS where configured."""
    found: list[TrafficManager] = []
    if isinstance(section, HaproxyLoadBalancer):
        found.append(HaproxyTraffic(section, timeout_s))
    else:
        if aws_section is None:
            raise TrafficError("load_balancer: an alb load balancer needs the aws section (region)")
        found.append(AlbTraffic(section, aws.client("elbv2", aws_section.region, aws_section.endpoint_url, timeout_s)))
    if dns is not None:
        if aws_section is None or aws_section.dns is None:
            raise TrafficError("cutover.dns: needs aws.dns (zone_id and record) to know which records to move")
        route53 = aws.client("route53", aws_section.region, aws_section.endpoint_url, timeout_s)
        found.append(DnsTraffic(aws_section.dns, dns, route53))
    return found


@dataclass
class Applied:
    manager: str
    weights: dict[str, int]
    attempts: int
    seconds: float
    errors: list[str]


def apply(manager: TrafficManager, weights: dict[str, int], attempts: int,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Applied:
    """Write the weights and read them back, up to ``attempts`` times; raise TrafficError naming every failure
    when no attempt left the weights in place. Each read and write is bounded by the manager's client timeout."""
    manager.limits.check(weights)
    started = clock()
    errors: list[str] = []
    for attempt in range(1, attempts + 1):
        try:
            manager.write(weights)
            seen = manager.read()
            if same_shares(seen, weights):
                return Applied(manager.name, weights, attempt, clock() - started, errors)
            errors.append(f"attempt {attempt}: wrote {show(weights)} but read back {show(seen)}")
        except TrafficError as error:
            errors.append(f"attempt {attempt}: {error}")
        if attempt < attempts:
            sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
    raise TrafficError(f"{manager.name}: weights not moved to {show(weights)} after {attempts} attempts: "
                       + "; ".join(errors))


def show(weights: dict[str, int]) -> str:
    """``blue 50, green 50``."""
    return ", ".join(f"{side} {weight}" for side, weight in sorted(weights.items()))
