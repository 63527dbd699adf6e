"""Load balancer probe: one interface over an AWS ALB (boto3) and HAProxy (its admin socket).

Both answer the same questions, so the checks, the cutover steps and the dashboard never care which kind is
configured: the weights per environment, and per environment its pool (an ALB target group, an HAProxy
server): whether it exists, which targets are registered in it, and how it is health-checked.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from golive import health
from golive.config import AlbLoadBalancer, Aws, HaproxyLoadBalancer
from golive.masking import clip, mask_url
from golive.probes import aws, haproxy_socket, http
from golive.probes.errors import ProbeError

ENVIRONMENTS = ("blue", "green")


@dataclass(frozen=True)
class HealthCheck:
    """How the load balancer decides a pool's targets are healthy."""

    enabled: bool
    protocol: str | None = None
    path: str | None = None  # HTTP(S) checks only; None where the load balancer does not tell
    detail: str = ""


@dataclass(frozen=True)
class Pool:
    """The targets serving one environment: an ALB target group or an HAProxy server."""

    environment: str
    name: str  # the target group's name or ARN, or backend/server
    exists: bool
    targets: tuple[str, ...] = field(default_factory=tuple)  # host:port of each registered target
    health_check: HealthCheck | None = None


class LoadBalancerProbe(Protocol):
    where: str  # what to name in messages (listener ARN, admin socket)

    def weights(self) -> dict[str, int]:
        """Each environment's weight ({"blue": 0, "green": 100}); environments the balancer does not know are 0."""
        ...

    def pool(self, environment: str) -> Pool:
        """The pool serving one environment."""
        ...


def traffic_shares(weights: dict[str, int]) -> dict[str, float]:
    """Each environment's share of traffic in percent (weights are relative: 0/1 is the same as 0/100)."""
    total = sum(weights.values())
    return {env: (100.0 * weight / total if total else 0.0) for env, weight in weights.items()}


@dataclass(frozen=True)
class VersionSample:
    """Which versions answered a sample of requests sent through the load balancer's front URL."""

    url: str
    requested: int
    answers: dict[str, int]  # version reported -> requests; other outcomes as "HTTP 503", "no answer"...

    @property
    def completed(self) -> int:
        return sum(self.answers.values())

    def share(self, version: str) -> float:
        """The fraction of completed requests answered by ``version`` (0.0 when none completed)."""
        return self.answers.get(version, 0) / self.completed if self.completed else 0.0

    def describe(self) -> str:
        """``2.1.0: 18, 2.0.5: 2`` (most frequent first)."""
        return ", ".join(f"{label}: {n}" for label, n in sorted(self.answers.items(), key=lambda item: -item[1]))


def front_door_versions(
    front_url: str, path: str, requests: int, timeout_s: float, max_duration_s: float, verify_tls: bool = True,
    spec: health.Spec | None = None,
) -> VersionSample:
    """Send ``requests`` GETs to ``path`` through the front URL, each on a new connection (as new users arrive,
    so every request is balanced on its own), and count the version each answer reports (read as golive.health
    reads it, ``spec`` saying where it sits).

    No request starts after ``max_duration_s``; each is bounded by ``timeout_s``.
    """
    answers: dict[str, int] = {}
    deadline = time.monotonic() + max_duration_s
    with http.make_client(front_url, timeout_s, verify_tls, max_connections=1, max_keepalive=0) as client:
        for _ in range(requests):
            if time.monotonic() >= deadline:
                break
            label = _version_label(client, path, spec or health.Spec())
            answers[label] = answers.get(label, 0) + 1
    return VersionSample(url=mask_url(front_url.rstrip("/") + path), requested=requests, answers=answers)


def _version_label(client: Any, path: str, spec: health.Spec) -> str:
    try:
        response = http.request(client, "GET", path, component="load_balancer")
    except ProbeError:
        return "no answer"
    version = health.version_in(response.text, spec, response.headers.get("content-type", ""))
    if version:
        return version
    return f"HTTP {response.status_code} without a version"


def connect(
    section: AlbLoadBalancer | HaproxyLoadBalancer, aws_section: Aws | None, timeout_s: float
) -> LoadBalancerProbe:
    """The probe for the configured load balancer."""
    if isinstance(section, HaproxyLoadBalancer):
        return Haproxy(section, timeout_s)
    if aws_section is None:
        raise ProbeError("load_balancer", section.listener_arn, "an alb load balancer needs the aws section (region)")
    elbv2 = aws.client("elbv2", aws_section.region, aws_section.endpoint_url, timeout_s)
    return Alb(section, elbv2)


# --- ALB ---------------------------------------------------------------------------------------------


class Alb:
    """An AWS Application Load Balancer listener forwarding to one target group per environment."""

    def __init__(self, section: AlbLoadBalancer, elbv2: Any) -> None:
        self.section = section
        self.elbv2 = elbv2
        self.where = section.listener_arn

    def weights(self) -> dict[str, int]:
        """The weights of the listener's default forward action (a plain forward gives its group 1)."""
        try:
            answer = aws.call(self.elbv2, "describe_listeners", ListenerArns=[self.section.listener_arn])
        except aws.NotFound:
            raise ProbeError("load_balancer", self.where, "listener does not exist") from None
        listeners = answer.get("Listeners") or []
        if not listeners:
            raise ProbeError("load_balancer", self.where, "listener does not exist")
        by_arn = {arn: env for env, arn in self.section.target_groups.items()}
        weights: dict[str, int] = dict.fromkeys(self.section.target_groups, 0)
        forwards = [action for action in listeners[0].get("DefaultActions", []) if action.get("Type") == "forward"]
        if not forwards:
            kinds = ", ".join(str(action.get("Type")) for action in listeners[0].get("DefaultActions", [])) or "none"
            raise ProbeError("load_balancer", self.where, f"default action does not forward (actions: {kinds})")
        for action in forwards:
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            if not groups and action.get("TargetGroupArn"):
                groups = [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
            for group in groups:
                arn = group["TargetGroupArn"]
                env = by_arn.get(arn)
                if env is None:
                    raise ProbeError(
                        "load_balancer", self.where, f"forwards to target group {arn}, which is not configured"
                    )
                weights[env] += int(group.get("Weight", 1))
        return weights

    def pool(self, environment: str) -> Pool:
        arn = self.section.target_groups.get(environment)  # type: ignore[call-overload]
        if arn is None:
            return Pool(environment=environment, name="(not configured)", exists=False)
        try:
            groups = aws.call(self.elbv2, "describe_target_groups", TargetGroupArns=[arn]).get("TargetGroups") or []
        except aws.NotFound:
            groups = []
        if not groups:
            return Pool(environment=environment, name=arn, exists=False)
        group = groups[0]
        health = aws.call(self.elbv2, "describe_target_health", TargetGroupArn=arn).get("TargetHealthDescriptions", [])
        targets = tuple(
            f"{item['Target']['Id']}:{item['Target'].get('Port', group.get('Port'))}"
            for item in health
            if item.get("TargetHealth", {}).get("State") != "draining"
        )
        protocol = group.get("HealthCheckProtocol")
        every = group.get("HealthCheckIntervalSeconds")
        return Pool(
            environment=environment,
            name=str(group.get("TargetGroupName") or arn),
            exists=True,
            targets=targets,
            health_check=HealthCheck(
                # HealthCheckEnabled is absent on older target groups, where health checks are always on.
                enabled=bool(group.get("HealthCheckEnabled", True)),
                protocol=protocol,
                path=group.get("HealthCheckPath") if protocol in ("HTTP", "HTTPS") else None,
                detail=f"{protocol} {group.get('HealthCheckPath') or ''} every {every}s",
            ),
        )


# --- HAProxy -----------------------------------------------------------------------------------------


class Haproxy:
    """An HAProxy backend with one server per environment, read over its admin socket."""

    def __init__(self, section: HaproxyLoadBalancer, timeout_s: float) -> None:
        self.section = section
        self.timeout_s = timeout_s
        self.where = section.admin_socket

    def command(self, command: str) -> str:
        """One read-only admin-socket command's answer (golive never changes the load balancer); connect, send and
        the whole read are bounded by timeout_s."""
        if not haproxy_socket.is_read_only(command):
            raise ProbeError("load_balancer", self.where, f"`{command}`: not a read-only command")
        try:
            return haproxy_socket.command(self.section.admin_socket, command, self.timeout_s)
        except haproxy_socket.AnswerTooLarge as exc:
            raise ProbeError("load_balancer", self.where, f"`{command}`: {exc}") from None
        except TimeoutError:
            detail = f"`{command}`: no answer within {self.timeout_s:g}s"
            raise ProbeError("load_balancer", self.where, detail) from None
        except OSError as exc:
            raise ProbeError("load_balancer", self.where, f"admin socket: {type(exc).__name__}: {exc}") from None

    def _server(self, environment: str) -> str | None:
        return self.section.servers.get(environment)  # type: ignore[call-overload]

    def weights(self) -> dict[str, int]:
        weights: dict[str, int] = {}
        for env in self.section.servers:
            server = self._server(env)
            answer = self.command(f"get weight {self.section.backend}/{server}").strip()
            try:
                weights[env] = int(answer.split()[0])  # "100 (initial 100)"
            except (IndexError, ValueError):
                raise ProbeError(
                    "load_balancer", self.where, f"`get weight {self.section.backend}/{server}` answered {answer!r}"
                ) from None
        return weights

    def stats(self) -> list[dict[str, str]]:
        """The rows of ``show stat`` (one per frontend, backend and server), keyed by column name."""
        text = self.command("show stat")
        lines = text.lstrip("# ").splitlines()
        if not lines or "svname" not in lines[0]:
            raise ProbeError("load_balancer", self.where, f"`show stat` answered {clip(text, 80)!r}")
        return [dict(row) for row in csv.DictReader(lines) if row.get("pxname")]

    def pool(self, environment: str) -> Pool:
        server = self._server(environment)
        name = f"{self.section.backend}/{server}"
        if server is None:
            return Pool(environment=environment, name="(not configured)", exists=False)
        rows = [
            row for row in self.stats() if row.get("pxname") == self.section.backend and row.get("svname") == server
        ]
        if not rows:
            return Pool(environment=environment, name=name, exists=False)
        row = rows[0]
        status = row.get("status", "")
        last_check = f"{row.get('check_status') or 'none'} {row.get('check_desc') or ''}".strip()
        # A server without `check` shows status "no check" and an empty check_status.
        checked = bool(row.get("check_status")) and status != "no check"
        return Pool(
            environment=environment,
            name=name,
            exists=True,
            targets=(row["addr"],) if row.get("addr") else (),
            health_check=HealthCheck(
                enabled=checked,
                protocol=(row.get("check_status") or "")[:2] or None,  # L4 / L6 / L7
                path=None,
                detail=f"status {status}, last check {last_check}",
            ),
        )
