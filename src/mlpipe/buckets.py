"""Where runs are read from and copied to: a folder mirroring a bucket, or a deployed stack's bucket."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_common import layout
from pipeline_common.s3_streams import get_file

from .follow import read_json


class LocalBucket:
    def __init__(self, root: Path):
        self.root = root

    def get_json(self, key: str) -> dict | None:
        path = self.root / key
        return json.loads(path.read_text()) if path.is_file() else None

    def run_ids(self) -> list[str]:
        return sorted(p.parent.name for p in (self.root / layout.RUNS).glob("*/status.json"))

    def location(self, key: str) -> str:
        return str(self.root / key)


class S3Bucket:
    """A deployed stack's bucket, read directly."""

    def __init__(self, s3, bucket: str):
        self.s3, self.bucket = s3, bucket

    def get_json(self, key: str) -> dict | None:
        return read_json(self.s3, self.bucket, key)

    def run_ids(self) -> list[str]:
        ids = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=layout.RUNS, Delimiter="/"):
            ids += [p["Prefix"].split("/")[1] for p in page.get("CommonPrefixes", [])]
        return sorted(ids)

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def stack_outputs(stack: str, region: str | None) -> tuple[object, dict[str, str]]:
    """A boto3 session and the Outputs of a deployed stack."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.Session(region_name=region)
    try:
        described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except (ClientError, BotoCoreError) as err:
        raise SystemExit(f"mlpipe: cannot read stack {stack!r}: {err}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if "DataBucketName" not in outputs:
        raise SystemExit(f"mlpipe: stack {stack!r} has no DataBucketName output; is it an mlpipe stack?")
    return session, outputs


def stack_bucket(stack: str, region: str | None) -> tuple[object, str]:
    """The S3 client and data bucket of a deployed stack, from its Outputs."""
    session, outputs = stack_outputs(stack, region)
    return session.client("s3"), outputs["DataBucketName"]


def keys_under(s3, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def download(s3, bucket: str, keys: list[str], out_dir: Path) -> list[str]:
    """Copy the objects to out_dir/<key>; return the keys."""
    for key in keys:
        target = out_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        get_file(s3, bucket, key, target)
    return keys


RUN_PREFIXES = (layout.PROCESSED, layout.SPLIT, layout.MODELS, layout.INFERENCE_OUTPUT, layout.EVALUATION, layout.ERRORS, layout.RUNS)


def run_keys(s3, bucket: str, run_id: str, upload_key: str) -> list[str]:
    """The keys of one run: its upload and everything under <prefix>/<run>/."""
    return [upload_key] + [key for prefix in RUN_PREFIXES for key in keys_under(s3, bucket, f"{prefix}{run_id}/")]


def mirror_run(s3, bucket: str, run_id: str, upload_key: str, out_dir: Path) -> list[str]:
    """Copy the objects of one run (and its upload) to out_dir/<key>."""
    return download(s3, bucket, run_keys(s3, bucket, run_id, upload_key), out_dir)


def link_keys(source_dir: Path, keys: list[str], out_dir: Path) -> list[str]:
    """Make out_dir/<key> the same file as source_dir/<key> (a hard link: nothing is copied twice; a copy across devices)."""
    import os
    import shutil

    for key in keys:
        source, target = source_dir / key, out_dir / key
        if not source.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    return keys
