"""A run's model becomes a version of its dataset's model package group, with the gate's verdict as its status.

The version is created PendingManualApproval and then set to the verdict: an update always sends a
"SageMaker Model Package State Change" event, which moves the dataset's endpoint. The run id is the
call's ClientToken, so a retried evaluation finds its version instead of adding another.
"""

from __future__ import annotations

from pipeline_common import aws, layout, registry
from pipeline_common.models import GateVerdict

DESCRIPTION_LIMIT = 1000


def create_version(bucket: str, job_prefix: str, dataset: str, run_id: str, image: str, model_data: str,
                   verdict: GateVerdict) -> dict:
    """Register the run's model; return the DescribeModelPackage answer of its version."""
    sagemaker = aws.client("sagemaker")
    group = layout.model_package_group(job_prefix, dataset)
    registry.ensure_group(sagemaker, group, dataset)
    keys = layout.RunKeys(run_id)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=f"run {run_id} of dataset {dataset}"[:1024],
        InferenceSpecification={"Containers": [{"Image": image, "ModelDataUrl": model_data}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": layout.s3_uri(bucket, keys.metrics)}}},
        ModelApprovalStatus=registry.PENDING,
        CustomerMetadataProperties={
            "run_id": run_id, "dataset": dataset[:256], "spec": layout.s3_uri(bucket, keys.frozen_spec),
            "transform": layout.s3_uri(bucket, keys.transform), "gate_metric": verdict.metric,
            "gate_score": "" if verdict.challenger is None else f"{verdict.challenger:.6g}",
        },
        ClientToken=run_id,
        Tags=layout.run_tags(run_id),
    )["ModelPackageArn"]
    return sagemaker.describe_model_package(ModelPackageName=arn)


def set_status(arn: str, verdict: GateVerdict) -> None:
    text = f"{verdict.recommendation} by the gate ({verdict.mode} mode): " + "; ".join(verdict.reasons)
    aws.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus=verdict.status,
                                                 ApprovalDescription=text[:DESCRIPTION_LIMIT])
