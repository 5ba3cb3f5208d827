"""What failed, for which run and why, from a SageMaker job that ended Failed or Stopped."""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import layout

TRAINING = "SageMaker Training Job State Change"
TRANSFORM = "SageMaker Transform Job State Change"
PROCESSING = "SageMaker Processing Job State Change"


@dataclass(frozen=True)
class Failure:
    run_id: str
    stage: str
    reason: str
    details: dict


def from_job_event(detail_type: str, detail: dict, job_prefix: str) -> Failure:
    """A Processing job fails the preprocess stage, a training job the train stage, a transform job the infer stage.

    A Processing job's own words (its ExitMessage: for a rejected file, what is wrong with it) come with its reason.
    """
    if detail_type == PROCESSING:
        name, status, stage, kind = detail["ProcessingJobName"], detail["ProcessingJobStatus"], "preprocess", "processing job"
    elif detail_type == TRAINING:
        name, status, stage, kind = detail["TrainingJobName"], detail["TrainingJobStatus"], "train", "training job"
    elif detail_type == TRANSFORM:
        name, status, stage, kind = detail["TransformJobName"], detail["TransformJobStatus"], "infer", "transform job"
    else:
        raise ValueError(f"not a SageMaker job state change: {detail_type!r}")
    reason = detail.get("FailureReason") or ("stopped before it finished" if status == "Stopped" else "no reason given")
    details = {"job_name": name, "job_status": status, "failure_reason": detail.get("FailureReason")}
    rejected = _rejection(detail.get("ExitMessage"))
    if rejected:
        reason, details["exit_message"] = rejected, detail.get("ExitMessage")
    return Failure(
        run_id=layout.run_id_of_job(job_prefix, name, detail.get("Tags")),
        stage=stage,
        reason=f"{kind} {name} {status}: {reason}",
        details=details,
    )


def _rejection(exit_message: str | None) -> str | None:
    """The reason a Processing job rejected its input, from the message it left (preprocess_job.py)."""
    try:
        document = json.loads(exit_message or "")
    except ValueError:
        return None
    return document.get("rejected") if isinstance(document, dict) else None
