"""The sandbox's AWS resources in moto: the ALB and its target groups, the S3 backup, secrets, ECR images and
their scans, the DNS zone, log groups and CloudWatch alarms; and the helpers that break and restore them."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from golive.sandbox import aws_server
from golive.sandbox import constants as c
from golive.sandbox.base import Base
from golive.sandbox.clients import HTTP_TIMEOUT, one_line
from golive.sandbox.state import ENVIRONMENTS, SandboxError

BUCKET = "golive-sandbox-backups"
BACKUP_PREFIX = "postgres/"
SECRETS = ("orchestrator/db", "orchestrator/rabbitmq")
ALARMS = ("orchestrator-5xx", "orchestrator-p95")
REPOSITORY = "orchestrator"
LOAD_BALANCER = "orchestrator"
ALB_TARGETS = {"blue": "10.20.1.10", "green": "10.20.2.10"}
# A planned DNS switchover: weighted records for the orchestrator's public name, TTL lowered to 60 s.
DNS_ZONE = "orchestrator.sandbox."
DNS_RECORD = f"api.{DNS_ZONE}"
DNS_TTL = 60
# The ECR scan result of the sandbox's images: no critical findings (moto returns what it is given).
CLEAN_SCAN_COUNTS = {"MEDIUM": 2, "LOW": 5, "INFORMATIONAL": 3}
LOG_GROUPS = ("/orchestrator/blue", "/orchestrator/green")


class AwsResources(Base):
    def _client(self, service: str, agent: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=f"http://{c.HOST}:{c.MOTO_PORT}",
            config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}, user_agent_extra=agent),
        )

    def ensure_aws(self) -> None:
        self._ensure_load_balancer()
        self._ensure_backup()
        secrets = self._client("secretsmanager")
        existing = {s["Name"] for s in secrets.list_secrets().get("SecretList", [])}
        for name in SECRETS:
            if name not in existing:
                value = {"orchestrator/db": {"dsn": c.PRIMARY_DSN}, "orchestrator/rabbitmq": {"url": c.AMQP_URL}}
                secrets.create_secret(Name=name, SecretString=json.dumps(value.get(name, {})))
        self._ensure_images()
        self._ensure_dns()
        logs = self._client("logs")
        groups = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/orchestrator/")["logGroups"]}
        for name in LOG_GROUPS:
            if name not in groups:
                logs.create_log_group(logGroupName=name)
        cloudwatch = self._client("cloudwatch")
        present = {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=list(ALARMS))["MetricAlarms"]}
        definitions: dict[str, dict[str, Any]] = {
            "orchestrator-5xx": {"MetricName": "HTTPCode_Target_5XX_Count", "Statistic": "Sum", "Threshold": 10.0},
            "orchestrator-p95": {"MetricName": "TargetResponseTime", "ExtendedStatistic": "p95", "Threshold": 0.2},
        }
        for name in ALARMS:
            if name not in present:
                cloudwatch.put_metric_alarm(
                    AlarmName=name,
                    Namespace="AWS/ApplicationELB",
                    Period=60,
                    EvaluationPeriods=1,
                    ComparisonOperator="GreaterThanThreshold",
                    Dimensions=[{"Name": "LoadBalancer", "Value": LOAD_BALANCER}],
                    **definitions[name],
                )

    def _ensure_load_balancer(self) -> None:
        elbv2 = self._client("elbv2")
        try:
            balancer = elbv2.describe_load_balancers(Names=[LOAD_BALANCER])["LoadBalancers"][0]
        except elbv2.exceptions.LoadBalancerNotFoundException:
            balancer = None
        if balancer is None:
            ec2 = self._client("ec2")
            vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{index}.0/24", AvailabilityZone=f"us-east-1{zone}")[
                    "Subnet"
                ]["SubnetId"]
                for index, zone in ((1, "a"), (2, "b"))
            ]
            balancer = elbv2.create_load_balancer(
                Name=LOAD_BALANCER, Subnets=subnets, Scheme="internal", Type="application"
            )["LoadBalancers"][0]
        vpc_id = balancer["VpcId"]
        groups: dict[str, str] = {}
        for env, (_version, port) in ENVIRONMENTS.items():
            name = f"{LOAD_BALANCER}-{env}"
            try:
                group = elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]
            except elbv2.exceptions.TargetGroupNotFoundException:
                group = elbv2.create_target_group(
                    Name=name,
                    Protocol="HTTP",
                    Port=port,
                    VpcId=vpc_id,
                    TargetType="ip",
                    HealthCheckPath="/health",
                )["TargetGroups"][0]
            groups[env] = group["TargetGroupArn"]
        listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
        if listeners:
            listener_arn = listeners[0]["ListenerArn"]
        else:
            listener_arn = elbv2.create_listener(
                LoadBalancerArn=balancer["LoadBalancerArn"],
                Protocol="HTTP",
                Port=80,
                DefaultActions=[_forward_action(groups, {"blue": 0, "green": 100})],
            )["Listeners"][0]["ListenerArn"]
        self.state.aws.update(
            listener_arn=listener_arn, target_groups=groups, load_balancer_arn=balancer["LoadBalancerArn"]
        )

    def restore_alb_targets(self) -> None:
        """Each target group has its app's target registered and is health-checked on the liveness path."""
        elbv2 = self._client("elbv2")
        liveness = c.LIVENESS_PATHS[self.state.dialect]
        for env, (_version, port) in ENVIRONMENTS.items():
            arn = self.state.aws["target_groups"][env]
            group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
            if group.get("HealthCheckPath") != liveness:
                elbv2.modify_target_group(TargetGroupArn=arn, HealthCheckPath=liveness)
            if not elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
                elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": ALB_TARGETS[env], "Port": port}])

    def break_alb_target_group(self, env: str, deregister: bool, health_check_path: str | None) -> None:
        """Deregister an environment's targets and/or point its health check elsewhere (undone by `up`)."""
        elbv2 = self._client("elbv2")
        arn = self.state.aws["target_groups"][env]
        if deregister:
            health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            targets = [description["Target"] for description in health]
            if targets:
                elbv2.deregister_targets(TargetGroupArn=arn, Targets=targets)
        if health_check_path is not None:
            elbv2.modify_target_group(TargetGroupArn=arn, HealthCheckPath=health_check_path)

    def alb_weights(self) -> dict[str, int]:
        elbv2 = self._client("elbv2")
        listener = elbv2.describe_listeners(ListenerArns=[self.state.aws["listener_arn"]])["Listeners"][0]
        by_arn = {arn: env for env, arn in self.state.aws["target_groups"].items()}
        weights: dict[str, int] = {}
        for action in listener["DefaultActions"]:
            for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
                weights[by_arn.get(group["TargetGroupArn"], group["TargetGroupArn"])] = int(group.get("Weight", 1))
        return weights

    def set_alb_weights(self, blue: int, green: int) -> None:
        if self.alb_weights() == {"blue": blue, "green": green}:
            return
        # Only the ALB: the sandbox's moto does not mirror this call to HAProxy (aws_server.ALB_ONLY_AGENT).
        self._client("elbv2", aws_server.ALB_ONLY_AGENT).modify_listener(
            ListenerArn=self.state.aws["listener_arn"],
            DefaultActions=[_forward_action(self.state.aws["target_groups"], {"blue": blue, "green": green})],
        )

    def _backup_objects(self) -> list[dict[str, Any]]:
        s3 = self._client("s3")
        return list(s3.list_objects_v2(Bucket=BUCKET, Prefix=BACKUP_PREFIX).get("Contents", []))

    def _ensure_backup(self, force: bool = False) -> None:
        s3 = self._client("s3")
        try:
            s3.head_bucket(Bucket=BUCKET)
        except s3.exceptions.ClientError:
            s3.create_bucket(Bucket=BUCKET)
        fresh_after = datetime.now(UTC) - timedelta(hours=12)
        if not force and any(o["LastModified"] > fresh_after and o["Size"] > 0 for o in self._backup_objects()):
            return
        try:
            dump = subprocess.run(
                [
                    str(self.pg_bindir() / "pg_dump"),
                    "-Fc",
                    "-h",
                    c.HOST,
                    "-p",
                    str(c.PRIMARY_PORT),
                    "-U",
                    "postgres",
                    c.DATABASE,
                ],
                capture_output=True,
                timeout=60,
                check=True,
            ).stdout
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"pg_dump of {c.DATABASE} for the S3 backup failed: {one_line(exc)}") from None
        key = f"{BACKUP_PREFIX}{c.DATABASE}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.dump"
        s3.put_object(Bucket=BUCKET, Key=key, Body=dump)
        self.state.aws["backup_key"] = key

    def _ensure_images(self) -> None:
        ecr = self._client("ecr")
        try:
            ecr.describe_repositories(repositoryNames=[REPOSITORY])
        except ecr.exceptions.RepositoryNotFoundException:
            ecr.create_repository(repositoryName=REPOSITORY)
        for tag in (c.GREEN_VERSION, c.BLUE_VERSION):
            try:
                ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])
                continue
            except ecr.exceptions.ImageNotFoundException:
                pass
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": 7023,
                    "digest": "sha256:" + f"{tag}-config".encode().hex().ljust(64, "0")[:64],
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 48_000_000,
                        "digest": "sha256:" + f"{tag}-layer".encode().hex().ljust(64, "0")[:64],
                    }
                ],
            }
            ecr.put_image(repositoryName=REPOSITORY, imageManifest=json.dumps(manifest), imageTag=tag)
            self._scan_image(tag, CLEAN_SCAN_COUNTS)
        for tag in (c.GREEN_VERSION, c.BLUE_VERSION):
            try:
                ecr.describe_image_scan_findings(repositoryName=REPOSITORY, imageId={"imageTag": tag})
            except ecr.exceptions.ScanNotFoundException:  # pushed by an older sandbox without a scan
                self._scan_image(tag, CLEAN_SCAN_COUNTS)

    def _scan_image(self, tag: str, counts: dict[str, int]) -> None:
        """Start a scan of an image and give moto its result (moto's default has a made-up HIGH finding).

        moto scans an image once a day and keeps the first result it hands out, so a different result needs a
        fresh image: the helper deletes and re-pushes the same manifest first.
        """
        ecr = self._client("ecr")
        ecr.start_image_scan(repositoryName=REPOSITORY, imageId={"imageTag": tag})
        result = {
            "registryId": ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]["registryId"],
            "repositoryName": REPOSITORY,
            "imageId": {"imageTag": tag},
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindings": {"findings": [], "findingSeverityCounts": counts},
        }
        response = httpx.post(
            f"http://{c.HOST}:{c.MOTO_PORT}/moto-api/static/ecr/scan-finding-results",
            json={"results": [result], "region": "us-east-1"},
            timeout=HTTP_TIMEOUT,
        )
        if response.status_code >= 300:
            raise SandboxError(f"moto refused the scan result of {REPOSITORY}:{tag}: HTTP {response.status_code}")

    def set_image_findings(self, tag: str, counts: dict[str, int] | None) -> None:
        """Re-push an image and give its new scan these finding counts (None: the clean result)."""
        ecr = self._client("ecr")
        image = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["images"][0]
        ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])
        ecr.put_image(repositoryName=REPOSITORY, imageManifest=image["imageManifest"], imageTag=tag)
        self._scan_image(tag, counts if counts is not None else CLEAN_SCAN_COUNTS)
        if counts is None:
            self.state.restore.pop("image_findings", None)
        else:
            self.state.restore["image_findings"] = tag

    def _ensure_dns(self) -> None:
        route53 = self._client("route53")
        zones = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == DNS_ZONE]
        if zones:
            zone_id = zones[0]["Id"].rsplit("/", 1)[-1]
        else:
            zone = route53.create_hosted_zone(Name=DNS_ZONE, CallerReference=f"golive-sandbox-{time.time_ns()}")
            zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
        self.state.aws["dns_zone_id"] = zone_id
        if self.dns_ttls() != dict.fromkeys(ENVIRONMENTS, DNS_TTL):
            self.set_dns_ttl(DNS_TTL)

    def dns_ttls(self) -> dict[str, int]:
        """The TTL of each environment's weighted record of the orchestrator's public name."""
        sets = self._client("route53").list_resource_record_sets(
            HostedZoneId=self.state.aws["dns_zone_id"], StartRecordName=DNS_RECORD
        )["ResourceRecordSets"]
        return {r["SetIdentifier"]: int(r["TTL"]) for r in sets if r["Name"] == DNS_RECORD and "SetIdentifier" in r}

    def dns_weights(self) -> dict[str, int]:
        """The weight of each environment's weighted record of the orchestrator's public name."""
        sets = self._client("route53").list_resource_record_sets(
            HostedZoneId=self.state.aws["dns_zone_id"], StartRecordName=DNS_RECORD
        )["ResourceRecordSets"]
        return {r["SetIdentifier"]: int(r["Weight"]) for r in sets if r["Name"] == DNS_RECORD and "SetIdentifier" in r}

    def set_dns_ttl(self, ttl: int) -> None:
        """UPSERT the weighted records (blue 0, green 100) of the public name with this TTL."""
        changes = [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": DNS_RECORD,
                    "Type": "CNAME",
                    "SetIdentifier": env,
                    "Weight": 0 if env == "blue" else 100,
                    "TTL": ttl,
                    "ResourceRecords": [{"Value": f"{env}.{DNS_ZONE}"}],
                },
            }
            for env in ENVIRONMENTS
        ]
        self._client("route53").change_resource_record_sets(
            HostedZoneId=self.state.aws["dns_zone_id"], ChangeBatch={"Changes": changes}
        )

    def set_alarm(self, name: str, state_value: str) -> None:
        self._client("cloudwatch").set_alarm_state(
            AlarmName=name, StateValue=state_value, StateReason=f"set by golive sandbox helper ({state_value})"
        )

    def alarm_states(self) -> dict[str, str]:
        alarms = self._client("cloudwatch").describe_alarms(AlarmNames=list(ALARMS))["MetricAlarms"]
        return {a["AlarmName"]: a["StateValue"] for a in alarms}

    def age_backup(self, hours: float) -> list[str]:
        aged = []
        for obj in self._backup_objects():
            response = httpx.post(
                f"http://{c.HOST}:{c.MOTO_PORT}{aws_server.AGE_PATH}",
                params={"bucket": BUCKET, "key": obj["Key"], "hours": str(hours)},
                timeout=HTTP_TIMEOUT,
            )
            if response.status_code != 200:
                raise SandboxError(f"could not age s3://{BUCKET}/{obj['Key']}: {response.text[:200]}")
            aged.append(obj["Key"])
        return aged


def _forward_action(groups: dict[str, str], weights: dict[str, int]) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": groups[env], "Weight": weights[env]} for env in ("blue", "green")]
        },
    }
