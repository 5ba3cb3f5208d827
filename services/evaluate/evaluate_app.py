"""evaluate: inference-output/<run>/test_features.csv.out -> evaluation/<run>/{predictions.csv, report.html, metrics.json}."""

from __future__ import annotations

from pipeline_common import aws, config, layout, runs
from pipeline_common.idempotency import marker_handler
from pipeline_common.observability import MetricUnit, logger, run_metric, stage_seconds

import evaluate_core
import model_importance
import report_html

STAGE = "evaluate"


def _importance(bucket: str, status: dict, features: list[str]) -> dict | str:
    """Gain importance from the run's model artifact, or why it is not available (the report shows either)."""
    uri = (status["stages"].get("train") or {}).get("model_artifacts")
    if not uri:
        return "the status record names no model artifact"
    try:
        return model_importance.gain_importance(aws.get_bytes(*layout.parse_s3_uri(uri)), features)
    except model_importance.UnsupportedModel as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - the chart is optional: the evaluation must not fail for it
        logger.exception("feature importance unavailable")
        return f"{type(err).__name__}: {err}"


def _lineage(status: dict) -> dict:
    train, infer = status["stages"].get("train") or {}, status["stages"].get("infer") or {}
    source = status.get("source") or {}
    return {
        "source_key": source.get("key"), "source_version": source.get("version_id"),
        "training_job": train.get("training_job"), "image": train.get("image"), "instance_type": train.get("instance_type"),
        "hyperparameters": train.get("hyperparameters") or {}, "model": infer.get("model"), "transform_job": infer.get("transform_job"),
        "stages": status["stages"],
    }


def evaluate_run(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    keys = layout.RunKeys(run_id)

    def record_start(doc: dict, at: str) -> dict:
        return runs.stage_started(runs.stage_finished(doc, "infer", at), STAGE, at)

    status = runs.update_status(bucket, run_id, record_start)
    stage_seconds(status, "infer")
    predictions = aws.get_bytes(bucket, keys.transform_output)
    labels = aws.get_bytes(bucket, keys.test_labels)
    result, joined = evaluate_core.evaluate(predictions, labels, config.env_float("THRESHOLD"))
    result = {"run_id": run_id, **result}
    features = aws.get_json(bucket, keys.split_manifest)["features"]
    page = report_html.build({
        "metrics": result,
        "roc": evaluate_core.roc_curve(joined["label"].to_numpy(), joined["probability"].to_numpy()),
        "probabilities": joined["probability"].tolist(),
        "labels": joined["label"].tolist(),
        "importance": _importance(bucket, status, features),
        "profile": aws.get_json(bucket, keys.processed_profile),
        "lineage": _lineage(status),
    })
    aws.put_bytes(bucket, keys.predictions, joined.to_csv(index=False).encode())
    aws.put_bytes(bucket, keys.report, page.encode(), "text/html; charset=utf-8")
    aws.put_json(bucket, keys.metrics, result)
    summary = {name: result[name] for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")}
    status = runs.update_status(bucket, run_id, lambda doc, at: runs.run_succeeded(runs.stage_finished(doc, STAGE, at), at, summary))
    stage_seconds(status, STAGE)
    if status["status"] == runs.SUCCEEDED:  # a run failed meanwhile stays failed, and is not counted twice
        run_metric("RunsSucceeded", 1, run_id=run_id)
        run_metric("Accuracy", result["accuracy"], MetricUnit.NoUnit, run_id=run_id)
        if result["roc_auc"] is not None:
            run_metric("RocAuc", result["roc_auc"], MetricUnit.NoUnit, run_id=run_id)
    logger.info("evaluated", extra=summary)
    return {"run_id": run_id, "status": "done", "accuracy": result["accuracy"]}


handler = marker_handler(STAGE, evaluate_run)
