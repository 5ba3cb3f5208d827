"""The event envelopes the functions receive from EventBridge, parsed with Powertools data classes.

Object keys: classic S3 notifications URL-encode them (documented: "red flower.jpg" arrives as
"red+flower.jpg"); for EventBridge's ``Object Created`` events no AWS page says, Powertools'
EventBridge data class decodes the key, and LocalStack (snapshot-tested against AWS) percent-encodes
it. A key such as ``raw/fare+class été 1912.csv`` must reach its object either way, so the key
decoded once is tried first and, if no object of the event's version has it, the key as sent:
never decoded twice, and the version id (or the size) tells which one was meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, S3EventBridgeNotificationEvent
from botocore.exceptions import ClientError

from . import aws, layout


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    version_id: str | None
    sequencer: str | None
    size: int | None


def uploaded_object(event: dict) -> UploadedObject:
    """The object of an S3 ``Object Created`` event delivered through EventBridge, its key exactly as the event has it."""
    detail = S3EventBridgeNotificationEvent(event).detail
    obj = detail.object
    version_id = obj.get("version-id")
    return UploadedObject(
        bucket=detail.bucket.name,
        key=obj["key"],  # not obj.key: the data class decodes it, and a raw key with "+" would change
        version_id=version_id if version_id and version_id != "null" else None,
        sequencer=obj.get("sequencer"),
        size=obj.get("size"),
    )


def key_candidates(key: str) -> list[str]:
    """The key decoded once, then the key as sent if that differs."""
    decoded = unquote_plus(key)
    return [key] if decoded == key else [decoded, key]


def resolve_key(upload: UploadedObject) -> str:
    """The key of the object the event is about, whether the event's key is raw or URL-encoded."""
    candidates = key_candidates(upload.key)
    if len(candidates) == 1:
        return upload.key
    s3 = aws.client("s3")
    for key in candidates:
        try:
            head = s3.head_object(Bucket=upload.bucket, Key=key, **({"VersionId": upload.version_id} if upload.version_id else {}))
        except ClientError as err:
            if aws.error_code(err) in ("404", "400", "403", "NoSuchKey", "NoSuchVersion"):
                continue
            raise
        if upload.size is None or head["ContentLength"] == upload.size:
            return key
    raise ValueError(f"no object {' or '.join(repr(c) for c in candidates)}{' of version ' + upload.version_id if upload.version_id else ''}")


@dataclass(frozen=True)
class Upload:
    """An upload that starts a run: where it is, its run id and the ``source`` record the run keeps."""

    bucket: str
    run_id: str
    source: dict


def source_object(bucket: str, source: dict) -> dict:
    """Bucket, Key and, with versioning, VersionId of a run's ``source``: exactly the uploaded bytes, even if the key
    was overwritten since (for GetObject, or as a CopySource)."""
    return {"Bucket": bucket, "Key": source["key"], **({"VersionId": source["version_id"]} if source["version_id"] else {})}


def upload(event: dict, prefix: str, default_dataset: str) -> Upload:
    """The upload of an ``Object Created`` event under ``prefix`` (raw/ or score/), with its dataset and run id."""
    found = uploaded_object(event)
    key = resolve_key(found)
    if not key.startswith(prefix):
        # The route filters on the prefix already; this guards against a mis-edited template.
        raise ValueError(f"expected an object under {prefix}, got {key!r}")
    source = {"key": key, "version_id": found.version_id, "sequencer": found.sequencer, "size": found.size,
              "dataset": layout.dataset_of_upload(key, default_dataset)}
    return Upload(found.bucket, layout.run_id_for_upload(key, found.version_id, found.sequencer), source)


def sagemaker_job_event(event: dict, *detail_types: str) -> tuple[str, dict]:
    """Detail type and detail of an ``aws.sagemaker`` state change, after checking it is one of those expected."""
    parsed = EventBridgeEvent(event)
    if parsed.source != "aws.sagemaker" or parsed.detail_type not in detail_types:
        raise ValueError(f"expected an aws.sagemaker event of {detail_types}, got {parsed.source} {parsed.detail_type!r}")
    return parsed.detail_type, dict(parsed.detail)


def run_of_marker(event: dict) -> tuple[str, str]:
    """Bucket and run id of an object the chain wrote under <prefix>/<run_id>/ (keys the chain writes need no decoding)."""
    found = uploaded_object(event)
    return found.bucket, layout.run_id_from_key(found.key)
