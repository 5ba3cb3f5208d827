"""Objects read and written a piece at a time, so a function's memory does not grow with the file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

from pipeline_common import aws

PART_BYTES = 8 * 1024 * 1024  # S3 takes multipart parts of 5 MiB and more (the last one excepted)
# The largest object one PutObject writes, or one CopyObject copies: a larger one needs a multipart upload or copy.
SINGLE_REQUEST_BYTES = 5 * 1024**3


def _content_type(content_type: str) -> dict:
    """The ContentType argument of a write: none for "" (S3's default, binary/octet-stream)."""
    return {"ContentType": content_type} if content_type else {}


def open_object(bucket: str, key: str) -> BinaryIO:
    """The object's body as a stream (botocore's StreamingBody: read(n) pulls n bytes off the connection)."""
    return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]


class S3Writer:
    """Bytes written in order become one object: a single put when they are few, else a multipart upload of
    PART_BYTES parts. Nothing is visible under the key until close(); abort() (or an exception inside a
    ``with`` block) leaves no object and no pending upload behind. ``s3``: the client to write with (the
    function's own by default); ``response``: S3's answer to the write that made the object (its VersionId)."""

    def __init__(self, bucket: str, key: str, content_type: str = "text/csv", s3=None):
        self.bucket, self.key, self.content_type = bucket, key, content_type
        self._s3 = s3
        self._buffer, self._parts, self._upload_id = bytearray(), [], None
        self.size = 0
        self.response: dict = {}

    @property
    def s3(self):
        return self._s3 if self._s3 is not None else aws.client("s3")

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= PART_BYTES:
            self._send(bytes(self._buffer[:PART_BYTES]))
            del self._buffer[:PART_BYTES]

    def _send(self, part: bytes) -> None:
        s3 = self.s3
        if self._upload_id is None:
            self._upload_id = s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, **_content_type(self.content_type))["UploadId"]
        number = len(self._parts) + 1
        etag = s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=part)["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})

    def close(self) -> None:
        if self._upload_id is None:
            self.response = self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), **_content_type(self.content_type))
            return
        if self._buffer:
            self._send(bytes(self._buffer))
        self.response = self.s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                                          MultipartUpload={"Parts": self._parts})

    def abort(self) -> None:
        if self._upload_id is not None:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None

    def __enter__(self) -> "S3Writer":
        return self

    def __exit__(self, kind, *rest) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def put_file(s3, bucket: str, key: str, path: Path, content_type: str = "text/csv",
             single_put_bytes: int = SINGLE_REQUEST_BYTES) -> dict:
    """A file on disk as one object, read as it is sent: one PUT up to ``single_put_bytes`` (one request, the
    fewest for the store to assemble), above it a multipart upload (memory holds a part, not the file). Returns S3's
    answer (its VersionId). ``content_type`` "": S3's default (binary/octet-stream)."""
    if path.stat().st_size <= single_put_bytes:
        with open(path, "rb") as file:
            return s3.put_object(Bucket=bucket, Key=key, Body=file, **_content_type(content_type))
    with S3Writer(bucket, key, content_type, s3=s3) as writer, open(path, "rb") as file:
        while part := file.read(PART_BYTES):
            writer.write(part)
    return writer.response


def get_file(s3, bucket: str, key: str, path: Path) -> None:
    """An object into a file on disk, a slice at a time, in one GET. The file appears whole or not at all: the bytes
    go to a hidden sibling first, renamed when complete (an interrupted copy leaves neither)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as file:
            shutil.copyfileobj(s3.get_object(Bucket=bucket, Key=key)["Body"], file, PART_BYTES)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def copy_object(s3, source: dict, size: int | None, bucket: str, key: str) -> None:
    """``source`` (Bucket, Key and VersionId, as CopySource takes them) copied to ``key``: one CopyObject up to
    SINGLE_REQUEST_BYTES, the managed multipart copy (UploadPartCopy) above it or when the size is not known."""
    if size is not None and size <= SINGLE_REQUEST_BYTES:
        s3.copy_object(CopySource=source, Bucket=bucket, Key=key)
    else:
        s3.copy(source, bucket, key)
