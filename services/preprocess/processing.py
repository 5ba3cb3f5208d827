"""Start the Processing job of an upload too large for the function (see processing_core.py for the job itself)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from pipeline_common import aws, config, layout, runs, s3_streams
from pipeline_common.events import source_object
from pipeline_common.models import DatasetSpec, PreprocessTask
from pipeline_common.observability import logger

import job_code
import processing_core
from tabular.prepare import check_header

HEAD_BYTES = 1 << 20  # enough rows to check the header and the first values before any job starts


def settings_from_env() -> processing_core.ProcessingSettings:
    return processing_core.ProcessingSettings(
        image=config.env_str("PROCESSING_IMAGE"),
        role_arn=config.env_str("PROCESSING_ROLE_ARN"),
        instance_type=config.env_str("PROCESSING_INSTANCE_TYPE"),
        volume_gb=config.env_int("PROCESSING_VOLUME_GB"),
        max_runtime_seconds=config.env_int("PROCESSING_MAX_RUNTIME_SECONDS"),
    )


def start(bucket: str, source: dict, spec: DatasetSpec, task: PreprocessTask) -> dict:
    """Check the file's start, hand the job its own copy of the upload and its task, and start it."""
    s3 = aws.client("s3")
    head = s3.get_object(**source_object(bucket, source), Range=f"bytes=0-{HEAD_BYTES - 1}")["Body"].read()
    check_header(head, spec, complete=source["size"] is not None and source["size"] <= HEAD_BYTES)
    keys = layout.RunKeys(task.run_id)
    # A Processing input names a key prefix, never a version: the job reads a copy of exactly the uploaded bytes.
    s3_streams.copy_object(s3, source_object(bucket, source), source["size"], bucket, keys.processing_input)
    aws.put_bytes(bucket, keys.processing_task, task.model_dump_json(indent=2).encode(), "application/json")
    request = processing_core.processing_job_request(bucket, config.job_prefix(), task.run_id,
                                                     job_code.ensure_uploaded(bucket, "preprocess"), settings_from_env())
    name = request["ProcessingJobName"]
    resources = request["ProcessingResources"]["ClusterConfig"]
    runs.update_status(bucket, task.run_id, lambda doc, at: runs.stage_started(
        doc, "preprocess", at, path="processing", processing_job=name, instance_type=resources["InstanceType"],
        instance_count=resources["InstanceCount"]))
    try:
        aws.client("sagemaker").create_processing_job(**request)
    except ClientError as err:
        if not aws.already_exists(err):  # our job names are deterministic: this run's job was started before
            raise
    logger.info("processing job started", extra={"processing_job": name, "size": source["size"]})
    return {"run_id": task.run_id, "status": "processing", "processing_job": name}
