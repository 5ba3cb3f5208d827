"""Which run failed, at which stage, and why: from SageMaker job events and Lambda on-failure records."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_common import layout

TRAINING = "SageMaker Training Job State Change"
TRANSFORM = "SageMaker Transform Job State Change"
# The stage whose function is triggered by an object under each prefix.
STAGE_OF_PREFIX = {layout.RAW: "preprocess", layout.SPLIT: "train", layout.INFERENCE_OUTPUT: "evaluate"}


@dataclass(frozen=True)
class Failure:
    run_id: str
    stage: str
    reason: str
    details: dict


def from_job_event(detail_type: str, detail: dict, job_prefix: str) -> Failure:
    """A training or transform job that ended Failed or Stopped."""
    if detail_type == TRAINING:
        name, status, stage, kind = detail["TrainingJobName"], detail["TrainingJobStatus"], "train", "training job"
    elif detail_type == TRANSFORM:
        name, status, stage, kind = detail["TransformJobName"], detail["TransformJobStatus"], "infer", "transform job"
    else:
        raise ValueError(f"not a SageMaker job state change: {detail_type!r}")
    reason = detail.get("FailureReason") or ("stopped before it finished" if status == "Stopped" else "no reason given")
    return Failure(
        run_id=layout.run_id_of_job(job_prefix, name, detail.get("Tags")),
        stage=stage,
        reason=f"{kind} {name} {status}: {reason}",
        details={"job_name": name, "job_status": status, "failure_reason": detail.get("FailureReason")},
    )


def from_destination_record(record: dict, job_prefix: str) -> Failure | None:
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
        run_id = (layout.run_id_for_upload(key, obj.get("version-id"), obj.get("sequencer")) if stage == "preprocess"
                  else layout.run_id_from_key(key))
        return Failure(run_id, stage, reason, {**details, "key": key})
    if event.get("source") == "aws.sagemaker" and event.get("detail-type") == TRAINING:
        return Failure(layout.run_id_of_job(job_prefix, detail["TrainingJobName"], detail.get("Tags")), "infer", reason, details)
    return None
