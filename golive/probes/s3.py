"""S3 probe: the newest object under a prefix (the latest backup, say)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from golive.probes import aws
from golive.probes.errors import ProbeError

# A prefix holding more objects than this many pages is not a backup location golive can judge quickly.
_MAX_PAGES = 50


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size_bytes: int
    last_modified: datetime  # UTC

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def age_h(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.last_modified).total_seconds() / 3600


def newest_object(s3: Any, bucket: str, prefix: str) -> S3Object | None:
    """The most recently modified object under ``s3://bucket/prefix``; None when there is none.

    A missing bucket raises ``aws.NotFound``; a prefix with more than 50 000 objects raises ProbeError.
    """
    newest: dict[str, Any] | None = None
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    for _page in range(_MAX_PAGES):
        response = aws.call(s3, "list_objects_v2", **kwargs)
        for obj in response.get("Contents", []):
            if newest is None or obj["LastModified"] > newest["LastModified"]:
                newest = obj
        if not response.get("IsTruncated"):
            break
        kwargs["ContinuationToken"] = response["NextContinuationToken"]
    else:
        raise ProbeError(
            "aws", str(s3.meta.endpoint_url), f"s3://{bucket}/{prefix} holds over {_MAX_PAGES * 1000} objects"
        )
    if newest is None:
        return None
    modified = newest["LastModified"]
    return S3Object(
        bucket=bucket,
        key=str(newest["Key"]),
        size_bytes=int(newest.get("Size", 0)),
        last_modified=modified if modified.tzinfo else modified.replace(tzinfo=UTC),
    )
