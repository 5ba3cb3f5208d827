"""Each stage's work runs once per run, however many times its event is delivered.

Powertools Idempotency keeps a record per (stage, run id) in the template's DynamoDB table:
a duplicate that arrives after the work finished gets the stored result; one that arrives
while it is still running fails with IdempotencyAlreadyInProgressError, and the
asynchronous retry then finds the finished record.
"""

from __future__ import annotations

import functools
from typing import Callable

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function

from . import aws, config

RECORD_DAYS = 7  # longer than any redelivery S3, EventBridge or SageMaker makes

_CONFIG = IdempotencyConfig(
    event_key_jmespath="[stage, run_id]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=RECORD_DAYS * 24 * 3600,
)


@functools.cache
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=config.env_str("IDEMPOTENCY_TABLE"), boto3_client=aws.client("dynamodb"))


def reset() -> None:
    """Forget cached clients (tests switch AWS endpoints between cases)."""
    _persistence.cache_clear()
    aws.client.cache_clear()


def run_once(context, stage: str, run_id: str, work: Callable[[dict], dict], **data) -> dict:
    """Call ``work(task)`` at most once for this stage of this run; ``task`` holds stage, run_id and data."""
    _CONFIG.register_lambda_context(context)
    once = idempotent_function(data_keyword_argument="task", persistence_store=_persistence(), config=_CONFIG)(work)
    return once(task={"stage": stage, "run_id": run_id, **data})


def marker_handler(stage: str, work: Callable[[dict], dict]) -> Callable[[dict, object], dict]:
    """The Lambda handler of a stage started by a commit marker: parse, tag with the run id, do the work once."""
    from .events import run_of_marker
    from .observability import logger, metrics, start_run_context, tracer

    @logger.inject_lambda_context(log_event=False)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict, context) -> dict:
        bucket, run_id = run_of_marker(event)
        start_run_context(run_id)
        return run_once(context, stage, run_id, work, bucket=bucket)

    return handler
