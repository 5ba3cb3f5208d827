"""preprocess: raw/<file>.csv -> processed/<run>/{processed.csv, profile.json, manifest.json}.

A file that cannot be processed is rejected: errors/<run>/error.json says why, the run is
marked failed, and nothing downstream starts. The raw object is only ever read.
"""

from __future__ import annotations

from dataclasses import asdict

from pipeline_common import aws, config, layout, manifest, runs
from pipeline_common.errors import InputRejected
from pipeline_common.events import uploaded_object
from pipeline_common.idempotency import run_once
from pipeline_common.observability import MetricUnit, logger, metrics, stage_seconds, start_run_context, tracer

import preprocess_core

STAGE = "preprocess"


def preprocess_upload(task: dict) -> dict:
    bucket, run_id, source = task["bucket"], task["run_id"], task["source"]
    keys = layout.RunKeys(run_id)
    runs.update_status(bucket, run_id, lambda doc, at: {**runs.stage_started(doc, STAGE, at), "source": source})
    body = b""
    try:
        limit = config.env_int("MAX_INPUT_MEGABYTES") * 1024 * 1024
        if source["size"] is not None:
            preprocess_core.check_size(source["size"], limit)  # before downloading what we could not hold
        request = {"Bucket": bucket, "Key": source["key"]}
        if source["version_id"]:
            request["VersionId"] = source["version_id"]  # exactly the uploaded bytes, even if the key was overwritten since
        body = aws.client("s3").get_object(**request)["Body"].read()
        preprocess_core.check_size(len(body), limit)
        table, profile = preprocess_core.preprocess(body)
    except InputRejected as rejected:
        metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=max(0, body.count(b"\n") - 1))
        runs.fail(bucket, run_id, STAGE, rejected.reason, rejected.details, source, config.notification_topic())
        logger.warning("input rejected", extra={"reason": rejected.reason, "details": rejected.details})
        return {"run_id": run_id, "status": "rejected", "reason": rejected.reason}

    aws.put_bytes(bucket, keys.processed_table, table)
    aws.put_json(bucket, keys.processed_profile, profile)
    marker = manifest.build(
        run_id, STAGE, {"table": (keys.processed_table, table)}, source=source, label=preprocess_core.LABEL,
        id_column=preprocess_core.ID_COLUMN, features=preprocess_core.FEATURES, rows=profile["rows"],
    )
    status = runs.update_status(bucket, run_id, lambda doc, at: runs.stage_finished(doc, STAGE, at, rows=profile["rows"]))
    stage_seconds(status, STAGE)
    metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=profile["rows"])
    aws.put_json(bucket, keys.processed_manifest, marker)  # last: the marker starts the next stage
    logger.info("preprocessed", extra={"rows": profile["rows"], "source_key": source["key"]})
    return {"run_id": run_id, "status": "done", "rows": profile["rows"]}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    upload = uploaded_object(event)
    if not upload.key.startswith(layout.RAW):
        # The route filters on raw/ already; this guards against a mis-edited template.
        raise ValueError(f"preprocess only reads objects under {layout.RAW}, got {upload.key!r}")
    run_id = layout.run_id_for_upload(upload.key, upload.version_id, upload.sequencer)
    start_run_context(run_id)
    source = {k: v for k, v in asdict(upload).items() if k != "bucket"}
    return run_once(context, STAGE, run_id, preprocess_upload, bucket=upload.bucket, source=source)
