"""predict: the HTTP entry of the real-time endpoint (a Lambda function URL with IAM auth).

It takes raw rows as JSON, validates them against the frozen spec of the version the dataset's
endpoint serves, applies that version's fitted transform, asks the endpoint, and answers with the
columns of a batch predictions file.
"""

from __future__ import annotations

import functools

from botocore.exceptions import ClientError

from pipeline_common import aws, config, layout, registry, specs
from pipeline_common.errors import InputRejected
from pipeline_common.models import DatasetSpec, FittedTransform
from pipeline_common.observability import logger, metrics, tracer

import predict_core


@functools.lru_cache(maxsize=32)
def served(config_name: str, dataset: str) -> tuple[int, DatasetSpec, FittedTransform]:
    """The version an endpoint configuration serves, with its frozen spec and fitted transform (cached: they never change)."""
    number = layout.version_of_serving_name(config_name)
    version = registry.find_version(aws.client("sagemaker"), config.job_prefix(), dataset, number)
    if version is None:
        raise LookupError(f"version {number} of dataset {dataset!r} is not in the registry")
    spec = specs.frozen(aws.get_json(*layout.parse_s3_uri(version.spec_uri)))
    return number, spec, FittedTransform.model_validate(aws.get_json(*layout.parse_s3_uri(version.transform_uri)))


def _predict(event: dict) -> dict:
    try:
        dataset, rows = predict_core.request_of(event, config.env_str("DEFAULT_DATASET"))
    except InputRejected as rejected:
        return predict_core.response(400, {"message": rejected.reason})
    name = layout.endpoint_name(config.job_prefix(), dataset)
    sagemaker = aws.client("sagemaker")
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as err:
        if aws.error_code(err) != "ValidationException":
            raise
        return predict_core.response(404, {"message": f"dataset {dataset!r} has no endpoint: one is created when a version is "
                                                      f"approved while the stack's EnableEndpoint is true"})
    number, spec, transform = served(endpoint["EndpointConfigName"], dataset)
    table = predict_core.rows_table(rows)
    try:
        body = predict_core.encoded(table, spec, transform)
    except InputRejected as rejected:
        return predict_core.response(400, {"message": rejected.reason, "details": rejected.details})
    answer = aws.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, ContentType="text/csv", Accept="text/csv", Body=body)
    predictions = predict_core.answer(table, answer["Body"].read(), transform, config.env_float("THRESHOLD"))
    logger.info("predicted", extra={"dataset": dataset, "rows": len(rows), "model_version": number})
    return predict_core.response(200, {"dataset": dataset, "model_version": number, "predictions": predictions})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    return _predict(event)
