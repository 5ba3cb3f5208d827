"""evaluate: inference-output/<run>/test_features.csv.out -> evaluation/<run>/{predictions.csv, metrics.json, report.md}."""

from __future__ import annotations

from pipeline_common import aws, config, layout
from pipeline_common.events import uploaded_object
from pipeline_common.observability import logger

import evaluate_core


@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context) -> dict:
    upload = uploaded_object(event)
    run_id = layout.run_id_from_key(upload.key)
    logger.set_correlation_id(run_id)
    keys = layout.RunKeys(run_id)
    if aws.exists(upload.bucket, keys.metrics):
        logger.info("run already evaluated; duplicate event ignored")
        return {"run_id": run_id, "status": "already-done"}

    predictions = aws.get_bytes(upload.bucket, upload.key)
    labels = aws.get_bytes(upload.bucket, keys.test_labels)
    result, joined = evaluate_core.evaluate(predictions, labels, config.env_float("THRESHOLD"))
    result = {"run_id": run_id, **result}
    aws.put_bytes(upload.bucket, keys.predictions, joined.to_csv(index=False).encode())
    aws.put_bytes(upload.bucket, keys.report, evaluate_core.report_markdown(result).encode(), "text/markdown")
    aws.put_json(upload.bucket, keys.metrics, result)  # last: metrics.json marks the run evaluated
    logger.info("evaluated", extra={"accuracy": result["accuracy"], "roc_auc": result["roc_auc"]})
    return {"run_id": run_id, "status": "done", "accuracy": result["accuracy"]}
