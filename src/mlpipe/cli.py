"""mlpipe: run the pipeline's chain on a CSV, offline, and follow it stage by stage."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pipeline_common import layout

from .follow import RunFollower, RunOutcome, Step

METRIC_ORDER = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")


def _print(text: str = "") -> None:
    print(text, flush=True)


def _show_step(step: Step) -> None:
    _print(f"  [{step.at:6.2f}s] {step.stage:<10} {step.text}")


def mirror_bucket(s3, bucket: str, out_dir: Path) -> int:
    """Copy every object of the bucket to out_dir/<key>."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            target = out_dir / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            count += 1
    return count


def print_outcome(outcome: RunOutcome) -> None:
    if outcome.succeeded:
        metrics = outcome.metrics
        _print(f"\nrun {outcome.run_id} evaluated on {metrics['n_test']} held-out rows (threshold {metrics['threshold']}):")
        for name in METRIC_ORDER:
            value = metrics.get(name)
            _print(f"  {name:<10} {value:.4f}" if isinstance(value, float) else f"  {name:<10} {value}")
        cm = metrics["confusion_matrix"]
        _print(f"  confusion  tp={cm['tp']} fp={cm['fp']} tn={cm['tn']} fn={cm['fn']}")
    else:
        _print(f"\nrun {outcome.run_id} FAILED at {outcome.reason}")


def cmd_run(args: argparse.Namespace) -> int:
    from .offline.cloud import OfflineCloud, Options

    source = Path(args.file)
    if not source.is_file():
        _print(f"mlpipe: {source} is not a file")
        return 2
    overrides = dict(item.split("=", 1) for item in args.param)
    started = time.monotonic()

    def on_invocation(inv) -> None:
        if not inv.result.ok:
            _print(f"  ! {inv.function} failed (attempt {inv.attempt}): {inv.result.error_type}: {inv.result.error}")

    cloud = OfflineCloud(options=Options(), parameter_overrides=overrides, on_invocation=on_invocation)
    with cloud:
        _print(f"offline cloud up in {time.monotonic() - started:.1f}s: {len(cloud.workers)} warm functions, "
               f"{sum(len(f.routes) for f in cloud.stack.functions.values())} routes from {cloud.stack.template_path.name}")
        key = f"{layout.RAW}{source.name}"
        response = cloud.upload(source, key)
        run_id = layout.run_id_for_upload(key, response.get("VersionId"), None)
        _print(f"uploaded {key} (version {response.get('VersionId')}) -> run {run_id}")

        def stalled() -> str | None:
            if not cloud.is_idle():
                return None
            time.sleep(0.3)
            if not cloud.is_idle():
                return None
            failure = cloud.last_failure()
            if failure:
                return f"{failure.function}: {failure.result.error_type}: {failure.result.error}"
            return "the chain stopped before evaluation"

        follower = RunFollower(
            cloud.client("s3"), cloud.client("sagemaker"), cloud.bucket, cloud.stack.parameters["JobNamePrefix"], run_id, _show_step
        )
        outcome = follower.follow(timeout=args.timeout, stalled=stalled)
        print_outcome(outcome)
        if args.out:
            out_dir = Path(args.out)
            count = mirror_bucket(cloud.client("s3"), cloud.bucket, out_dir)
            _print(f"mirrored {count} objects to {out_dir}/")
            if outcome.succeeded:
                _print(f"metrics: {out_dir / follower.keys.metrics}")
                _print(f"report:  {out_dir / follower.keys.report}")
    _print(f"total {time.monotonic() - started:.1f}s")
    return 0 if outcome.succeeded else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlpipe", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole chain on FILE in the offline cloud and follow it")
    run.add_argument("file", help="a CSV with the Titanic columns")
    run.add_argument("--out", help="mirror the bucket's objects into this folder")
    run.add_argument("--timeout", type=float, default=600, help="seconds to wait for the run to end (default 600)")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="override a template Parameter, e.g. --param NumRound=50 (repeatable)")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """Console script: exit without tearing down the interpreter, which takes longer than a run's last stage."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
