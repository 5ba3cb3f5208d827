"""evaluate: inference-output/<run>/test_features.csv.out -> evaluation/<run>/{predictions.csv, report.md, metrics.json}."""

from __future__ import annotations

from pipeline_common import aws, config, layout, runs
from pipeline_common.events import run_of_marker
from pipeline_common.idempotency import run_once
from pipeline_common.observability import logger

import evaluate_core

STAGE = "evaluate"


def evaluate_run(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    keys = layout.RunKeys(run_id)

    def record_start(doc: dict, at: str) -> dict:
        return runs.stage_started(runs.stage_finished(doc, "infer", at), STAGE, at)

    runs.update_status(bucket, run_id, record_start)
    predictions = aws.get_bytes(bucket, keys.transform_output)
    labels = aws.get_bytes(bucket, keys.test_labels)
    result, joined = evaluate_core.evaluate(predictions, labels, config.env_float("THRESHOLD"))
    result = {"run_id": run_id, **result}
    aws.put_bytes(bucket, keys.predictions, joined.to_csv(index=False).encode())
    aws.put_bytes(bucket, keys.report, evaluate_core.report_markdown(result).encode(), "text/markdown")
    aws.put_json(bucket, keys.metrics, result)
    summary = {name: result[name] for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")}
    runs.update_status(bucket, run_id, lambda doc, at: runs.run_succeeded(runs.stage_finished(doc, STAGE, at), at, summary))
    logger.info("evaluated", extra=summary)
    return {"run_id": run_id, "status": "done", "accuracy": result["accuracy"]}


@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context) -> dict:
    bucket, run_id = run_of_marker(event)
    logger.set_correlation_id(run_id)
    return run_once(context, STAGE, run_id, evaluate_run, bucket=bucket)
