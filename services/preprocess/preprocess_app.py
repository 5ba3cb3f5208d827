"""preprocess: raw/<file>.csv -> processed/<run>/{processed.csv, profile.json, manifest.json}."""

from __future__ import annotations

from pipeline_common import aws, config, layout, manifest
from pipeline_common.events import uploaded_object
from pipeline_common.observability import logger

import preprocess_core

STAGE = "preprocess"


@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context) -> dict:
    upload = uploaded_object(event)
    if not upload.key.startswith(layout.RAW):
        # The route filters on raw/ already; this guards against a mis-edited template.
        raise ValueError(f"preprocess only reads objects under {layout.RAW}, got {upload.key!r}")
    run_id = layout.run_id_for_upload(upload.key, upload.version_id, upload.sequencer)
    logger.set_correlation_id(run_id)
    keys = layout.RunKeys(run_id)

    if aws.exists(upload.bucket, keys.processed_manifest):
        logger.info("run already preprocessed; duplicate event ignored", extra={"key": upload.key})
        return {"run_id": run_id, "status": "already-done"}

    limit = config.env_int("MAX_INPUT_MEGABYTES") * 1024 * 1024
    if upload.size is not None:
        preprocess_core.check_size(upload.size, limit)
    get_kwargs = {"Bucket": upload.bucket, "Key": upload.key}
    if upload.version_id:
        get_kwargs["VersionId"] = upload.version_id  # exactly the uploaded bytes, even if the key was overwritten since
    body = aws.client("s3").get_object(**get_kwargs)["Body"].read()
    preprocess_core.check_size(len(body), limit)

    table, profile = preprocess_core.preprocess(body)
    aws.put_bytes(upload.bucket, keys.processed_table, table)
    aws.put_json(upload.bucket, keys.processed_profile, profile)
    marker = manifest.build(
        run_id,
        STAGE,
        {"table": (keys.processed_table, table)},
        source={"bucket": upload.bucket, "key": upload.key, "version_id": upload.version_id, "sequencer": upload.sequencer},
        label=preprocess_core.LABEL,
        id_column=preprocess_core.ID_COLUMN,
        features=preprocess_core.FEATURES,
        rows=profile["rows"],
    )
    aws.put_json(upload.bucket, keys.processed_manifest, marker)
    logger.info("preprocessed", extra={"rows": profile["rows"], "source_key": upload.key})
    return {"run_id": run_id, "status": "done", "rows": profile["rows"]}
