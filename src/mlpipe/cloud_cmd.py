"""The offline cloud from the command line's flags, `mlpipe cloud`, `mlpipe reset`, and `mlpipe empty` for a deployed stack."""

from __future__ import annotations

import argparse
import shutil
import sys
import time

from .buckets import stack_bucket
from .display import say
from .home import home, stack_parameters


def offline_cloud(args: argparse.Namespace, **callbacks):
    """The offline account's cloud (MLPIPE_HOME), with its stack Parameters (changed by --param) and fault injection."""
    from .offline.cloud import OfflineCloud, Options

    options = Options(
        duplicate_events=getattr(args, "duplicate_events", False),
        fail_training="injected failure: training ended by mlpipe run --fail train" if "train" in getattr(args, "fail", []) else None,
        fail_transform="injected failure: transform ended by mlpipe run --fail transform" if "transform" in getattr(args, "fail", []) else None,
        fail_processing="injected failure: Processing ended by mlpipe run --fail processing" if "processing" in getattr(args, "fail", []) else None,
        throttle=getattr(args, "throttle", 0),
    )
    parameters = stack_parameters(dict(item.split("=", 1) for item in getattr(args, "param", [])))
    if parameters:  # on stderr: stdout may be JSON for another program
        print("offline stack parameters: " + " ".join(f"{k}={v}" for k, v in sorted(parameters.items())), file=sys.stderr, flush=True)
    return OfflineCloud(options=options, parameter_overrides=parameters, home=home(), **callbacks)


def cmd_reset(args: argparse.Namespace) -> int:
    """Forget the offline account: its bucket, registry, endpoints and stack parameters."""
    where = home()
    if not where.exists():
        say(f"nothing to reset: {where} does not exist")
        return 0
    if not args.yes:
        try:
            answer = input(f"delete the offline account in {where} (bucket, models, registry, parameters)? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "y":
            say("\nmlpipe: nothing deleted")
            return 1
    shutil.rmtree(where)
    say(f"deleted {where}")
    return 0


def cmd_cloud(args: argparse.Namespace) -> int:
    """Keep an offline cloud running for other tools: AWS CLI, boto3, `mlpipe run --stack`."""
    with offline_cloud(args) as cloud:
        cloud.register_stack()
        say(f"# offline cloud: stack {cloud.stack.name}, bucket {cloud.bucket}. Ctrl-C stops it (and keeps what it did in {home()}).")
        for name, value in cloud.aws_environment().items():
            say(f"export {name}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        cloud.settle(timeout=60)
        cloud.persist()
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
