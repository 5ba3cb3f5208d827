"""mlpipe run: upload a CSV (and its dataset's spec), follow the run stage by stage, print the outcome."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from pipeline_common import layout
from pipeline_common.errors import InputRejected
from pipeline_common.s3_streams import put_file

from .buckets import keys_under, link_keys, mirror_run, run_keys, stack_bucket
from .display import print_outcome, say, show_step
from .follow import RunFollower, RunOutcome, idle_check
from .home import history_dir


@dataclass(frozen=True)
class Upload:
    """What a run uploads: the file under raw/, and the dataset's spec when the command line gives or infers one."""

    source: Path
    key: str
    dataset: str | None  # None: the stack's default dataset
    spec_text: str | None = None
    spec_origin: str = ""


def plan_upload(args: argparse.Namespace, source: Path) -> Upload:
    """--spec or --target make the file a dataset of its own (--dataset, else the file's stem); neither: the default dataset."""
    if not (args.spec or args.target):
        return Upload(source, layout.upload_key(args.dataset, source.name), args.dataset)
    dataset = args.dataset or source.stem
    from pipeline_common.models import SpecError, dump_spec, load_spec_text  # pydantic: only when a spec is read

    if args.spec:
        text = Path(args.spec).read_text()
        spec = load_spec_text(text, args.spec)
        if args.target and args.target != spec.target:
            raise SpecError(f"--target {args.target} disagrees with the target {spec.target} of {args.spec}")
        updates = {k: v for k, v in (("name", dataset), ("problem_type", args.problem)) if v and getattr(spec, k) != v}
        if updates:
            text = dump_spec(spec.model_copy(update=updates))
        return Upload(source, layout.upload_key(dataset, source.name), dataset, text, args.spec)
    from tabular.infer import infer  # pandas: only when a spec is drafted

    draft = infer(source.read_bytes(), args.target, dataset, args.problem)
    return Upload(source, layout.upload_key(dataset, source.name), dataset, draft.yaml(source.name), "inferred")


def put_spec(s3, bucket: str, upload: Upload, only_if_changed: bool) -> None:
    """Upload the dataset's spec to its key; on a deployed stack only when it is absent or changed, saying which."""
    key = layout.spec_key(upload.dataset)
    where = f"s3://{bucket}/{key}"
    if only_if_changed:
        try:
            current = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            current = None
        if current == upload.spec_text:
            say(f"spec of dataset {upload.dataset} unchanged at {where}")
            return
        say(f"uploaded the {upload.spec_origin} spec of dataset {upload.dataset} to {where} "
            f"({'it was absent' if current is None else 'it had changed'})")
    else:
        say(f"spec of dataset {upload.dataset}: {upload.spec_origin}, at {key}")
    s3.put_object(Bucket=bucket, Key=key, Body=upload.spec_text.encode(), ContentType="application/yaml")


def upload_file(s3, bucket: str, upload: Upload) -> str:
    # one PUT up to 5 GiB (a multipart upload above): the offline S3, moto, joins a multipart upload's parts in memory
    response = put_file(s3, bucket, upload.key, upload.source)
    version = response.get("VersionId")
    if not version:
        raise SystemExit(f"mlpipe: bucket {bucket} gave no version id; the pipeline's bucket must be versioned")
    run_id = layout.run_id_for_upload(upload.key, version, None)
    say(f"uploaded {upload.key} (version {version}) -> run {run_id}")
    return run_id


def report(outcome: RunOutcome, keys: list[str], out_dir: Path | None, run_keys: layout.RunKeys, where: str | Path) -> None:
    """The outcome, then where its files are: the --out folder, or else the run's own location."""
    print_outcome(outcome)
    if out_dir is not None:
        say(f"mirrored {len(keys)} objects to {out_dir}/")
    base = out_dir if out_dir is not None else where
    join = (lambda key: f"{base}/{key}") if isinstance(base, str) else (lambda key: str(base / key))
    if outcome.succeeded:
        say(f"metrics: {join(run_keys.metrics)}")
        say(f"report:  {join(run_keys.report)}")
    elif outcome.error:
        say(f"error:   {join(run_keys.error)}")


def cmd_run(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        say(f"mlpipe: {source} is not a file")
        return 2
    try:
        upload = plan_upload(args, source)
    except (ValueError, InputRejected, OSError) as err:  # ValueError: a SpecError
        say(f"mlpipe: {err}")
        return 2
    return run_on_stack(args, upload) if args.stack else run_offline(args, upload)


def run_on_stack(args: argparse.Namespace, upload: Upload) -> int:
    """Upload to a deployed stack's bucket and follow the run there."""
    started = time.monotonic()
    s3, bucket = stack_bucket(args.stack, args.region)
    say(f"stack {args.stack}: bucket {bucket}")
    if upload.spec_text is not None:
        put_spec(s3, bucket, upload, only_if_changed=True)
    run_id = upload_file(s3, bucket, upload)
    follower = RunFollower(s3, bucket, run_id, show_step)
    outcome = follower.follow(timeout=args.timeout, interval=2.0)
    out_dir = Path(args.out) if args.out else None
    keys = mirror_run(s3, bucket, run_id, upload.key, out_dir) if out_dir else []
    report(outcome, keys, out_dir, follower.keys, f"s3://{bucket}")
    say(f"total {time.monotonic() - started:.1f}s")
    return 0 if outcome.succeeded else 1


def run_offline(args: argparse.Namespace, upload: Upload) -> int:
    """Start the offline cloud, upload, follow, and keep a copy of the bucket."""
    from .cloud_cmd import offline_cloud

    started = time.monotonic()

    def on_invocation(inv) -> None:
        if not inv.result.ok:
            say(f"  ! {inv.function} attempt {inv.attempt} failed: {inv.result.error_type}: {inv.result.error}")

    history = history_dir()
    with offline_cloud(args, on_invocation=on_invocation) as cloud:
        how = f"of `mlpipe cloud` (pid {cloud.pid})" if cloud.served else f"up in {time.monotonic() - started:.1f}s"
        say(f"offline cloud {how}: {len(cloud.stack.functions)} functions, routes from {cloud.stack.template_path.name}")
        s3 = cloud.client("s3")
        if upload.spec_text is not None:
            put_spec(s3, cloud.bucket, upload, only_if_changed=False)
        run_id = upload_file(s3, cloud.bucket, upload)

        follower = RunFollower(s3, cloud.bucket, run_id, show_step)
        outcome = follower.follow(timeout=args.timeout, stalled=idle_check(cloud, "the chain stopped before evaluation and recorded no failure"))
        try:
            cloud.settle(timeout=60, quiet=0.05)  # let duplicates, retries and the approval finish before the account is kept
        except TimeoutError as err:
            say(f"mlpipe: {err}")
        cloud.persist()  # the account's bucket on disk: `mlpipe runs`, `show`, `score` and `models` read it
        out_dir = Path(args.out) if args.out else None
        # listed, not taken from what this persist wrote: on a running cloud another command may have kept them already
        keys = run_keys(s3, cloud.bucket, run_id, upload.key) + keys_under(s3, cloud.bucket, layout.SPECS)
        if out_dir:
            link_keys(history, keys, out_dir)
        report(outcome, keys, out_dir, follower.keys, history)
    say(f"total {time.monotonic() - started:.1f}s")
    return 0 if outcome.succeeded else 1
