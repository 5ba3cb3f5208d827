"""CreateModel and CreateTransformJob requests for a completed training job, and for the champion it is compared with."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_common import layout
from pipeline_common.models import SplitManifest
from pipeline_common.transform_jobs import TransformSettings, package_model_request, transform_request

__all__ = ["CompletedTraining", "TransformSettings", "completed_training", "model_request", "requests_for"]


@dataclass(frozen=True)
class CompletedTraining:
    job_name: str
    run_id: str
    image: str
    model_artifacts: str


def completed_training(detail: dict, job_prefix: str) -> CompletedTraining | None:
    """The parts of a 'Training Job State Change' detail that inference needs; None when a field is absent."""
    name = detail["TrainingJobName"]
    run_id = layout.run_id_of_job(job_prefix, name, detail.get("Tags"))
    image = (detail.get("AlgorithmSpecification") or {}).get("TrainingImage")
    artifacts = (detail.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    if not image or not artifacts:
        return None
    return CompletedTraining(job_name=name, run_id=run_id, image=image, model_artifacts=artifacts)


def model_request(training: CompletedTraining, role_arn: str) -> dict:
    return {
        "ModelName": training.job_name,
        "PrimaryContainer": {"Image": training.image, "ModelDataUrl": training.model_artifacts},
        "ExecutionRoleArn": role_arn,
        "Tags": layout.run_tags(training.run_id),
    }


def requests_for(bucket: str, job_prefix: str, training: CompletedTraining, manifest: SplitManifest,
                 settings: TransformSettings) -> list[tuple[str, dict]]:
    """The (operation, request) pairs of a run's inference: its model and transform of the test rows, then the
    champion's model and transform of the same rows when the run has a comparable champion."""
    keys = layout.RunKeys(training.run_id)
    calls = [
        ("create_model", model_request(training, settings.role_arn)),
        ("create_transform_job", transform_request(training.job_name, training.job_name, layout.s3_uri(bucket, keys.test_prefix),
                                                   layout.s3_uri(bucket, keys.transform_output_prefix), settings, training.run_id)),
    ]
    if manifest.champion and manifest.champion.comparable:
        name = layout.champion_job_name(job_prefix, training.run_id)
        calls += [
            ("create_model", package_model_request(name, manifest.champion.version.arn, settings.role_arn, training.run_id)),
            ("create_transform_job", transform_request(name, name, layout.s3_uri(bucket, keys.champion_test_prefix),
                                                       layout.s3_uri(bucket, keys.champion_output_prefix), settings, training.run_id)),
        ]
    return calls
