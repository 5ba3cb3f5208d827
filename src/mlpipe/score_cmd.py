"""mlpipe score: send a file to be scored by its dataset's approved version, follow it, fetch the predictions."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline_common import layout
from pipeline_common.s3_streams import put_file

from .buckets import download, keys_under, link_keys
from .display import say, show_step
from .follow import RunFollower, idle_check, read_json
from .home import history_dir
from .place import place


def cmd_score(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        say(f"mlpipe: {source} is not a file")
        return 2
    started = time.monotonic()

    def on_invocation(inv) -> None:
        if not inv.result.ok:
            say(f"  ! {inv.function} attempt {inv.attempt} failed: {inv.result.error_type}: {inv.result.error}")

    with place(args, on_invocation=on_invocation) as target:
        dataset = args.dataset or target.default_dataset
        key = layout.upload_key(args.dataset, source.name, layout.SCORE)
        version = put_file(target.s3, target.bucket, key, source)["VersionId"]
        run_id = layout.run_id_for_upload(key, version, None)
        say(f"uploaded {key} (version {version}) -> scoring run {run_id} of dataset {dataset}")
        stalled = idle_check(target.cloud, "the scoring run stopped and recorded no failure") if target.cloud else None
        follower = RunFollower(target.s3, target.bucket, run_id, show_step)
        outcome = follower.follow(timeout=args.timeout, interval=0.1 if target.cloud else 2.0, stalled=stalled)
        manifest = read_json(target.s3, target.bucket, layout.predictions_manifest(dataset, run_id)) if outcome.succeeded else None
        out_dir = Path(args.out) if args.out else None
        if target.cloud is not None:
            target.cloud.settle(timeout=60, quiet=0.05)
            target.cloud.persist()
            if out_dir:  # listed, not taken from what the persist wrote: the cloud keeps objects as the run goes
                link_keys(history_dir(), keys_under(target.s3, target.bucket, f"{layout.PREDICTIONS}{dataset}/{run_id}/"), out_dir)
        elif out_dir and outcome.succeeded:
            download(target.s3, target.bucket, keys_under(target.s3, target.bucket, f"{layout.PREDICTIONS}{dataset}/{run_id}/"), out_dir)
        where = str(out_dir) if out_dir else target.location("")
    if not outcome.succeeded:
        say(f"\nscoring run {run_id} FAILED at {outcome.reason}")
        return 1
    model = manifest["model_version"]
    say(f"\nscoring run {run_id} succeeded: {manifest['rows']} rows predicted by version {model['version']} of dataset {dataset} "
        f"(run {model['run_id']})")
    say(f"predictions: {where.rstrip('/')}/{manifest['predictions_key']}")
    say(f"total {time.monotonic() - started:.1f}s")
    return 0
