"""Objects written and read a piece at a time, on moto."""

from __future__ import annotations

import pytest

from pipeline_common import s3_streams
from tests.integration.conftest import BUCKET


def test_a_small_object_is_one_put_and_a_large_one_a_multipart_upload(account):
    with s3_streams.S3Writer(BUCKET, "evaluation/r/small.csv") as small:
        small.write(b"a,b\n")
        small.write(b"1,2\n")
    assert account.read("evaluation/r/small.csv") == b"a,b\n1,2\n"

    lines = [f"{i},{i * i}\n".encode() for i in range(1_500_000)]  # about 26 MB: four parts
    with s3_streams.S3Writer(BUCKET, "evaluation/r/large.csv") as large:
        for start in range(0, len(lines), 100_000):
            large.write(b"".join(lines[start:start + 100_000]))
    assert large.size > 2 * s3_streams.PART_BYTES
    head = account.s3.head_object(Bucket=BUCKET, Key="evaluation/r/large.csv", PartNumber=1)
    assert head["PartsCount"] == -(-large.size // s3_streams.PART_BYTES) and head["ContentLength"] == s3_streams.PART_BYTES
    body = s3_streams.open_object(BUCKET, "evaluation/r/large.csv")
    assert body.read(10) == b"0,0\n1,1\n2,"
    assert b"0,0\n1,1\n2," + body.read() == b"".join(lines)


def test_a_failed_write_leaves_no_object_and_no_pending_upload(account):
    with pytest.raises(RuntimeError, match="half-way"):
        with s3_streams.S3Writer(BUCKET, "evaluation/r/broken.csv") as writer:
            writer.write(b"x" * (s3_streams.PART_BYTES + 10))
            raise RuntimeError("the evaluation failed half-way")
    assert account.keys_under("evaluation/r/") == []
    assert account.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_file_goes_up_a_part_at_a_time_and_comes_back_whole(account, tmp_path):
    source = tmp_path / "upload.csv"
    source.write_bytes(b"".join(f"{i},{i % 7}\n".encode() for i in range(2_000_000)))  # about 16 MB: three parts
    response = s3_streams.put_file(account.s3, BUCKET, "raw/upload.csv", source, single_put_bytes=s3_streams.PART_BYTES)
    assert response["VersionId"]  # the run id is made from it
    head = account.s3.head_object(Bucket=BUCKET, Key="raw/upload.csv", PartNumber=1)
    assert head["PartsCount"] == -(-source.stat().st_size // s3_streams.PART_BYTES) == 3
    copy = tmp_path / "copy.csv"
    s3_streams.get_file(account.s3, BUCKET, "raw/upload.csv", copy)
    assert copy.read_bytes() == source.read_bytes()

    # below the single-PUT size: one PUT, read from the file as it is sent
    version = s3_streams.put_file(account.s3, BUCKET, "raw/single.csv", source)["VersionId"]
    assert account.s3.head_object(Bucket=BUCKET, Key="raw/single.csv")["VersionId"] == version
    assert "PartsCount" not in account.s3.head_object(Bucket=BUCKET, Key="raw/single.csv", PartNumber=1)
    s3_streams.get_file(account.s3, BUCKET, "raw/single.csv", copy)
    assert copy.read_bytes() == source.read_bytes()


def test_a_copy_is_one_copyobject_when_its_size_allows_else_the_managed_copy(account):
    body = b"x,y\n" + b"1,2\n" * 1000
    version = account.s3.put_object(Bucket=BUCKET, Key="raw/source.csv", Body=body)["VersionId"]
    account.s3.put_object(Bucket=BUCKET, Key="raw/source.csv", Body=b"overwritten since\n")
    source = {"Bucket": BUCKET, "Key": "raw/source.csv", "VersionId": version}
    s3_streams.copy_object(account.s3, source, len(body), BUCKET, "processed/r/one.csv")
    s3_streams.copy_object(account.s3, source, None, BUCKET, "processed/r/managed.csv")  # size unknown: the managed copy
    assert account.read("processed/r/one.csv") == account.read("processed/r/managed.csv") == body  # the version asked for


def test_an_interrupted_download_leaves_no_file(account, tmp_path):
    account.s3.put_object(Bucket=BUCKET, Key="raw/whole.csv", Body=b"a,b\n" * 1000)
    target = tmp_path / "whole.csv"
    target.write_bytes(b"the copy kept before")

    class Broken:
        def get_object(self, **request):
            return {"Body": _Cut(account.s3.get_object(**request)["Body"])}

    with pytest.raises(OSError, match="cut"):
        s3_streams.get_file(Broken(), BUCKET, "raw/whole.csv", target)
    assert target.read_bytes() == b"the copy kept before"
    assert [p.name for p in tmp_path.iterdir()] == ["whole.csv"]
    s3_streams.get_file(account.s3, BUCKET, "raw/whole.csv", target)
    assert target.read_bytes() == b"a,b\n" * 1000


class _Cut:
    """A body that gives its first bytes, then fails as a dropped connection does."""

    def __init__(self, body):
        self._body, self._calls = body, 0

    def read(self, size=-1):
        self._calls += 1
        if self._calls > 1:
            raise OSError("connection cut")
        return self._body.read(10)

