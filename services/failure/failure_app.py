"""failure: marks runs failed and notifies, for failed or stopped SageMaker jobs and for events a function gave up on.

Two routes lead here: EventBridge (job state Failed/Stopped) and the SQS queue that every
other function's on-failure destination writes to.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from pipeline_common import aws, config, layout, runs
from pipeline_common.events import sagemaker_job_event
from pipeline_common.idempotency import run_once
from pipeline_common.observability import logger, metrics, start_run_context, tracer

import failure_core

# A record that cannot be recorded is reported back and retried, then left in the unhandled queue by the redrive policy.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_failure(task: dict) -> dict:
    record = runs.fail(task["bucket"], task["run_id"], task["failed_stage"], task["reason"], task["details"],
                       topic_arn=config.notification_topic())
    # A run that had already ended keeps its outcome: this failure is logged, not recorded.
    return {"run_id": task["run_id"], "status": "failed" if record else "already-ended", "stage": task["failed_stage"]}


def _mark(failure: failure_core.Failure, context) -> dict:
    start_run_context(failure.run_id)
    logger.error("stage failed", extra={"stage": failure.stage, "reason": failure.reason})
    return run_once(context, "failure", failure.run_id, record_failure, bucket=config.bucket_name(),
                    failed_stage=failure.stage, reason=failure.reason, details=failure.details)


def _destination_record(record: SQSRecord, lambda_context=None) -> None:
    bucket = config.bucket_name()
    failure = failure_core.from_destination_record(
        json.loads(record.body), config.job_prefix(),
        has_run=lambda run_id: aws.get_json_or_none(bucket, layout.RunKeys(run_id).status) is not None)
    if failure is None:
        logger.warning("a function gave up on an event that fails no run", extra={"record": record.body[:2000]})
        return
    _mark(failure, lambda_context)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    if "Records" in event:
        return process_partial_response(event=event, record_handler=_destination_record, processor=processor, context=context)
    detail_type, detail = sagemaker_job_event(event, failure_core.PROCESSING, failure_core.TRAINING, failure_core.TRANSFORM)
    return _mark(failure_core.from_job_event(detail_type, detail, config.job_prefix()), context)
