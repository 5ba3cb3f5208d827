"""Batch transform requests shared by the stages that predict: a run's test rows, the champion's, a scoring upload."""

from __future__ import annotations

from dataclasses import dataclass

from . import config, layout


@dataclass(frozen=True)
class TransformSettings:
    role_arn: str
    instance_type: str
    instance_count: int


def settings_from_env() -> TransformSettings:
    return TransformSettings(role_arn=config.env_str("SAGEMAKER_ROLE_ARN"), instance_type=config.env_str("TRANSFORM_INSTANCE_TYPE"),
                             instance_count=config.env_int("TRANSFORM_INSTANCE_COUNT"))


def package_model_request(name: str, package_arn: str, role_arn: str, run_id: str, kind: str = layout.TRAINING) -> dict:
    """A model from a registered version: the registry says which image and artifact."""
    return {"ModelName": name, "PrimaryContainer": {"ModelPackageName": package_arn}, "ExecutionRoleArn": role_arn,
            "Tags": layout.run_tags(run_id, kind)}


def transform_request(name: str, model: str, input_uri: str, output_uri: str, settings: TransformSettings, run_id: str,
                      kind: str = layout.TRAINING) -> dict:
    return {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        # One prediction per input line, written as <input file name>.out under the output path.
        "TransformOutput": {"S3OutputPath": output_uri, "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": settings.instance_type, "InstanceCount": settings.instance_count},
        "Tags": layout.run_tags(run_id, kind),
    }
