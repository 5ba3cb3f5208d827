"""The run status record (runs/<run>/status.json) and the failure record (errors/<run>/error.json).

The transitions are pure functions on a plain dict; ``update_status`` applies one to the
record in S3 with optimistic concurrency (If-Match on the ETag), so two handlers of the
same run never lose each other's update.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Callable

from botocore.exceptions import ClientError

from . import aws, layout

# A training run (an upload to raw/) and a scoring run (an upload to score/) go through these stages.
STAGES = ("preprocess", "train", "infer", "evaluate")
SCORING_STAGES = ("score", "transform", "predictions")
STAGES_OF = {"training": STAGES, "scoring": SCORING_STAGES}
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _seconds_between(start: str, end: str) -> float:
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


# -- pure transitions ---------------------------------------------------------------------------
def new_status(run_id: str, at: str, kind: str = "training") -> dict:
    return {"run_id": run_id, "kind": kind, "status": RUNNING, "stage": None, "created_at": at, "updated_at": at,
            "stages": {}, "failure": None, "source": None, "dataset": None, "jobs": {}, "metrics": None}


def stages_of(doc: dict) -> tuple[str, ...]:
    return STAGES_OF[doc.get("kind", "training")]


def stage_started(doc: dict, stage: str, at: str, **info) -> dict:
    if stage not in stages_of(doc):
        raise ValueError(f"unknown stage {stage!r} of a {doc.get('kind', 'training')} run")
    entry = doc["stages"].setdefault(stage, {"status": RUNNING, "started_at": at})
    entry.update({k: v for k, v in info.items() if v is not None})
    if doc["status"] == RUNNING:  # a late duplicate never revives a finished run
        doc["stage"] = stage
    return doc


def stage_finished(doc: dict, stage: str, at: str, **info) -> dict:
    entry = doc["stages"].setdefault(stage, {"started_at": at})
    if entry.get("status") != SUCCEEDED:
        entry.update(status=SUCCEEDED, finished_at=at, seconds=_seconds_between(entry["started_at"], at))
    entry.update({k: v for k, v in info.items() if v is not None})
    return doc


def run_succeeded(doc: dict, at: str, metrics: dict) -> dict:
    if doc["status"] != FAILED:
        doc.update(status=SUCCEEDED, stage=stages_of(doc)[-1], finished_at=at, metrics=metrics)
        doc["seconds"] = _seconds_between(doc["created_at"], at)
    return doc


def run_failed(doc: dict, at: str, stage: str, reason: str, details: dict | None = None) -> dict:
    if doc["status"] != RUNNING:
        return doc  # the first failure explains the run; a late one never overturns a success
    entry = doc["stages"].setdefault(stage, {"started_at": at})
    entry.update(status=FAILED, finished_at=at, seconds=_seconds_between(entry["started_at"], at))
    doc.update(status=FAILED, stage=stage, finished_at=at, failure={"stage": stage, "reason": reason, "details": details or {}})
    doc["seconds"] = _seconds_between(doc["created_at"], at)
    return doc


def error_record(run_id: str, stage: str, reason: str, details: dict | None, source: dict | None, at: str) -> dict:
    return {"run_id": run_id, "stage": stage, "reason": reason, "details": details or {}, "source": source, "at": at}


# -- S3 -----------------------------------------------------------------------------------------
def update_status(bucket: str, run_id: str, change: Callable[[dict, str], dict], attempts: int = 20, kind: str = "training") -> dict:
    """Read, change and write the status record (a new one of ``kind`` if there is none), retrying when another
    writer got there first."""
    s3 = aws.client("s3")
    key = layout.RunKeys(run_id).status
    for attempt in range(attempts):
        try:
            obj = s3.get_object(Bucket=bucket, Key=key)
            doc, condition = json.loads(obj["Body"].read()), {"IfMatch": obj["ETag"]}
        except ClientError as err:
            if aws.error_code(err) not in ("NoSuchKey", "404"):
                raise
            doc, condition = new_status(run_id, now_iso(), kind), {"IfNoneMatch": "*"}
        doc = change(doc, now_iso())
        doc["updated_at"] = now_iso()
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc, indent=2, default=str).encode(),
                          ContentType="application/json", **condition)
            return doc
        except ClientError as err:
            if aws.error_code(err) not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise
            time.sleep(0.02 * (attempt + 1))
    raise RuntimeError(f"could not update {key} after {attempts} attempts: too many concurrent writers")


def _create_error_record(bucket: str, run_id: str, record: dict) -> tuple[dict, bool]:
    """Write the run's error record unless one exists; return the record that stands and whether this call wrote it."""
    key = layout.RunKeys(run_id).error
    try:
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(record, indent=2, sort_keys=True, default=str).encode(),
                                    ContentType="application/json", IfNoneMatch="*")
        return record, True
    except ClientError as err:
        if aws.error_code(err) not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
            raise
    return aws.get_json(bucket, key), False


def fail(bucket: str, run_id: str, stage: str, reason: str, details: dict | None = None, source: dict | None = None,
         topic_arn: str | None = None, kind: str = "training") -> dict | None:
    """Record a run's failure: the error record first, then the status, then one metric and one notification.

    Each step can be repeated: when a step raises, Lambda retries the event, and the retry finds
    the error record already written (the first failure's stands), the status already failed but
    not yet notified, and carries on from there. Returns the error record, or None when the run
    had already ended and been told: a late or repeated failure changes nothing and tells nobody twice.
    """
    status = aws.get_json_or_none(bucket, layout.RunKeys(run_id).status)
    if status and (status["status"] == SUCCEEDED or (status["status"] == FAILED and (status.get("failure") or {}).get("notified_at"))):
        return None
    record, wrote = _create_error_record(bucket, run_id, error_record(run_id, stage, reason, details, source, now_iso()))
    outcome = {}

    def mark_failed(doc: dict, at: str) -> dict:
        outcome["succeeded"] = doc["status"] == SUCCEEDED
        if source and not doc.get("source"):
            doc["source"] = source
        return run_failed(doc, at, record["stage"], record["reason"], record["details"])

    update_status(bucket, run_id, mark_failed, kind=kind)
    if outcome["succeeded"]:
        if wrote:  # the run succeeded between the first look and now: this failure came too late to count
            aws.client("s3").delete_object(Bucket=bucket, Key=layout.RunKeys(run_id).error)
        return None
    # Imported here: the CLI reads status records through this module, and Powertools' Logger, Metrics
    # and Tracer must be created in a function's environment, not in whatever process imports runs.
    from .observability import MetricUnit, run_metric

    if topic_arn:
        aws.client("sns").publish(
            TopicArn=topic_arn,
            Subject=f"mlpipe run {run_id} failed at {record['stage']}"[:100],
            Message=json.dumps(record, indent=2, default=str),
        )
    update_status(bucket, run_id, lambda doc, at: {**doc, "failure": {**doc["failure"], "notified_at": at}}, kind=kind)
    run_metric("RunsFailed", 1, MetricUnit.Count, run_id=run_id)
    return record
