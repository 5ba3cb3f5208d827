"""evaluate: inference-output/<run>/part-*.csv.out -> evaluation/<run>/{predictions.csv, report.html, metrics.json}."""

from __future__ import annotations

from pipeline_common import aws, config, layout, runs
from pipeline_common.idempotency import marker_handler
from pipeline_common.models import SplitManifest
from pipeline_common.observability import MetricUnit, logger, run_metric, stage_seconds

import evaluate_core
import model_importance
import report_html

STAGE = "evaluate"
SCATTER_POINTS = 2000  # points of the predicted-against-actual chart, at most


def _importance(bucket: str, status: dict, manifest: SplitManifest) -> dict | str:
    """Gain importance per input column (one-hot levels summed into their column) and per model column, read
    from the run's model artifact; or why it is not available (the report shows either)."""
    uri = (status["stages"].get("train") or {}).get("model_artifacts")
    if not uri:
        return "the status record names no model artifact"
    try:
        gains = model_importance.split_gains(aws.get_bytes(*layout.parse_s3_uri(uri)), manifest.features)
        return {"by_column": model_importance.average_gain(gains, manifest.feature_sources),
                "by_model_column": model_importance.average_gain(gains)}
    except model_importance.UnsupportedModel as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - the chart is optional: the evaluation must not fail for it
        logger.exception("feature importance unavailable")
        return f"{type(err).__name__}: {err}"


def _lineage(status: dict, manifest: SplitManifest) -> dict:
    train, infer = status["stages"].get("train") or {}, status["stages"].get("infer") or {}
    source = status.get("source") or {}
    return {
        "dataset": manifest.dataset, "source_key": source.get("key"), "source_version": source.get("version_id"),
        "spec": manifest.spec_key, "transform": manifest.transform_key,
        "training_job": train.get("training_job"), "image": train.get("image"), "instance_type": train.get("instance_type"),
        "hyperparameters": train.get("hyperparameters") or {}, "model": infer.get("model"), "transform_job": infer.get("transform_job"),
        "stages": status["stages"],
    }


def _charts(problem_type: str, y, p) -> dict:
    if problem_type == "binary":
        return {"roc": evaluate_core.roc_curve(y, p), "probabilities": p.tolist(), "labels": y.tolist()}
    if problem_type == "regression":
        step = max(1, len(y) // SCATTER_POINTS)
        return {"actual": y[::step].tolist(), "predicted": p[::step].tolist(), "residuals": (y - p).tolist()}
    return {}


def headline(result: dict) -> dict:
    return {name: result.get(name) for name in evaluate_core.HEADLINE[result["problem_type"]]}


def evaluate_run(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    keys = layout.RunKeys(run_id)

    def record_start(doc: dict, at: str) -> dict:
        return runs.stage_started(runs.stage_finished(doc, "infer", at), STAGE, at)

    status = runs.update_status(bucket, run_id, record_start)
    stage_seconds(status, "infer")
    manifest = SplitManifest.model_validate(aws.get_json(bucket, keys.split_manifest))
    parts = sorted(layout.part_index(entry.key) for name, entry in manifest.files.items() if name.startswith("labels-"))
    predictions = [aws.get_bytes(bucket, keys.transform_output(i)) for i in parts]
    labels = [aws.get_bytes(bucket, keys.labels_part(i)) for i in parts]
    result, joined, y, p = evaluate_core.evaluate(predictions, labels, manifest.problem_type, manifest.classes,
                                                  config.env_float("THRESHOLD"))
    result = {"run_id": run_id, "dataset": manifest.dataset, "problem_type": manifest.problem_type, "target": manifest.target,
              **({"positive_class": manifest.positive_class} if manifest.problem_type == "binary" else {}), **result}
    page = report_html.build({
        "metrics": result,
        **_charts(manifest.problem_type, y, p),
        "importance": _importance(bucket, status, manifest),
        "profile": aws.get_json(bucket, keys.profile),
        "lineage": _lineage(status, manifest),
    })
    aws.put_bytes(bucket, keys.predictions, joined.to_csv(index=False).encode())
    aws.put_bytes(bucket, keys.report, page.encode(), "text/html; charset=utf-8")
    aws.put_json(bucket, keys.metrics, result)
    summary = headline(result)
    status = runs.update_status(bucket, run_id, lambda doc, at: runs.run_succeeded(runs.stage_finished(doc, STAGE, at), at, summary))
    stage_seconds(status, STAGE)
    if status["status"] == runs.SUCCEEDED:  # a run failed meanwhile stays failed, and is not counted twice
        run_metric("RunsSucceeded", 1, run_id=run_id)
        for name, metric in (("accuracy", "Accuracy"), ("roc_auc", "RocAuc"), ("rmse", "Rmse"), ("r2", "R2")):
            if result.get(name) is not None:
                run_metric(metric, result[name], MetricUnit.NoUnit, run_id=run_id)
    logger.info("evaluated", extra=summary)
    return {"run_id": run_id, "status": "done", **summary}


handler = marker_handler(STAGE, evaluate_run)
