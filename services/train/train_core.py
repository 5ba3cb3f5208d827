"""The CreateTrainingJob request of a run, for SageMaker's built-in XGBoost in CSV mode."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_common import layout
from pipeline_common.models import SplitManifest


@dataclass(frozen=True)
class TrainingSettings:
    image: str
    role_arn: str
    instance_type: str
    instance_count: int
    volume_gb: int
    max_runtime_seconds: int
    hyperparameters: dict  # the stack's defaults (template Parameters)
    spot: bool = False
    spot_max_wait_seconds: int = 0


def hyperparameters(defaults: dict, manifest: SplitManifest) -> dict[str, str]:
    """The stack's defaults, then the objective of the problem type, then the dataset spec's overrides.

    SageMaker takes every hyperparameter as a string; num_class comes from the classes found.
    """
    merged = {**defaults, "objective": manifest.objective, **manifest.hyperparameters}
    if manifest.problem_type == "multiclass":
        merged["num_class"] = len(manifest.classes)
    return {k: str(v) for k, v in merged.items()}


def training_job_request(bucket: str, job_prefix: str, run_id: str, settings: TrainingSettings, manifest: SplitManifest) -> dict:
    keys = layout.RunKeys(run_id)
    stopping = {"MaxRuntimeInSeconds": settings.max_runtime_seconds}
    if settings.spot:
        if settings.spot_max_wait_seconds < settings.max_runtime_seconds:
            raise ValueError(
                f"SpotMaxWaitSeconds ({settings.spot_max_wait_seconds}) must be at least "
                f"TrainingMaxRuntimeSeconds ({settings.max_runtime_seconds})"
            )
        stopping["MaxWaitTimeInSeconds"] = settings.spot_max_wait_seconds
    request = {
        "TrainingJobName": layout.job_name(job_prefix, run_id),
        "AlgorithmSpecification": {"TrainingImage": settings.image, "TrainingInputMode": "File"},
        "RoleArn": settings.role_arn,
        "HyperParameters": hyperparameters(settings.hyperparameters, manifest),
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": layout.s3_uri(bucket, keys.train_prefix),
                        # several instances each read their share of the parts: preprocess wrote one per instance at least
                        "S3DataDistributionType": "ShardedByS3Key" if settings.instance_count > 1 else "FullyReplicated",
                    }
                },
                # Without it the container reads the channel as libsvm.
                "ContentType": "text/csv",
                "CompressionType": "None",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": layout.s3_uri(bucket, keys.model_output_prefix)},
        "ResourceConfig": {
            "InstanceType": settings.instance_type,
            "InstanceCount": settings.instance_count,
            "VolumeSizeInGB": settings.volume_gb,
        },
        "StoppingCondition": stopping,
        "Tags": layout.run_tags(run_id),
    }
    if settings.spot:
        request["EnableManagedSpotTraining"] = True
    return request
