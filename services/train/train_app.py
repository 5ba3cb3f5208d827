"""train: splitData/<run>/manifest.json -> SageMaker CreateTrainingJob (built-in XGBoost)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from pipeline_common import aws, config, layout
from pipeline_common.events import uploaded_object
from pipeline_common.observability import logger

import train_core


def settings_from_env() -> train_core.TrainingSettings:
    return train_core.TrainingSettings(
        image=config.env_str("TRAINING_IMAGE"),
        role_arn=config.env_str("SAGEMAKER_ROLE_ARN"),
        instance_type=config.env_str("TRAINING_INSTANCE_TYPE"),
        instance_count=config.env_int("TRAINING_INSTANCE_COUNT"),
        volume_gb=config.env_int("TRAINING_VOLUME_GB"),
        max_runtime_seconds=config.env_int("TRAINING_MAX_RUNTIME_SECONDS"),
        hyperparameters=config.env_json("HYPERPARAMETERS"),
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context) -> dict:
    upload = uploaded_object(event)
    run_id = layout.run_id_from_key(upload.key)
    logger.set_correlation_id(run_id)
    request = train_core.training_job_request(upload.bucket, config.job_prefix(), run_id, settings_from_env())
    name = request["TrainingJobName"]
    try:
        aws.client("sagemaker").create_training_job(**request)
    except ClientError as err:
        # Our job names are deterministic: "already exists" means a duplicate event already started it.
        if aws.error_code(err) == "ResourceInUse":
            logger.info("training job already exists; duplicate event ignored", extra={"training_job": name})
            return {"run_id": run_id, "status": "already-started", "training_job": name}
        raise
    logger.info("training job started", extra={"training_job": name})
    return {"run_id": run_id, "status": "started", "training_job": name}
