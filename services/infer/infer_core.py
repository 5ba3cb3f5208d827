"""CreateModel and CreateTransformJob requests for a completed training job."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_common import layout


@dataclass(frozen=True)
class CompletedTraining:
    job_name: str
    run_id: str
    image: str
    model_artifacts: str


@dataclass(frozen=True)
class TransformSettings:
    role_arn: str
    instance_type: str
    instance_count: int


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


def transform_request(bucket: str, training: CompletedTraining, settings: TransformSettings) -> dict:
    keys = layout.RunKeys(training.run_id)
    return {
        "TransformJobName": training.job_name,
        "ModelName": training.job_name,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": layout.s3_uri(bucket, keys.test_prefix)}},
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        # One prediction per input line, written as <input file name>.out under the output path.
        "TransformOutput": {
            "S3OutputPath": layout.s3_uri(bucket, keys.transform_output_prefix),
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        "TransformResources": {"InstanceType": settings.instance_type, "InstanceCount": settings.instance_count},
        "Tags": layout.run_tags(training.run_id),
    }
