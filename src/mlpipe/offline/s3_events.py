"""S3 events as AWS sends them to EventBridge, from the ones moto's S3 sends.

What AWS documents (Amazon S3 user guide, "EventBridge event message structure"): ``detail``
holds ``bucket.name``, ``object.{key, size, etag, version-id, sequencer}``, ``request-id``,
``requester``, ``source-ip-address`` and ``reason`` (``PutObject``, ``CopyObject``,
``CompleteMultipartUpload``, ``PostObject``); ``time`` is an ISO timestamp and ``id`` a new UUID
per event. Object keys in S3 notifications are URL-encoded ("red flower.jpg" becomes
"red+flower.jpg" in the classic records); for EventBridge no page says so, and LocalStack, whose S3
events are snapshot-tested against AWS, percent-encodes them (``quote``: a space as ``%20``, ``+`` as
``%2B``, ``/`` kept). The offline events do the same; the handlers resolve the key against the
object's version either way (``pipeline_common.events``), so neither guess can send them to the
wrong object.

Where moto differs (moto 5): ``eTag`` instead of ``etag``; ``reason`` is ``ObjectCreated``; the key
is raw; ``time`` is a Unix number; ``id``, ``sequencer``, ``request-id`` and ``requester`` are the
same constants in every event. A completed multipart upload makes moto send two events (its
put_object's, then its own), where S3 sends one, ``CompleteMultipartUpload``: ``MultipartEchoes``
drops the second. A multipart upload's ETag, and only its, ends in ``-<number of parts>``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
import uuid
from urllib.parse import quote

REASONS = {"ObjectCreated": "PutObject", "Put": "PutObject", "Copy": "CopyObject", "Post": "PostObject",
           "CompleteMultipartUpload": "CompleteMultipartUpload"}


def encode_key(key: str) -> str:
    return quote(key, safe="/")


def _iso_time(value) -> str:
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _sequencer(value) -> str:
    """A hex sequencer that grows with each write, as S3's does for a key (moto's is a constant)."""
    micros = int(float(value) * 1_000_000) if isinstance(value, (int, float)) else 0
    return f"{micros:018X}"


def _multipart(obj: dict) -> bool:
    return "-" in str(obj.get("etag", obj.get("eTag", "")))


class MultipartEchoes:
    """Per target (each of a rule's targets gets its own copy): the first event of a completed multipart upload is
    delivered, moto's second one about the same object version is dropped."""

    def __init__(self):
        self._seen: set[tuple] = set()
        self._lock = threading.Lock()

    def is_echo(self, event: dict) -> bool:
        obj = event.get("detail", {}).get("object", {})
        if event.get("source") != "aws.s3" or not _multipart(obj):
            return False
        identity = (event["detail"].get("bucket", {}).get("name"), obj.get("key"), obj.get("version-id"), obj.get("etag", obj.get("eTag")))
        with self._lock:
            if identity in self._seen:
                return True
            self._seen.add(identity)
            return False


def as_aws_sends(event: dict, account: str) -> dict:
    """The event AWS would have delivered for moto's S3 event; other events are returned unchanged.

    Deterministic: each target of the same write gets the same event id, as EventBridge gives.
    """
    if event.get("source") != "aws.s3" or "object" not in event.get("detail", {}):
        return event
    detail = dict(event["detail"])
    obj = dict(detail["object"])
    moto_time = event.get("time")
    if "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
    if not obj.get("version-id"):
        obj.pop("version-id", None)  # an unversioned bucket's events have none
    obj["key"] = encode_key(obj["key"])
    obj["sequencer"] = _sequencer(moto_time)
    reason = detail.get("reason", "")
    if reason == "ObjectCreated" and _multipart(obj):
        reason = "CompleteMultipartUpload"
    identity = json.dumps([detail.get("bucket"), obj, moto_time], sort_keys=True)
    detail.update({
        "object": obj,
        "reason": REASONS.get(reason, reason),
        "request-id": hashlib.sha256(identity.encode()).hexdigest()[:16].upper(),
        "requester": account,
        "source-ip-address": "127.0.0.1",
    })
    return {**event, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, identity)), "account": account,
            "time": _iso_time(moto_time), "detail": detail}
