"""infer: SageMaker training job Completed -> CreateModel + CreateTransformJob on the run's test features."""

from __future__ import annotations

from pipeline_common import aws, config, layout, runs, transform_jobs
from pipeline_common.events import sagemaker_job_event
from pipeline_common.models import SplitManifest
from pipeline_common.idempotency import run_once
from pipeline_common.observability import logger, metrics, stage_seconds, start_run_context, tracer

import infer_core

DETAIL_TYPE = "SageMaker Training Job State Change"
STAGE = "infer"


def start_transform(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    training = infer_core.CompletedTraining(**task["training"])
    settings = transform_jobs.settings_from_env()
    manifest = SplitManifest.model_validate(aws.get_json(bucket, layout.RunKeys(run_id).split_manifest))
    calls = infer_core.requests_for(bucket, config.job_prefix(), training, manifest, settings)
    jobs = [request["TransformJobName"] for op, request in calls if op == "create_transform_job"]

    def record(doc: dict, at: str) -> dict:
        runs.stage_finished(doc, "train", at, billable_seconds=task.get("billable_seconds"), model_artifacts=training.model_artifacts)
        return runs.stage_started(doc, STAGE, at, model=training.job_name, transform_job=training.job_name, transform_jobs=jobs,
                                  instance_type=settings.instance_type, instance_count=settings.instance_count,
                                  test_parts=len(manifest.parts("test")))

    stage_seconds(runs.update_status(bucket, run_id, record), "train")
    sagemaker = aws.client("sagemaker")
    created = [aws.create_once(getattr(sagemaker, op), **request) for op, request in calls]
    logger.info("transform jobs started" if all(created) else "transform jobs already exist", extra={"transform_jobs": jobs})
    return {"run_id": run_id, "status": "started" if created[1] else "already-started", "transform_job": training.job_name}


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
