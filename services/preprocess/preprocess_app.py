"""preprocess: raw/[<dataset>/]<file>.csv -> the run's split data, fitted transform, profile and split manifest.

Validates against the dataset's spec, splits, fits the transform on the training rows only and
writes everything training needs; the split manifest, written last, starts training. A file
that cannot be used is rejected: errors/<run>/error.json says why, the run is marked failed,
and nothing downstream starts. The raw object is only ever read.
"""

from __future__ import annotations

from pipeline_common import aws, config, layout, registry, runs, specs
from pipeline_common.errors import InputRejected
from pipeline_common.events import upload
from pipeline_common.idempotency import run_once
from pipeline_common.models import Champion, FittedTransform
from pipeline_common.observability import MetricUnit, logger, metrics, stage_seconds, start_run_context, tracer

import preprocess_core
from tabular.prepare import Prepared, prepare

STAGE = preprocess_core.STAGE


def champion_of(dataset: str, body: bytes, prepared: Prepared) -> tuple[Champion | None, bytes | None]:
    """The dataset's approved version, and this run's test rows encoded for it, if it has one."""
    version = registry.serving_version(aws.client("sagemaker"), config.job_prefix(), dataset)
    if version is None:
        return None, None
    spec = specs.frozen(aws.get_json(*layout.parse_s3_uri(version.spec_uri)))
    transform = FittedTransform.model_validate(aws.get_json(*layout.parse_s3_uri(version.transform_uri)))
    return preprocess_core.champion_rows(version, spec, transform, body, prepared)


def preprocess_upload(task: dict) -> dict:
    bucket, run_id, source = task["bucket"], task["run_id"], task["source"]
    runs.update_status(bucket, run_id, lambda doc, at: {**runs.stage_started(doc, STAGE, at), "source": source,
                                                        "dataset": source["dataset"]})
    test_fraction, seed = config.env_float("TEST_FRACTION"), config.env_int("SPLIT_SEED")
    body = b""
    try:
        limit = config.env_int("MAX_INPUT_MEGABYTES") * 1024 * 1024
        if source["size"] is not None:
            preprocess_core.check_size(source["size"], limit)  # before downloading what we could not hold
        spec, spec_origin = specs.load(bucket, source["dataset"])
        request = {"Bucket": bucket, "Key": source["key"]}
        if source["version_id"]:
            request["VersionId"] = source["version_id"]  # exactly the uploaded bytes, even if the key was overwritten since
        body = aws.client("s3").get_object(**request)["Body"].read()
        preprocess_core.check_size(len(body), limit)
        prepared = prepare(body, spec, test_fraction, seed)
    except InputRejected as rejected:
        metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=max(0, body.count(b"\n") - 1))
        runs.fail(bucket, run_id, STAGE, rejected.reason, rejected.details, source, config.notification_topic())
        logger.warning("input rejected", extra={"reason": rejected.reason, "details": rejected.details})
        return {"run_id": run_id, "status": "rejected", "reason": rejected.reason}

    champion, champion_test = champion_of(source["dataset"], body, prepared)
    objects, manifest = preprocess_core.artifacts(prepared, run_id, source, spec_origin, test_fraction, seed, champion, champion_test)
    for key, data, content_type in objects:
        aws.put_bytes(bucket, key, data, content_type)
    summary = {"rows": prepared.profile["rows"], "n_train": prepared.n_train, "n_test": prepared.n_test,
               "problem_type": manifest.problem_type, "warnings": len(prepared.profile["warnings"])}
    if champion is not None:
        summary["champion_version"] = champion.version.version
    status = runs.update_status(bucket, run_id, lambda doc, at: runs.stage_finished(doc, STAGE, at, **summary))
    stage_seconds(status, STAGE)
    metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=prepared.profile["rows_in"])
    aws.put_json(bucket, layout.RunKeys(run_id).split_manifest, manifest.model_dump(mode="json"))  # last: starts training
    logger.info("preprocessed", extra={**summary, "source_key": source["key"], "dataset": source["dataset"]})
    return {"run_id": run_id, "status": "done", **summary}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    found = upload(event, layout.RAW, config.env_str("DEFAULT_DATASET"))
    start_run_context(found.run_id)
    return run_once(context, STAGE, found.run_id, preprocess_upload, bucket=found.bucket, source=found.source)
