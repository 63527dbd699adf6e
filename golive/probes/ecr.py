"""ECR probe: a release image by tag, its size, and its vulnerability scan findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from golive.probes import aws
from golive.probes.errors import ProbeError


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    digest: str
    size_bytes: int | None


@dataclass(frozen=True)
class ScanFindings:
    """The latest scan of an image: its status and its finding counts by severity (CRITICAL, HIGH, ...)."""

    status: str  # COMPLETE, IN_PROGRESS, FAILED, ...
    description: str
    severity_counts: dict[str, int] = field(default_factory=dict)

    def count(self, severity: str) -> int:
        return self.severity_counts.get(severity.upper(), 0)


def image(ecr: Any, repository: str, tag: str) -> Image | None:
    """The image tagged ``tag`` in ``repository``; None when there is no such image or repository."""
    try:
        response = aws.call(ecr, "describe_images", repositoryName=repository, imageIds=[{"imageTag": tag}])
    except aws.NotFound:
        return None
    details = response.get("imageDetails") or []
    if not details:
        return None
    detail = details[0]
    size = detail.get("imageSizeInBytes")
    return Image(
        repository=repository,
        tag=tag,
        digest=str(detail.get("imageDigest", "")),
        size_bytes=int(size) if size is not None else None,
    )


def scan_findings(ecr: Any, repository: str, tag: str) -> ScanFindings:
    """The finding counts of the image's latest scan; an image never scanned (or missing) raises ProbeError."""
    response = aws.call(ecr, "describe_image_scan_findings", repositoryName=repository, imageId={"imageTag": tag})
    status = response.get("imageScanStatus") or {}
    counts = (response.get("imageScanFindings") or {}).get("findingSeverityCounts") or {}
    try:
        severity_counts = {str(name).upper(): int(value) for name, value in counts.items()}
    except (TypeError, ValueError, AttributeError):
        detail = f"ecr image {repository}:{tag}: unusable findingSeverityCounts {counts!r}"
        raise ProbeError("aws", str(ecr.meta.endpoint_url), detail) from None
    return ScanFindings(
        status=str(status.get("status") or "UNKNOWN"),
        description=str(status.get("description") or ""),
        severity_counts=severity_counts,
    )
