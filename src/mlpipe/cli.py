"""mlpipe: run the pipeline's chain on a CSV, follow it stage by stage, and look back at runs."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from pipeline_common import layout, runs

from .follow import RunFollower, RunOutcome, Step, read_json

METRIC_ORDER = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
HISTORY = Path(os.environ.get("MLPIPE_HOME", ".mlpipe")) / "bucket"


def _print(text: str = "") -> None:
    print(text, flush=True)


def _show_step(step: Step) -> None:
    _print(f"  [{step.at:6.2f}s] {step.stage:<10} {step.text}")


# -- where runs are read from: a folder mirroring a bucket, or the bucket itself --------------------
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


def stack_bucket(stack: str, region: str | None) -> tuple[object, str]:
    """The S3 client and data bucket of a deployed stack, from its Outputs."""
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
    return session.client("s3"), outputs["DataBucketName"]


def _keys(s3, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _download(s3, bucket: str, keys: list[str], out_dir: Path) -> list[str]:
    """Copy the objects to out_dir/<key>; return the keys."""
    for key in keys:
        target = out_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return keys


def mirror_run(s3, bucket: str, run_id: str, raw_key: str, out_dir: Path) -> list[str]:
    """Copy the objects of one run (and its upload) from a deployed bucket to out_dir/<key>."""
    prefixes = (layout.PROCESSED, layout.SPLIT, layout.MODELS, layout.INFERENCE_OUTPUT, layout.EVALUATION, layout.ERRORS, layout.RUNS)
    keys = [raw_key] + [key for prefix in prefixes for key in _keys(s3, bucket, f"{prefix}{run_id}/")]
    return _download(s3, bucket, keys, out_dir)


def mirror_bucket(s3, bucket: str, out_dir: Path) -> list[str]:
    """Copy every object of the bucket to out_dir/<key>; return the keys."""
    return _download(s3, bucket, _keys(s3, bucket), out_dir)


def print_outcome(outcome: RunOutcome) -> None:
    if outcome.succeeded:
        metrics = outcome.metrics
        _print(f"\nrun {outcome.run_id} succeeded: evaluated on {metrics['n_test']} held-out rows (threshold {metrics['threshold']})")
        for name in METRIC_ORDER:
            value = metrics.get(name)
            _print(f"  {name:<10} {value:.4f}" if isinstance(value, float) else f"  {name:<10} {value}")
        cm = metrics["confusion_matrix"]
        _print(f"  confusion  tp={cm['tp']} fp={cm['fp']} tn={cm['tn']} fn={cm['fn']}")
    else:
        _print(f"\nrun {outcome.run_id} FAILED at {outcome.reason}")


def _offline_cloud(args: argparse.Namespace, **callbacks):
    """An offline cloud with the command line's Parameter overrides and fault injection."""
    from .offline.cloud import OfflineCloud, Options

    options = Options(
        duplicate_events=args.duplicate_events,
        fail_training="injected failure: training ended by mlpipe run --fail train" if "train" in args.fail else None,
        fail_transform="injected failure: transform ended by mlpipe run --fail transform" if "transform" in args.fail else None,
        throttle=args.throttle,
    )
    return OfflineCloud(options=options, parameter_overrides=dict(item.split("=", 1) for item in args.param), **callbacks)


def _upload(s3, bucket: str, source: Path) -> tuple[str, str]:
    key = f"{layout.RAW}{source.name}"
    response = s3.put_object(Bucket=bucket, Key=key, Body=source.read_bytes())
    version = response.get("VersionId")
    if not version:
        raise SystemExit(f"mlpipe: bucket {bucket} gave no version id; the pipeline's bucket must be versioned")
    run_id = layout.run_id_for_upload(key, version, None)
    _print(f"uploaded {key} (version {version}) -> run {run_id}")
    return key, run_id


def _report(outcome: RunOutcome, keys: list[str], out_dir: Path | None, run_keys: layout.RunKeys, where: str | Path) -> None:
    """The outcome, then where its files are: the --out folder, or else the run's own location."""
    print_outcome(outcome)
    if out_dir is not None:
        _print(f"mirrored {len(keys)} objects to {out_dir}/")
    base = out_dir if out_dir is not None else where
    join = (lambda key: f"{base}/{key}") if isinstance(base, str) else (lambda key: str(base / key))
    if outcome.succeeded:
        _print(f"metrics: {join(run_keys.metrics)}")
        _print(f"report:  {join(run_keys.report)}")
    elif outcome.error:
        _print(f"error:   {join(run_keys.error)}")


def cmd_run(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        _print(f"mlpipe: {source} is not a file")
        return 2
    return run_on_stack(args, source) if args.stack else run_offline(args, source)


def run_on_stack(args: argparse.Namespace, source: Path) -> int:
    """Upload to a deployed stack's bucket and follow the run there."""
    started = time.monotonic()
    s3, bucket = stack_bucket(args.stack, args.region)
    _print(f"stack {args.stack}: bucket {bucket}")
    key, run_id = _upload(s3, bucket, source)
    follower = RunFollower(s3, bucket, run_id, _show_step)
    outcome = follower.follow(timeout=args.timeout, interval=2.0)
    out_dir = Path(args.out) if args.out else None
    keys = mirror_run(s3, bucket, run_id, key, out_dir) if out_dir else []
    _report(outcome, keys, out_dir, follower.keys, f"s3://{bucket}")
    _print(f"total {time.monotonic() - started:.1f}s")
    return 0 if outcome.succeeded else 1


def run_offline(args: argparse.Namespace, source: Path) -> int:
    """Start the offline cloud, upload, follow, and keep a copy of the bucket."""
    started = time.monotonic()

    def on_invocation(inv) -> None:
        if not inv.result.ok:
            _print(f"  ! {inv.function} attempt {inv.attempt} failed: {inv.result.error_type}: {inv.result.error}")

    with _offline_cloud(args, on_invocation=on_invocation) as cloud:
        _print(f"offline cloud up in {time.monotonic() - started:.1f}s: {len(cloud.pools)} functions, "
               f"routes from {cloud.stack.template_path.name}")
        _, run_id = _upload(cloud.client("s3"), cloud.bucket, source)

        def stalled() -> str | None:
            if not cloud.is_idle():
                return None
            time.sleep(0.3)
            return "the chain stopped before evaluation and recorded no failure" if cloud.is_idle() else None

        follower = RunFollower(cloud.client("s3"), cloud.bucket, run_id, _show_step)
        outcome = follower.follow(timeout=args.timeout, stalled=stalled)
        try:
            cloud.settle(timeout=60, quiet=0.05)  # let duplicates and retries finish before the bucket is copied
        except TimeoutError as err:
            _print(f"mlpipe: {err}")
        keys = mirror_bucket(cloud.client("s3"), cloud.bucket, HISTORY)  # `mlpipe runs` and `mlpipe show` read this history
        out_dir = Path(args.out) if args.out else None
        for key in keys if out_dir else []:
            (out_dir / key).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HISTORY / key, out_dir / key)
        _report(outcome, keys, out_dir, follower.keys, HISTORY)
    _print(f"total {time.monotonic() - started:.1f}s")
    return 0 if outcome.succeeded else 1


def cmd_empty(args: argparse.Namespace) -> int:
    """Delete every object version and delete marker of a stack's bucket, so `sam delete` can remove it."""
    s3, bucket = stack_bucket(args.stack, args.region)
    if not args.yes:
        answer = input(f"delete every object and version in s3://{bucket}? type the bucket name to confirm: ")
        if answer.strip() != bucket:
            _print("mlpipe: nothing deleted")
            return 1
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        batch = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(batch), 1000):
            chunk = batch[start:start + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            deleted += len(chunk)
    _print(f"deleted {deleted} object versions from s3://{bucket}; now `sam delete --stack-name {args.stack}`")
    return 0


def cmd_cloud(args: argparse.Namespace) -> int:
    """Keep an offline cloud running for other tools: AWS CLI, boto3, `mlpipe run --stack`."""
    with _offline_cloud(args) as cloud:
        cloud.register_stack()
        _print(f"# offline cloud: stack {cloud.stack.name}, bucket {cloud.bucket}. Ctrl-C stops it.")
        for name, value in cloud.aws_environment().items():
            _print(f"export {name}={value}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def _reader(args: argparse.Namespace) -> LocalBucket | S3Bucket:
    if args.stack:
        return S3Bucket(*stack_bucket(args.stack, args.region))
    return LocalBucket(Path(args.dir) if args.dir else HISTORY)


def _fmt_seconds(value) -> str:
    return f"{value:.1f}s" if isinstance(value, (int, float)) else "-"


def cmd_runs(args: argparse.Namespace) -> int:
    reader = _reader(args)
    statuses = [s for s in (reader.get_json(layout.RunKeys(r).status) for r in reader.run_ids()) if s]
    if not statuses:
        _print(f"no runs recorded in {reader.location('')}")
        return 0
    statuses.sort(key=lambda s: s["created_at"])
    _print(f"{'RUN':<36} {'STATUS':<10} {'STARTED (UTC)':<20} {'DURATION':>9} {'ACCURACY':>9}  STAGE")
    for s in statuses:
        accuracy = (s.get("metrics") or {}).get("accuracy")
        note = s.get("stage") or "-"
        if s["status"] == runs.FAILED:
            note = f"{s['failure']['stage']}: {s['failure']['reason']}"[:80]
        accuracy_text = "-" if accuracy is None else f"{accuracy:.4f}"
        _print(f"{s['run_id']:<36} {s['status']:<10} {s['created_at'][:19].replace('T', ' '):<20} "
               f"{_fmt_seconds(s.get('seconds')):>9} {accuracy_text:>9}  {note}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    reader = _reader(args)
    keys = layout.RunKeys(args.run)
    status = reader.get_json(keys.status)
    if status is None:
        _print(f"mlpipe: no run {args.run} in {reader.location('')}")
        return 2
    _print(f"run {status['run_id']}: {status['status']}" + (f" in {status['seconds']:.1f}s" if status.get("seconds") else ""))
    source = status.get("source") or {}
    if source:
        _print(f"source: {source.get('key')} (version {source.get('version_id')})")
    _print("timeline (UTC):")
    for stage in runs.STAGES:
        entry = status["stages"].get(stage)
        if not entry:
            _print(f"  {stage:<10} -")
            continue
        extra = {k: v for k, v in entry.items() if k not in ("status", "started_at", "finished_at", "seconds")}
        _print(f"  {stage:<10} {entry.get('status', '?'):<9} {entry['started_at'][11:23]} -> {(entry.get('finished_at') or '')[11:23]:<12} "
               f"{_fmt_seconds(entry.get('seconds')):>7}  {' '.join(f'{k}={v}' for k, v in extra.items())}")
    if status["status"] == runs.FAILED:
        failure = status["failure"]
        _print(f"failed at {failure['stage']}: {failure['reason']}")
        if failure.get("details"):
            _print(f"details: {json.dumps(failure['details'], default=str)}")
        _print(f"error record: {reader.location(keys.error)}")
    metrics = reader.get_json(keys.metrics)
    if metrics:
        _print("metrics: " + "  ".join(f"{n}={metrics[n]:.4f}" for n in METRIC_ORDER if isinstance(metrics.get(n), float)))
        _print(f"report: {reader.location(keys.report)}")
    return 0


def _offline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a template Parameter offline, e.g. --param NumRound=50 (repeatable)")
    faults = parser.add_argument_group("fault injection (offline cloud)")
    faults.add_argument("--duplicate-events", action="store_true", help="deliver every event twice, at the same moment")
    faults.add_argument("--fail", action="append", default=[], choices=["train", "transform"],
                        help="make that SageMaker job end Failed with a reason (repeatable)")
    faults.add_argument("--throttle", type=int, default=0, metavar="N", help="answer the first N SageMaker calls with ThrottlingException")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlpipe", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole chain on FILE in the offline cloud and follow it")
    run.add_argument("file", help="a CSV with the Titanic columns")
    run.add_argument("--out", help="mirror the bucket's objects into this folder")
    run.add_argument("--timeout", type=float, default=600, help="seconds to wait for the run to end (default 600)")
    run.add_argument("--stack", help="run on this deployed stack (its bucket from the stack's Outputs) instead of offline")
    run.add_argument("--region", help="the stack's region (default: your AWS configuration)")
    _offline_arguments(run)
    run.set_defaults(func=cmd_run)

    cloud = sub.add_parser("cloud", help="keep an offline cloud running and print the environment that reaches it")
    _offline_arguments(cloud)
    cloud.set_defaults(func=cmd_cloud)

    empty = sub.add_parser("empty", help="delete every object version of a deployed stack's bucket (before `sam delete`)")
    empty.add_argument("--stack", required=True)
    empty.add_argument("--region")
    empty.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    empty.set_defaults(func=cmd_empty)

    runs_cmd = sub.add_parser("runs", help="list runs with status, start, duration and accuracy")
    show = sub.add_parser("show", help="print a run's status, timeline, failure and metrics")
    show.add_argument("run", help="run id")
    for command in (runs_cmd, show):
        where = command.add_mutually_exclusive_group()
        where.add_argument("--dir", help=f"a folder mirroring a bucket (default {HISTORY})")
        where.add_argument("--stack", help="read the runs of this deployed stack")
        command.add_argument("--region", help="the stack's region")
    runs_cmd.set_defaults(func=cmd_runs)
    show.set_defaults(func=cmd_show)
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
