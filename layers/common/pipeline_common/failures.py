"""What failed, for which run and why, from a SageMaker job that ended Failed or Stopped."""

from __future__ import annotations

from dataclasses import dataclass

from . import layout

TRAINING = "SageMaker Training Job State Change"
TRANSFORM = "SageMaker Transform Job State Change"


@dataclass(frozen=True)
class Failure:
    run_id: str
    stage: str
    reason: str
    details: dict


def from_job_event(detail_type: str, detail: dict, job_prefix: str) -> Failure:
    """A training job fails the train stage, a transform job the infer stage."""
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
