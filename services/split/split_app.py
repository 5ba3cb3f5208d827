"""split: processed/<run>/manifest.json -> splitData/<run>/{train/, test/, labels/, manifest.json}."""

from __future__ import annotations

from pipeline_common import aws, config, layout, manifest
from pipeline_common.events import uploaded_object
from pipeline_common.observability import logger

import split_core

STAGE = "split"


@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context) -> dict:
    upload = uploaded_object(event)
    run_id = layout.run_id_from_key(upload.key)
    logger.set_correlation_id(run_id)
    keys = layout.RunKeys(run_id)
    if aws.exists(upload.bucket, keys.split_manifest):
        logger.info("run already split; duplicate event ignored")
        return {"run_id": run_id, "status": "already-done"}

    processed = aws.get_json(upload.bucket, keys.processed_manifest)
    table = aws.get_bytes(upload.bucket, keys.processed_table)
    manifest.verify(processed, "table", table)
    test_fraction = config.env_float("TEST_FRACTION")
    seed = config.env_int("SPLIT_SEED")
    files = split_core.split(table, processed["label"], processed["id_column"], processed["features"], test_fraction, seed)

    aws.put_bytes(upload.bucket, keys.train_data, files.train)
    aws.put_bytes(upload.bucket, keys.test_features, files.test_features)
    aws.put_bytes(upload.bucket, keys.test_labels, files.test_labels)
    marker = manifest.build(
        run_id,
        STAGE,
        {
            "train": (keys.train_data, files.train),
            "test_features": (keys.test_features, files.test_features),
            "test_labels": (keys.test_labels, files.test_labels),
        },
        source=processed["source"],
        features=processed["features"],
        test_fraction=test_fraction,
        seed=seed,
        n_train=files.n_train,
        n_test=files.n_test,
        train_label_counts=files.train_label_counts,
        test_label_counts=files.test_label_counts,
    )
    aws.put_json(upload.bucket, keys.split_manifest, marker)
    logger.info("split", extra={"n_train": files.n_train, "n_test": files.n_test})
    return {"run_id": run_id, "status": "done", "n_train": files.n_train, "n_test": files.n_test}
