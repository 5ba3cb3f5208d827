"""Objects read and written a piece at a time, so a function's memory does not grow with the file."""

from __future__ import annotations

from typing import BinaryIO

from pipeline_common import aws

PART_BYTES = 8 * 1024 * 1024  # S3 takes multipart parts of 5 MiB and more (the last one excepted)


def open_object(bucket: str, key: str) -> BinaryIO:
    """The object's body as a stream (botocore's StreamingBody: read(n) pulls n bytes off the connection)."""
    return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]


class S3Writer:
    """Bytes written in order become one object: a single put when they are few, else a multipart upload of
    PART_BYTES parts. Nothing is visible under the key until close(); abort() (or an exception inside a
    ``with`` block) leaves no object and no pending upload behind."""

    def __init__(self, bucket: str, key: str, content_type: str = "text/csv"):
        self.bucket, self.key, self.content_type = bucket, key, content_type
        self._buffer, self._parts, self._upload_id = bytearray(), [], None
        self.size = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= PART_BYTES:
            self._send(bytes(self._buffer[:PART_BYTES]))
            del self._buffer[:PART_BYTES]

    def _send(self, part: bytes) -> None:
        s3 = aws.client("s3")
        if self._upload_id is None:
            self._upload_id = s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, ContentType=self.content_type)["UploadId"]
        number = len(self._parts) + 1
        etag = s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=part)["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})

    def close(self) -> None:
        if self._upload_id is None:
            aws.put_bytes(self.bucket, self.key, bytes(self._buffer), self.content_type)
            return
        if self._buffer:
            self._send(bytes(self._buffer))
        aws.client("s3").complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                                   MultipartUpload={"Parts": self._parts})

    def abort(self) -> None:
        if self._upload_id is not None:
            aws.client("s3").abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None

    def __enter__(self) -> "S3Writer":
        return self

    def __exit__(self, kind, *rest) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
