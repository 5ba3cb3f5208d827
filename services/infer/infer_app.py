"""infer: SageMaker training job Completed -> CreateModel + CreateTransformJob on the run's test features."""

from __future__ import annotations

from botocore.exceptions import ClientError

from pipeline_common import aws, config, runs
from pipeline_common.events import sagemaker_job_event
from pipeline_common.idempotency import run_once
from pipeline_common.observability import logger, metrics, stage_seconds, start_run_context, tracer

import infer_core

DETAIL_TYPE = "SageMaker Training Job State Change"
STAGE = "infer"


def _create_once(call, **request) -> bool:
    """Create a resource named after the run; an existing one of that name counts as success."""
    try:
        call(**request)
    except ClientError as err:
        if aws.already_exists(err):
            return False
        raise
    return True


def start_transform(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    training = infer_core.CompletedTraining(**task["training"])
    settings = infer_core.TransformSettings(
        role_arn=config.env_str("SAGEMAKER_ROLE_ARN"),
        instance_type=config.env_str("TRANSFORM_INSTANCE_TYPE"),
        instance_count=config.env_int("TRANSFORM_INSTANCE_COUNT"),
    )

    def record(doc: dict, at: str) -> dict:
        runs.stage_finished(doc, "train", at, billable_seconds=task.get("billable_seconds"), model_artifacts=training.model_artifacts)
        return runs.stage_started(doc, STAGE, at, model=training.job_name, transform_job=training.job_name)

    stage_seconds(runs.update_status(bucket, run_id, record), "train")
    sagemaker = aws.client("sagemaker")
    model_new = _create_once(sagemaker.create_model, **infer_core.model_request(training, settings.role_arn))
    job_new = _create_once(sagemaker.create_transform_job, **infer_core.transform_request(bucket, training, settings))
    logger.info("transform job started" if job_new else "transform job already exists",
                extra={"model": training.job_name, "model_created": model_new, "transform_job": training.job_name})
    return {"run_id": run_id, "status": "started" if job_new else "already-started", "transform_job": training.job_name}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    _, detail = sagemaker_job_event(event, DETAIL_TYPE)
    if detail.get("TrainingJobStatus") != "Completed":
        raise ValueError(f"infer is routed only Completed training jobs, got {detail.get('TrainingJobStatus')!r}")
    job_prefix = config.job_prefix()
    training = infer_core.completed_training(detail, job_prefix)
    if training is None:
        # The event may omit the artifacts; the job's description always has them once Completed.
        described = aws.client("sagemaker").describe_training_job(TrainingJobName=detail["TrainingJobName"])
        training = infer_core.completed_training({**described, "Tags": detail.get("Tags")}, job_prefix)
    start_run_context(training.run_id)
    return run_once(context, STAGE, training.run_id, start_transform, bucket=config.bucket_name(),
                    training=training.__dict__, billable_seconds=detail.get("BillableTimeInSeconds"))
