"""evaluate: a run's transform jobs have ended -> metrics, the quality gate, a registered model version, the report.

Routed on "SageMaker Transform Job State Change" of training runs. A run has one transform job, or
two when a champion is scored on the same rows; the event of the last one to end does the work.
The run's own transform failing fails the run; the champion's failing only leaves the gate
without a comparison.
"""

from __future__ import annotations

from pipeline_common import aws, config, layout, runs, specs
from pipeline_common.events import sagemaker_job_event
from pipeline_common.failures import TRANSFORM, from_job_event
from pipeline_common.idempotency import run_once
from pipeline_common.models import SplitManifest
from pipeline_common.observability import MetricUnit, logger, metrics, run_metric, stage_seconds, start_run_context, tracer
from pipeline_common.s3_streams import S3Writer, open_object

import evaluate_core
import gate_core
import model_importance
import registration
import report_html

STAGE = "evaluate"
VERDICT_METRIC = {"Approved": "ModelsApproved", "Rejected": "ModelsRejected", "PendingManualApproval": "ModelsPendingApproval"}


def _importance(status: dict, manifest: SplitManifest) -> dict | str:
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


def headline(result: dict) -> dict:
    return {name: result.get(name) for name in evaluate_core.HEADLINE[result["problem_type"]]}


def _parts(bucket: str, output_keys: list[str], label_keys: list[str]):
    """Each part's transform output and labels as streams, opened one part at a time."""
    for output, labels in zip(output_keys, label_keys, strict=True):
        yield open_object(bucket, output), open_object(bucket, labels)


def _champion_metrics(bucket: str, manifest: SplitManifest, champion_job: dict | None, label_keys: list[str],
                      threshold: float) -> tuple[dict | None, str | None]:
    """The champion's metrics on this run's test rows, or why there are none."""
    champion = manifest.champion
    if champion is None:
        return None, None
    if not champion.comparable:
        return None, f"champion v{champion.version.version} {champion.reason}"
    if champion_job is None or champion_job["status"] != "Completed":
        reason = (champion_job or {}).get("reason") or "it was not scored"
        return None, f"champion v{champion.version.version}: its transform job ended {(champion_job or {}).get('status')}: {reason}"
    keys = layout.RunKeys(manifest.run_id)
    parts = manifest.parts("champion")
    scored = evaluate_core.evaluate(_parts(bucket, [keys.champion_output(i) for i in parts], label_keys),
                                    manifest.problem_type, manifest.classes, threshold)
    return scored.metrics, None


def evaluate_run(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    keys = layout.RunKeys(run_id)

    def record_start(doc: dict, at: str) -> dict:
        return runs.stage_started(runs.stage_finished(doc, "infer", at), STAGE, at)

    status = runs.update_status(bucket, run_id, record_start)
    stage_seconds(status, "infer")
    manifest = SplitManifest.model_validate(aws.get_json(bucket, keys.split_manifest))
    spec = specs.frozen(aws.get_json(bucket, keys.frozen_spec))
    threshold = config.env_float("THRESHOLD")
    label_keys = [keys.labels_part(i) for i in manifest.parts("labels")]
    with S3Writer(bucket, keys.predictions) as joined:  # the test rows with their predictions, written as they are read
        scored = evaluate_core.evaluate(_parts(bucket, [keys.transform_output(i) for i in manifest.parts("labels")], label_keys),
                                        manifest.problem_type, manifest.classes, threshold, write=joined.write)
    result = {"run_id": run_id, "dataset": manifest.dataset, "problem_type": manifest.problem_type, "target": manifest.target,
              **({"positive_class": manifest.positive_class} if manifest.problem_type == "binary" else {}), **scored.metrics}

    champion_metrics, note = _champion_metrics(bucket, manifest, task.get("champion_job"), label_keys, threshold)
    verdict = gate_core.decide(spec.gate, manifest.problem_type, result, champion_metrics,
                               manifest.champion.version.version if champion_metrics else None, note, config.env_str("APPROVAL_MODE"))
    train = status["stages"].get("train") or {}
    described = registration.create_version(bucket, config.job_prefix(), manifest.dataset, run_id, train["image"],
                                            train["model_artifacts"], verdict)
    version = {"group": described["ModelPackageGroupName"], "version": described["ModelPackageVersion"],
               "arn": described["ModelPackageArn"], "status": verdict.status}
    result.update(gate=verdict.model_dump(mode="json"), model_package=version)

    page = report_html.build({
        "metrics": result,
        **scored.charts,
        "importance": _importance(status, manifest),
        "profile": aws.get_json(bucket, keys.profile),
        "lineage": _lineage(status, manifest),
    })
    aws.put_bytes(bucket, keys.report, page.encode(), "text/html; charset=utf-8")
    aws.put_json(bucket, keys.metrics, result)
    registration.set_status(version["arn"], verdict)  # after metrics.json: the version's model metrics point at it
    summary = headline(result)
    gate_record = {**version, "recommendation": verdict.recommendation, "metric": verdict.metric, "challenger": verdict.challenger,
                   "champion": verdict.champion, "champion_version": verdict.champion_version, "reasons": verdict.reasons}

    def finish(doc: dict, at: str) -> dict:
        doc["gate"] = gate_record
        return runs.run_succeeded(runs.stage_finished(doc, STAGE, at, model_version=version["version"], verdict=verdict.status), at, summary)

    status = runs.update_status(bucket, run_id, finish)
    stage_seconds(status, STAGE)
    if status["status"] == runs.SUCCEEDED:  # a run failed meanwhile stays failed, and is not counted twice
        run_metric("RunsSucceeded", 1, run_id=run_id)
        run_metric(VERDICT_METRIC[verdict.status], 1, run_id=run_id)
        for name, metric in (("accuracy", "Accuracy"), ("roc_auc", "RocAuc"), ("rmse", "Rmse"), ("r2", "R2")):
            if result.get(name) is not None:
                run_metric(metric, result[name], MetricUnit.NoUnit, run_id=run_id)
    logger.info("evaluated", extra={**summary, "verdict": verdict.status, "model_version": version["version"]})
    return {"run_id": run_id, "status": "done", **summary, "verdict": verdict.status, "model_version": version["version"]}


def _job_states(run_id: str, event_job: dict, status: dict) -> dict[str, dict]:
    """Every transform job of the run with its status: the event's from the event, the others described."""
    names = (status["stages"].get("infer") or {}).get("transform_jobs") or [event_job["TransformJobName"]]
    states = {}
    for name in names:
        job = event_job if name == event_job["TransformJobName"] else aws.client("sagemaker").describe_transform_job(TransformJobName=name)
        ended = job.get("TransformEndTime")
        ended = ended.timestamp() * 1000 if hasattr(ended, "timestamp") else float(ended or 0)  # events carry epoch ms
        states[name] = {"status": job["TransformJobStatus"], "reason": job.get("FailureReason"), "ended": ended}
    return states


def _last_to_end(states: dict[str, dict]) -> str:
    """The job whose end event does the evaluation: when both end at once, both events see both ended, and one must act."""
    return max(states, key=lambda name: (states[name]["ended"], name))


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    detail_type, detail = sagemaker_job_event(event, TRANSFORM)
    job_prefix, bucket = config.job_prefix(), config.bucket_name()
    run_id = layout.run_id_of_job(job_prefix, detail["TransformJobName"], detail.get("Tags"))
    start_run_context(run_id)
    status = aws.get_json_or_none(bucket, layout.RunKeys(run_id).status) or {"stages": {}}
    states = _job_states(run_id, detail, status)
    waiting = [name for name, state in states.items() if state["status"] == "InProgress"]
    if waiting:
        return {"run_id": run_id, "status": "waiting", "waiting_for": waiting}
    own = layout.job_name(job_prefix, run_id)
    if states[own]["status"] != "Completed":
        event_of_own = detail if detail["TransformJobName"] == own else {"TransformJobName": own, "TransformJobStatus": states[own]["status"],
                                                                          "FailureReason": states[own]["reason"], "Tags": detail.get("Tags")}
        failure = from_job_event(detail_type, event_of_own, job_prefix)
        record = runs.fail(bucket, run_id, failure.stage, failure.reason, failure.details, topic_arn=config.notification_topic())
        return {"run_id": run_id, "status": "failed" if record else "already-ended", "stage": failure.stage}
    if detail["TransformJobName"] != _last_to_end(states):
        return {"run_id": run_id, "status": "left-to-the-last-job", "last": _last_to_end(states)}
    champion = states.get(layout.champion_job_name(job_prefix, run_id))
    return run_once(context, STAGE, run_id, evaluate_run, bucket=bucket, champion_job=champion)

