"""approval: a model package version changed status -> the run's record says so, the dataset's endpoint follows.

Routed on "SageMaker Model Package State Change" of this stack's groups: the gate's verdict, or a
person's `mlpipe approve` / `mlpipe reject`. With EnableEndpoint, the dataset's serverless endpoint
is created or moved to its newest approved version.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from pipeline_common import aws, config, layout, registry, runs
from pipeline_common.events import sagemaker_job_event
from pipeline_common.observability import logger, metrics, start_run_context, tracer

import approval_core

DETAIL_TYPE = "SageMaker Model Package State Change"


def _endpoint(name: str) -> dict | None:
    try:
        return aws.client("sagemaker").describe_endpoint(EndpointName=name)
    except ClientError as err:
        if aws.error_code(err) == "ValidationException" and "could not find" in str(err).lower():
            return None
        raise


def serve_newest_approved(dataset: str) -> dict:
    sagemaker, prefix = aws.client("sagemaker"), config.job_prefix()
    version = registry.serving_version(sagemaker, prefix, dataset)
    if version is None:
        return {"endpoint": "unchanged", "reason": "no approved version"}
    model, endpoint_config = approval_core.serving_requests(prefix, version, config.env_str("SAGEMAKER_ROLE_ARN"),
                                                            config.env_int("ENDPOINT_MEMORY_MB"), config.env_int("ENDPOINT_MAX_CONCURRENCY"))
    aws.create_once(sagemaker.create_model, **model)
    aws.create_once(sagemaker.create_endpoint_config, **endpoint_config)
    name = layout.endpoint_name(prefix, dataset)
    change = approval_core.endpoint_change(_endpoint(name), endpoint_config["EndpointConfigName"])
    if change == "busy":
        raise RuntimeError(f"endpoint {name} is still updating; the retry moves it to version {version.version}")
    if change == "create":
        aws.create_once(sagemaker.create_endpoint, EndpointName=name, EndpointConfigName=endpoint_config["EndpointConfigName"],
                        Tags=layout.run_tags(version.run_id))
    elif change == "update":
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=endpoint_config["EndpointConfigName"])
    return {"endpoint": name, "change": change, "serving_version": version.version}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    _, detail = sagemaker_job_event(event, DETAIL_TYPE)
    version = registry.describe(aws.client("sagemaker"), detail["ModelPackageArn"])  # its state now, whatever the event's age
    start_run_context(version.run_id)
    bucket = config.bucket_name()
    if aws.get_json_or_none(bucket, layout.RunKeys(version.run_id).status) is not None:
        runs.update_status(bucket, version.run_id, lambda doc, at: approval_core.approval_recorded(doc, version, at))
    result = {"run_id": version.run_id, "dataset": version.dataset, "version": version.version, "status": version.status}
    if config.env_str("ENABLE_ENDPOINT") == "true":
        result.update(serve_newest_approved(version.dataset))
    logger.info("model version status", extra=result)
    return result
