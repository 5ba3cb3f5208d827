"""The offline cloud from the command line's flags, `mlpipe cloud`, and `mlpipe empty` for a deployed stack."""

from __future__ import annotations

import argparse
import time

from .buckets import stack_bucket
from .display import say


def offline_cloud(args: argparse.Namespace, **callbacks):
    """An offline cloud with the command line's Parameter overrides and fault injection."""
    from .offline.cloud import OfflineCloud, Options

    options = Options(
        duplicate_events=args.duplicate_events,
        fail_training="injected failure: training ended by mlpipe run --fail train" if "train" in args.fail else None,
        fail_transform="injected failure: transform ended by mlpipe run --fail transform" if "transform" in args.fail else None,
        throttle=args.throttle,
    )
    return OfflineCloud(options=options, parameter_overrides=dict(item.split("=", 1) for item in args.param), **callbacks)


def cmd_cloud(args: argparse.Namespace) -> int:
    """Keep an offline cloud running for other tools: AWS CLI, boto3, `mlpipe run --stack`."""
    with offline_cloud(args) as cloud:
        cloud.register_stack()
        say(f"# offline cloud: stack {cloud.stack.name}, bucket {cloud.bucket}. Ctrl-C stops it.")
        for name, value in cloud.aws_environment().items():
            say(f"export {name}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_empty(args: argparse.Namespace) -> int:
    """Delete every object version and delete marker of a stack's bucket, so `sam delete` can remove it."""
    s3, bucket = stack_bucket(args.stack, args.region)
    if not args.yes:
        answer = input(f"delete every object and version in s3://{bucket}? type the bucket name to confirm: ")
        if answer.strip() != bucket:
            say("mlpipe: nothing deleted")
            return 1
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        batch = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(batch), 1000):
            chunk = batch[start:start + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            deleted += len(chunk)
    say(f"deleted {deleted} object versions from s3://{bucket}; now `sam delete --stack-name {args.stack}`")
    return 0
