"""AWS probe: bounded boto3 clients and API calls whose failures become ProbeError."""

from __future__ import annotations

from typing import Any

import boto3.session
import botocore.exceptions
from botocore.config import Config

from golive.probes.errors import ProbeError

# Error codes meaning "the named resource does not exist" (as opposed to "could not look").
_NOT_FOUND_CODES = frozenset(
    {"ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "ImageNotFoundException", "RepositoryNotFoundException",
     "ScanNotFoundException", "TargetGroupNotFound", "ListenerNotFound", "NoSuchHostedZone"}
)


class NotFound(ProbeError):
    """AWS answered that the named resource does not exist."""


# Two attempts at most: one retry absorbs a throttled or dropped call without multiplying a dead
# endpoint's cost beyond about twice the timeout.
_MAX_ATTEMPTS = 2


def client(service: str, region: str, endpoint_url: str | None, timeout_s: float) -> Any:
    """A client for one AWS service whose connects and reads are bounded by timeout_s per attempt."""
    session = boto3.session.Session(region_name=region)
    if endpoint_url is not None and session.get_credentials() is None:
        # A local stand-in (moto) accepts any credentials; real AWS endpoints never get these.
        session = boto3.session.Session(
            region_name=region, aws_access_key_id="golive-local", aws_secret_access_key="golive-local"
        )
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
    )
    return session.client(service, endpoint_url=endpoint_url, config=config)


def call(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    """The response of one API operation (such as "list_buckets"); any failure raises ProbeError."""
    where = str(client.meta.endpoint_url)
    what = f"{client.meta.service_model.service_name} {operation}"
    try:
        response: dict[str, Any] = getattr(client, operation)(**kwargs)
        return response
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        message = error.get("Message") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        kind = NotFound if code in _NOT_FOUND_CODES else ProbeError
        raise kind("aws", where, f"{what}: {code}: {message}") from None
    except botocore.exceptions.ReadTimeoutError:
        detail = f"no answer within {client.meta.config.read_timeout:g}s ({_MAX_ATTEMPTS} attempts)"
    except botocore.exceptions.ConnectTimeoutError:
        detail = f"no connection within {client.meta.config.connect_timeout:g}s ({_MAX_ATTEMPTS} attempts)"
    except botocore.exceptions.BotoCoreError as exc:
        # Connection refused or closed, DNS failure, missing credentials, invalid parameters.
        detail = f"{type(exc).__name__}: {exc}"
    raise ProbeError("aws", where, f"{what}: {detail}")
