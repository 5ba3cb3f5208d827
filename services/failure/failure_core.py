"""Which run failed, at which stage, and why: from SageMaker job events and Lambda on-failure records."""

from __future__ import annotations

from typing import Callable

from pipeline_common import layout
from pipeline_common.events import key_candidates
from pipeline_common.failures import PROCESSING, TRAINING, TRANSFORM, Failure, from_job_event

__all__ = ["PROCESSING", "TRAINING", "TRANSFORM", "Failure", "from_job_event", "from_destination_record"]

# The stage whose function is triggered by an object under each prefix.
STAGE_OF_PREFIX = {layout.RAW: "preprocess", layout.SCORE: "score", layout.SPLIT: "train"}
# The stage whose function is triggered by each SageMaker job state change.
STAGE_OF_EVENT = {PROCESSING: "preprocess", TRAINING: "infer", TRANSFORM: "evaluate"}


def upload_run(key: str, obj: dict, has_run: Callable[[str], bool]) -> str:
    """The run of an upload's event: its key as sent, or decoded once (see pipeline_common.events), whichever run was recorded."""
    runs = [layout.run_id_for_upload(candidate, obj.get("version-id"), obj.get("sequencer")) for candidate in key_candidates(key)]
    return next((run for run in runs if has_run(run)), runs[-1])


def from_destination_record(record: dict, job_prefix: str, has_run: Callable[[str], bool] = lambda run_id: False) -> Failure | None:
    """A Lambda on-failure destination record: the function gave up on an event after its retries.

    None when the event belongs to no run of this pipeline, or when only a duplicate gave up.
    """
    event = record.get("requestPayload") or {}
    response = record.get("responsePayload") or {}
    context = record.get("requestContext") or {}
    arn_parts = context.get("functionArn", "").split(":")  # arn:aws:lambda:region:account:function:name[:qualifier]
    function = arn_parts[6] if len(arn_parts) > 6 else "unknown function"
    error = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', 'no message')}"
    reason = f"{function} gave up after {context.get('approximateInvokeCount', '?')} attempts ({context.get('condition', '?')}): {error}"
    if context.get("condition") == "EventAgeExceeded" and not response:
        reason = f"{function} dropped the event unprocessed: it waited longer than MaximumEventAgeInSeconds (EventAgeExceeded)"
    details = {"function": function, "condition": context.get("condition"), "error_type": response.get("errorType"),
               "error_message": response.get("errorMessage")}
    if response.get("errorType") == "IdempotencyAlreadyInProgressError":
        # A duplicate delivery gave up while the first one was still working: the first decides the run.
        return None
    detail = event.get("detail") or {}
    if event.get("source") == "aws.s3":
        obj = detail.get("object") or {}
        key = obj.get("key", "")
        stage = next((s for prefix, s in STAGE_OF_PREFIX.items() if key.startswith(prefix)), None)
        if stage is None:
            return None
        run_id = upload_run(key, obj, has_run) if stage in ("preprocess", "score") else layout.run_id_from_key(key)
        return Failure(run_id, stage, reason, {**details, "key": key})
    stage = STAGE_OF_EVENT.get(event.get("detail-type")) if event.get("source") == "aws.sagemaker" else None
    name = detail.get("TrainingJobName") or detail.get("TransformJobName") or detail.get("ProcessingJobName")
    if stage is None or not name:
        return None
    run_id = layout.run_id_of_job(job_prefix, name, detail.get("Tags"))
    if (detail.get("Tags") or {}).get(layout.RUN_KIND_TAG) == layout.SCORING_RUN:
        stage = "predictions"
    return Failure(run_id, stage, reason, details)
