"""What an approval changes: the run's status record, and which version the dataset's endpoint serves."""

from __future__ import annotations

from pipeline_common import layout
from pipeline_common.models import ModelVersion


def approval_recorded(doc: dict, version: ModelVersion, at: str) -> dict:
    """The run's status record carries its version's current approval status (approved or rejected later by a person)."""
    gate = doc.setdefault("gate", {})
    gate.update(status=version.status, version=version.version, arn=version.arn, decided_at=at)
    return doc


def serving_requests(job_prefix: str, version: ModelVersion, role_arn: str, memory_mb: int, max_concurrency: int) -> tuple[dict, dict]:
    """The model and serverless endpoint configuration that serve a version."""
    name = layout.serving_name(job_prefix, version.dataset, version.version)
    tags = layout.run_tags(version.run_id)
    model = {"ModelName": name, "PrimaryContainer": {"ModelPackageName": version.arn}, "ExecutionRoleArn": role_arn, "Tags": tags}
    config = {"EndpointConfigName": name, "Tags": tags, "ProductionVariants": [{
        "VariantName": "AllTraffic", "ModelName": name,
        "ServerlessConfig": {"MemorySizeInMB": memory_mb, "MaxConcurrency": max_concurrency}}]}
    return model, config


def endpoint_change(current: dict | None, config_name: str) -> str:
    """create, update, or none (already serving it); 'busy' when the endpoint is still moving (retry later)."""
    if current is None:
        return "create"
    if current["EndpointConfigName"] == config_name:
        return "none"
    return "update" if current["EndpointStatus"] in ("InService", "Failed") else "busy"
