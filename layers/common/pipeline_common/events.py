"""The two event envelopes the functions receive from EventBridge, parsed with Powertools data classes."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, S3EventBridgeNotificationEvent

from .layout import run_id_from_key


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    version_id: str | None
    sequencer: str | None
    size: int | None


def uploaded_object(event: dict) -> UploadedObject:
    """The object of an S3 ``Object Created`` event delivered through EventBridge."""
    detail = S3EventBridgeNotificationEvent(event).detail
    obj = detail.object
    version_id = obj.get("version-id")
    return UploadedObject(
        bucket=detail.bucket.name,
        key=obj.key,
        version_id=version_id if version_id and version_id != "null" else None,
        sequencer=obj.get("sequencer"),
        size=obj.size,
    )


def sagemaker_job_event(event: dict, *detail_types: str) -> tuple[str, dict]:
    """Detail type and detail of an ``aws.sagemaker`` job state change, after checking it is one of those expected."""
    parsed = EventBridgeEvent(event)
    if parsed.source != "aws.sagemaker" or parsed.detail_type not in detail_types:
        raise ValueError(f"expected an aws.sagemaker event of {detail_types}, got {parsed.source} {parsed.detail_type!r}")
    return parsed.detail_type, dict(parsed.detail)


def run_of_marker(event: dict) -> tuple[str, str]:
    """Bucket and run id of an object the chain wrote under <prefix>/<run_id>/."""
    upload = uploaded_object(event)
    return upload.bucket, run_id_from_key(upload.key)
