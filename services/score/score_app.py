"""score: score/[<dataset>/]<file>.csv -> predictions/<dataset>/<run>/<file>.csv, with the dataset's approved version.

Two routes lead here. The upload: validated against the approved version's frozen spec (no target
needed), encoded with its fitted transform, and sent to a SageMaker batch transform with its model.
The transform's end: its answers joined back to the uploaded rows, in order. A file that cannot be
scored is refused with an error record; the upload is only ever read.
"""

from __future__ import annotations

from pipeline_common import aws, config, layout, registry, runs, specs
from pipeline_common.errors import InputRejected
from pipeline_common.events import sagemaker_job_event, source_object, upload
from pipeline_common.failures import TRANSFORM, from_job_event
from pipeline_common.idempotency import run_once
from pipeline_common.models import FittedTransform, PredictionsManifest, ScoringManifest
from pipeline_common.observability import MetricUnit, logger, metrics, stage_seconds, start_run_context, tracer
from pipeline_common.s3_streams import S3Writer, open_object
from pipeline_common.transform_jobs import package_model_request, settings_from_env, transform_request

import score_core
from tabular.csvio import matrix_csv
from tabular.score import encode_chunks

KIND = layout.SCORING_RUN


def _open_upload(bucket: str, source: dict):
    return aws.client("s3").get_object(**source_object(bucket, source))["Body"]


def _encode_upload(bucket: str, source: dict, key: str, spec, transform: FittedTransform) -> score_core.EncodedInput:
    """The upload encoded for the model, a chunk at a time, into the transform's input object (none if it is refused)."""
    encoded = score_core.EncodedInput()
    with S3Writer(bucket, key) as writer:
        for matrix in encode_chunks(_open_upload(bucket, source), spec, transform, score_core.CHUNK_ROWS):
            chunk = matrix_csv(matrix)
            writer.write(chunk)
            encoded.add(chunk, len(matrix))
    return encoded


def start_scoring(task: dict) -> dict:
    bucket, run_id, source = task["bucket"], task["run_id"], task["source"]
    dataset = source["dataset"]
    keys = layout.RunKeys(run_id)
    runs.update_status(bucket, run_id, lambda doc, at: {**runs.stage_started(doc, "score", at), "source": source, "dataset": dataset},
                       kind=KIND)
    sagemaker = aws.client("sagemaker")
    try:
        if source["size"] is not None:
            score_core.check_size(source["size"], config.env_int("MAX_SCORING_MEGABYTES") * 1024 * 1024)
        version = registry.serving_version(sagemaker, config.job_prefix(), dataset)
        if version is None:
            raise score_core.no_approved_version(dataset)
        spec = specs.frozen(aws.get_json(*layout.parse_s3_uri(version.spec_uri)))
        transform = FittedTransform.model_validate(aws.get_json(*layout.parse_s3_uri(version.transform_uri)))
        encoded = _encode_upload(bucket, source, keys.scoring_input(0), spec, transform)
    except InputRejected as rejected:
        metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
        runs.fail(bucket, run_id, "score", rejected.reason, rejected.details, source, config.notification_topic(), kind=KIND)
        logger.warning("scoring refused", extra={"reason": rejected.reason, "details": rejected.details})
        return {"run_id": run_id, "status": "rejected", "reason": rejected.reason}

    rows = encoded.rows
    manifest = score_core.scoring_manifest(run_id, dataset, source, version, transform.problem_type, transform.classes, encoded)
    aws.put_json(bucket, keys.scoring_manifest, manifest.model_dump(mode="json"))
    name = layout.job_name(config.job_prefix(), run_id)
    settings = settings_from_env()
    aws.create_once(sagemaker.create_model, **package_model_request(name, version.arn, settings.role_arn, run_id, KIND))
    aws.create_once(sagemaker.create_transform_job, **transform_request(
        name, name, layout.s3_uri(bucket, keys.scoring_input_prefix), layout.s3_uri(bucket, keys.scoring_output_prefix), settings,
        run_id, KIND))

    def record(doc: dict, at: str) -> dict:
        runs.stage_finished(doc, "score", at, rows=rows, model_version=version.version)
        return runs.stage_started(doc, "transform", at, transform_job=name)

    stage_seconds(runs.update_status(bucket, run_id, record, kind=KIND), "score")
    logger.info("scoring started", extra={"rows": rows, "model_version": version.version, "transform_job": name})
    return {"run_id": run_id, "status": "started", "rows": rows, "model_version": version.version}


def deliver(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    keys = layout.RunKeys(run_id)
    status = runs.update_status(bucket, run_id, lambda doc, at: runs.stage_started(runs.stage_finished(doc, "transform", at),
                                                                                  "predictions", at), kind=KIND)
    stage_seconds(status, "transform")
    manifest = ScoringManifest.model_validate(aws.get_json(bucket, keys.scoring_manifest))
    outputs = (open_object(bucket, keys.scoring_output(layout.part_index(entry.key))) for entry in manifest.files.values())
    key = layout.predictions_key(manifest.dataset, run_id, manifest.source["key"].rsplit("/", 1)[-1])
    rows, columns = 0, []
    with S3Writer(bucket, key) as writer:
        for table in score_core.joined(_open_upload(bucket, manifest.source), outputs, manifest, config.env_float("THRESHOLD")):
            writer.write(table.to_csv(index=False, header=not rows).encode())
            rows, columns = rows + len(table), list(table.columns)
    delivered = PredictionsManifest(run_id=run_id, dataset=manifest.dataset, source=manifest.source, created_at=runs.now_iso(),
                                    predictions_key=key, rows=rows, columns=columns, model_version=manifest.model_version)
    aws.put_json(bucket, layout.predictions_manifest(manifest.dataset, run_id), delivered.model_dump(mode="json"))
    summary = {"rows": rows, "model_version": manifest.model_version.version, "predictions": key}
    status = runs.update_status(bucket, run_id, lambda doc, at: runs.run_succeeded(runs.stage_finished(doc, "predictions", at, **summary),
                                                                                  at, summary), kind=KIND)
    stage_seconds(status, "predictions")
    metrics.add_metric(name="RowsScored", unit=MetricUnit.Count, value=rows)
    logger.info("predictions written", extra=summary)
    return {"run_id": run_id, "status": "done", **summary}


def _transform_ended(event: dict, context) -> dict:
    detail_type, detail = sagemaker_job_event(event, TRANSFORM)
    run_id = layout.run_id_of_job(config.job_prefix(), detail["TransformJobName"], detail.get("Tags"))
    start_run_context(run_id)
    if detail["TransformJobStatus"] != "Completed":
        failure = from_job_event(detail_type, detail, config.job_prefix())
        record = runs.fail(config.bucket_name(), run_id, "transform", failure.reason, failure.details,
                           topic_arn=config.notification_topic(), kind=KIND)
        return {"run_id": run_id, "status": "failed" if record else "already-ended", "stage": "transform"}
    return run_once(context, "predictions", run_id, deliver, bucket=config.bucket_name())


def _uploaded(event: dict, context) -> dict:
    found = upload(event, layout.SCORE, config.env_str("DEFAULT_DATASET"))
    start_run_context(found.run_id)
    return run_once(context, "score", found.run_id, start_scoring, bucket=found.bucket, source=found.source)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    return _uploaded(event, context) if event.get("source") == "aws.s3" else _transform_ended(event, context)
