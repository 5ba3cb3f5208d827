"""mlpipe runs and mlpipe show: look back at recorded runs, offline or on a deployed stack."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipeline_common import layout, runs

from .buckets import LocalBucket, S3Bucket, stack_bucket
from .display import headline_metric, metric_lines, say
from .home import history_dir, home


def reader(args: argparse.Namespace) -> LocalBucket | S3Bucket:
    if args.stack:
        return S3Bucket(*stack_bucket(args.stack, args.region))
    if not args.dir:
        from .offline.served import find

        served = find(home())
        if served is not None:  # runs it has in flight, or started by other tools, are on disk once it keeps them
            served.persist()
    return LocalBucket(Path(args.dir) if args.dir else history_dir())


def _fmt_seconds(value) -> str:
    return f"{value:.1f}s" if isinstance(value, (int, float)) else "-"


def cmd_runs(args: argparse.Namespace) -> int:
    bucket = reader(args)
    statuses = [s for s in (bucket.get_json(layout.RunKeys(r).status) for r in bucket.run_ids()) if s]
    if not statuses:
        say(f"no runs recorded in {bucket.location('')}")
        return 0
    statuses.sort(key=lambda s: s["created_at"])
    say(f"{'RUN':<36} {'DATASET':<16} {'STATUS':<10} {'STARTED (UTC)':<20} {'DURATION':>9} {'METRIC':>17}  STAGE")
    for s in statuses:
        name, value = headline_metric(s.get("metrics"))
        metric = "-" if value is None else f"{name} {value:.4f}"
        note = s.get("stage") or "-"
        if s["status"] == runs.FAILED:
            note = f"{s['failure']['stage']}: {s['failure']['reason']}"[:80]
        say(f"{s['run_id']:<36} {str(s.get('dataset') or '-')[:16]:<16} {s['status']:<10} "
            f"{s['created_at'][:19].replace('T', ' '):<20} {_fmt_seconds(s.get('seconds')):>9} {metric:>17}  {note}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    bucket = reader(args)
    keys = layout.RunKeys(args.run)
    status = bucket.get_json(keys.status)
    if status is None:
        say(f"mlpipe: no run {args.run} in {bucket.location('')}")
        return 2
    say(f"run {status['run_id']}: {status['status']}" + (f" in {status['seconds']:.1f}s" if status.get("seconds") else ""))
    source = status.get("source") or {}
    if source:
        say(f"source: {source.get('key')} (version {source.get('version_id')}), dataset {status.get('dataset') or '-'}")
    say("timeline (UTC):")
    for stage in runs.STAGES:
        entry = status["stages"].get(stage)
        if not entry:
            say(f"  {stage:<10} -")
            continue
        extra = {k: v for k, v in entry.items() if k not in ("status", "started_at", "finished_at", "seconds")}
        say(f"  {stage:<10} {entry.get('status', '?'):<9} {entry['started_at'][11:23]} -> {(entry.get('finished_at') or '')[11:23]:<12} "
            f"{_fmt_seconds(entry.get('seconds')):>7}  {' '.join(f'{k}={v}' for k, v in extra.items())}")
    if status["status"] == runs.FAILED:
        failure = status["failure"]
        say(f"failed at {failure['stage']}: {failure['reason']}")
        if failure.get("details"):
            say(f"details: {json.dumps(failure['details'], default=str)}")
        say(f"error record: {bucket.location(keys.error)}")
    profile = bucket.get_json(keys.profile) or {}
    for warning in profile.get("warnings", []):
        say(f"warning: {warning['kind']}: {warning['message']}")
    metrics = bucket.get_json(keys.metrics)
    if metrics:
        say("metrics:")
        for line in metric_lines(metrics):
            say(line)
        say(f"report: {bucket.location(keys.report)}")
    return 0
