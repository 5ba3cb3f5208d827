"""preprocess: raw/[<dataset>/]<file>.csv -> the run's split data, fitted transform, profile and split manifest.

Validates against the dataset's spec, splits, fits the transform on the training rows only and
writes everything training needs; the split manifest, written last, starts training. An upload
larger than MaxInputMegabytes is prepared the same way by a SageMaker Processing job
(processing_core.py), and this function commits the run when the job's Completed event arrives.
A file that cannot be used is rejected: errors/<run>/error.json says why, the run is marked
failed, and nothing downstream starts. The raw object is only ever read.
"""

from __future__ import annotations

from pipeline_common import aws, config, layout, registry, runs, specs
from pipeline_common.errors import InputRejected
from pipeline_common.events import sagemaker_job_event, source_object, upload
from pipeline_common.failures import PROCESSING
from pipeline_common.idempotency import run_once
from pipeline_common.models import DatasetSpec, PreprocessTask, ShardPlan, SplitManifest
from pipeline_common.observability import MetricUnit, logger, metrics, stage_seconds, start_run_context, tracer

import preprocess_core
import processing

STAGE = preprocess_core.STAGE
COMMIT = "preprocess-commit"  # the Processing path's second step, idempotent on its own


def stage_task(run_id: str, source: dict, spec: DatasetSpec, spec_origin: dict) -> PreprocessTask:
    """What preparing this upload needs, the dataset's approved version (to compare on the same rows) included."""
    task = PreprocessTask(
        run_id=run_id, source=source, spec=spec.model_dump(mode="json"), spec_origin=spec_origin,
        test_fraction=config.env_float("TEST_FRACTION"), seed=config.env_int("SPLIT_SEED"),
        sharding=ShardPlan(training_instances=config.env_int("TRAINING_INSTANCE_COUNT"),
                           transform_instances=config.env_int("TRANSFORM_INSTANCE_COUNT"),
                           shard_bytes=config.env_int("SHARD_MEGABYTES") * 2**20),
    )
    version = registry.serving_version(aws.client("sagemaker"), config.job_prefix(), source["dataset"])
    if version is None:
        return task
    return task.model_copy(update={"champion": version,
                                   "champion_spec": aws.get_json(*layout.parse_s3_uri(version.spec_uri)),
                                   "champion_transform": aws.get_json(*layout.parse_s3_uri(version.transform_uri))})


def preprocess_upload(task: dict) -> dict:
    bucket, run_id, source = task["bucket"], task["run_id"], task["source"]
    runs.update_status(bucket, run_id, lambda doc, at: {**runs.stage_started(doc, STAGE, at), "source": source,
                                                        "dataset": source["dataset"]})
    body = b""
    try:
        spec, spec_origin = specs.load(bucket, source["dataset"])
        limit = config.env_int("MAX_INPUT_MEGABYTES") * 2**20
        if source["size"] is not None and source["size"] > limit:  # before downloading what the function could not hold
            return processing.start(bucket, source, spec, stage_task(run_id, source, spec, spec_origin))
        body = aws.client("s3").get_object(**source_object(bucket, source))["Body"].read()
        preprocess_core.check_size(len(body), limit)
        prepared, objects, manifest = preprocess_core.prepare_upload(body, stage_task(run_id, source, spec, spec_origin))
    except InputRejected as rejected:
        metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=max(0, body.count(b"\n") - 1))
        runs.fail(bucket, run_id, STAGE, rejected.reason, rejected.details, source, config.notification_topic())
        logger.warning("input rejected", extra={"reason": rejected.reason, "details": rejected.details})
        return {"run_id": run_id, "status": "rejected", "reason": rejected.reason}

    for key, data, content_type in objects:
        aws.put_bytes(bucket, key, data, content_type)
    return commit(bucket, manifest, prepared.profile, path="function")


def commit(bucket: str, manifest: SplitManifest, profile: dict, **how) -> dict:
    """Record the stage done and write the split manifest, which starts training: last, once every object is in place."""
    run_id = manifest.run_id
    summary = {"rows": profile["rows"], "n_train": manifest.n_train, "n_test": manifest.n_test,
               "problem_type": manifest.problem_type, "warnings": len(profile["warnings"]),
               "train_parts": len(manifest.parts("train")), "test_parts": len(manifest.parts("test")), **how}
    if manifest.champion is not None:
        summary["champion_version"] = manifest.champion.version.version
    status = runs.update_status(bucket, run_id, lambda doc, at: runs.stage_finished(doc, STAGE, at, **summary))
    stage_seconds(status, STAGE)
    metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=profile["rows_in"])
    aws.put_json(bucket, layout.RunKeys(run_id).split_manifest, manifest.model_dump(mode="json"))
    logger.info("preprocessed", extra={**summary, "source_key": manifest.source.get("key"), "dataset": manifest.dataset})
    return {"run_id": run_id, "status": "done", **summary}


def commit_processed(task: dict) -> dict:
    """The Processing job completed: its outputs are all uploaded, so the run can be committed."""
    bucket, run_id = task["bucket"], task["run_id"]
    keys = layout.RunKeys(run_id)
    manifest = SplitManifest.model_validate(aws.get_json(bucket, keys.staged_split_manifest))
    return commit(bucket, manifest, aws.get_json(bucket, keys.profile), path="processing", processing_job=task["job"])


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    if event.get("source") == "aws.sagemaker":
        _, detail = sagemaker_job_event(event, PROCESSING)
        name = detail["ProcessingJobName"]
        run_id = layout.run_id_of_job(config.job_prefix(), name, detail.get("Tags"))
        start_run_context(run_id)
        return run_once(context, COMMIT, run_id, commit_processed, bucket=config.bucket_name(), job=name)
    found = upload(event, layout.RAW, config.env_str("DEFAULT_DATASET"))
    start_run_context(found.run_id)
    return run_once(context, STAGE, found.run_id, preprocess_upload, bucket=found.bucket, source=found.source)
