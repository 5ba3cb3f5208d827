"""The offline cloud from the command line's flags, `mlpipe cloud`, `mlpipe reset`, and `mlpipe empty` for a deployed stack."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time

from .buckets import stack_bucket
from .display import say
from .home import home, stack_parameters


FAULT_FLAGS = ("--duplicate-events", "--fail", "--throttle")


def offline_cloud(args: argparse.Namespace, **callbacks):
    """The offline account's cloud (MLPIPE_HOME), with its stack Parameters (changed by --param) and fault injection:
    the one `mlpipe cloud` runs for the account, if it runs, else a new one for this command."""
    from .offline.served import find

    changes = dict(item.split("=", 1) for item in getattr(args, "param", []))
    served = find(home())
    if served is not None:
        _check_served(served, args, changes)
        print(f"the offline cloud of `mlpipe cloud` (pid {served.pid}, {home()})", file=sys.stderr, flush=True)
        return served
    from .offline.cloud import OfflineCloud, Options

    options = Options(
        duplicate_events=getattr(args, "duplicate_events", False),
        fail_training="injected failure: training ended by mlpipe run --fail train" if "train" in getattr(args, "fail", []) else None,
        fail_transform="injected failure: transform ended by mlpipe run --fail transform" if "transform" in getattr(args, "fail", []) else None,
        fail_processing="injected failure: Processing ended by mlpipe run --fail processing" if "processing" in getattr(args, "fail", []) else None,
        throttle=getattr(args, "throttle", 0),
    )
    parameters = stack_parameters(changes)
    if parameters:  # on stderr: stdout may be JSON for another program
        print("offline stack parameters: " + " ".join(f"{k}={v}" for k, v in sorted(parameters.items())), file=sys.stderr, flush=True)
    return OfflineCloud(options=options, parameter_overrides=parameters, home=home(), moto=getattr(args, "moto", None), **callbacks)


def _check_served(served, args: argparse.Namespace, changes: dict[str, str]) -> None:
    """A running cloud's Parameters and faults were set when it started: a command cannot change them."""
    differ = sorted(f"{k}={v}" for k, v in changes.items() if served.stack.parameters.get(k) != v)
    faults = [flag for flag, value in zip(FAULT_FLAGS, (getattr(args, "duplicate_events", False), getattr(args, "fail", []),
                                                         getattr(args, "throttle", 0))) if value]
    if differ or faults:
        asked = ", ".join([*(f"--param {d}" for d in differ), *faults])
        raise SystemExit(f"mlpipe: `mlpipe cloud` (pid {served.pid}) runs the offline cloud of {home()}, and {asked} cannot "
                         f"change a running cloud: stop it (Ctrl-C), or give them to `mlpipe cloud` when it starts")


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
    """Keep an offline cloud running for the account's later commands and for other tools (AWS CLI, boto3)."""
    from .offline.served import CloudServer, find

    running = find(home())
    if running is not None:
        say(f"mlpipe: `mlpipe cloud` (pid {running.pid}) already runs the offline cloud of {home()}")
        return 2
    # stopped by a supervisor, a closed terminal or Ctrl-C (even when started in the background, which ignores
    # SIGINT): the account is kept
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, _interrupt)
    with offline_cloud(args) as cloud:
        cloud.register_stack()
        server = CloudServer(cloud)
        server.publish(home())
        say(f"# offline cloud: stack {cloud.stack.name}, bucket {cloud.bucket}. Ctrl-C stops it (and keeps what it did in {home()}).")
        say(f"# `mlpipe run`, `score`, `models` and `predict` with MLPIPE_HOME={home()} use it; other tools need:")
        for name, value in cloud.aws_environment().items():
            say(f"export {name}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.withdraw(home())
        cloud.settle(timeout=60)
        cloud.persist()
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


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
