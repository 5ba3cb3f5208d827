"""The model registry: one SageMaker model package group per dataset, a version per run that reaches evaluation.

A version carries its inference specification (image and model artifact), the metrics file as
model metrics, and in its customer metadata the run id and where its frozen spec and fitted
transform are, so scoring applies exactly what the model was trained on. The dataset's serving
version is its newest Approved one; to roll back, reject the newer.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from . import aws, layout
from .models import ModelVersion

APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"


def ensure_group(sagemaker, group: str, dataset: str) -> None:
    try:
        sagemaker.create_model_package_group(ModelPackageGroupName=group,
                                             ModelPackageGroupDescription=f"mlpipe models of dataset {dataset}"[:1024])
    except ClientError as err:
        if not aws.already_exists(err):
            raise


def version_of(described: dict) -> ModelVersion:
    """A DescribeModelPackage answer as the typed record the pipeline reads."""
    meta = described.get("CustomerMetadataProperties") or {}
    (container,) = described["InferenceSpecification"]["Containers"][:1]
    quality = ((described.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
    score = meta.get("gate_score")
    created = described.get("CreationTime")
    return ModelVersion(
        arn=described["ModelPackageArn"], group=described["ModelPackageGroupName"], version=described["ModelPackageVersion"],
        status=described["ModelApprovalStatus"], created_at=created.isoformat() if hasattr(created, "isoformat") else str(created),
        run_id=meta["run_id"], dataset=meta["dataset"], image=container["Image"], model_data=container["ModelDataUrl"],
        spec_uri=meta["spec"], transform_uri=meta["transform"], metrics_uri=quality.get("S3Uri"),
        gate_metric=meta.get("gate_metric"), gate_score=float(score) if score not in (None, "") else None,
        description=described.get("ApprovalDescription"),
    )


def describe(sagemaker, arn: str) -> ModelVersion:
    return version_of(sagemaker.describe_model_package(ModelPackageName=arn))


def versions(sagemaker, group: str, status: str | None = None, newest_first: bool = True, limit: int | None = None) -> list[dict]:
    """Summaries of the group's versions (an empty list when the group does not exist yet)."""
    request = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending" if newest_first else "Ascending"}
    if status:
        request["ModelApprovalStatus"] = status
    found: list[dict] = []
    try:
        while True:
            page = sagemaker.list_model_packages(**request, MaxResults=min(100, limit or 100))
            found += page.get("ModelPackageSummaryList", [])
            if not page.get("NextToken") or (limit and len(found) >= limit):
                return found[:limit] if limit else found
            request["NextToken"] = page["NextToken"]
    except ClientError as err:
        if aws.error_code(err) in ("ValidationException", "ResourceNotFound") and "does not exist" in str(err).lower():
            return []
        raise


def serving_version(sagemaker, job_prefix: str, dataset: str) -> ModelVersion | None:
    """The dataset's newest Approved version, or None when it has none."""
    newest = versions(sagemaker, layout.model_package_group(job_prefix, dataset), status=APPROVED, limit=1)
    return describe(sagemaker, newest[0]["ModelPackageArn"]) if newest else None


def find_version(sagemaker, job_prefix: str, dataset: str, number: int) -> ModelVersion | None:
    for summary in versions(sagemaker, layout.model_package_group(job_prefix, dataset)):
        if summary["ModelPackageVersion"] == number:
            return describe(sagemaker, summary["ModelPackageArn"])
    return None
