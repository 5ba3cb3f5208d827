"""split: processed/<run>/manifest.json -> splitData/<run>/{train/, test/, labels/, manifest.json}."""

from __future__ import annotations

from pipeline_common import aws, config, layout, manifest, runs
from pipeline_common.idempotency import marker_handler
from pipeline_common.observability import logger, stage_seconds

import split_core

STAGE = "split"


def split_run(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    keys = layout.RunKeys(run_id)
    runs.update_status(bucket, run_id, lambda doc, at: runs.stage_started(doc, STAGE, at))
    processed = aws.get_json(bucket, keys.processed_manifest)
    table = aws.get_bytes(bucket, keys.processed_table)
    manifest.verify(processed, "table", table)
    test_fraction, seed = config.env_float("TEST_FRACTION"), config.env_int("SPLIT_SEED")
    files = split_core.split(table, processed["label"], processed["id_column"], processed["features"], test_fraction, seed)

    aws.put_bytes(bucket, keys.train_data, files.train)
    aws.put_bytes(bucket, keys.test_features, files.test_features)
    aws.put_bytes(bucket, keys.test_labels, files.test_labels)
    marker = manifest.build(
        run_id, STAGE,
        {"train": (keys.train_data, files.train), "test_features": (keys.test_features, files.test_features),
         "test_labels": (keys.test_labels, files.test_labels)},
        source=processed["source"], features=processed["features"], test_fraction=test_fraction, seed=seed,
        n_train=files.n_train, n_test=files.n_test,
        train_label_counts=files.train_label_counts, test_label_counts=files.test_label_counts,
    )
    status = runs.update_status(bucket, run_id, lambda doc, at: runs.stage_finished(doc, STAGE, at, n_train=files.n_train, n_test=files.n_test))
    stage_seconds(status, STAGE)
    aws.put_json(bucket, keys.split_manifest, marker)  # last: the marker starts training
    logger.info("split", extra={"n_train": files.n_train, "n_test": files.n_test})
    return {"run_id": run_id, "status": "done", "n_train": files.n_train, "n_test": files.n_test}


handler = marker_handler(STAGE, split_run)
