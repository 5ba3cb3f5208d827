"""train: splitData/<run>/manifest.json -> SageMaker CreateTrainingJob (built-in XGBoost)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from pipeline_common import aws, config, layout, runs
from pipeline_common.idempotency import marker_handler
from pipeline_common.models import SplitManifest
from pipeline_common.observability import logger

import train_core

STAGE = "train"


def settings_from_env() -> train_core.TrainingSettings:
    return train_core.TrainingSettings(
        image=config.env_str("TRAINING_IMAGE"),
        role_arn=config.env_str("SAGEMAKER_ROLE_ARN"),
        instance_type=config.env_str("TRAINING_INSTANCE_TYPE"),
        instance_count=config.env_int("TRAINING_INSTANCE_COUNT"),
        volume_gb=config.env_int("TRAINING_VOLUME_GB"),
        max_runtime_seconds=config.env_int("TRAINING_MAX_RUNTIME_SECONDS"),
        hyperparameters=config.env_json("HYPERPARAMETERS"),
        spot=config.env_str("ENABLE_MANAGED_SPOT_TRAINING") == "true",
        spot_max_wait_seconds=config.env_int("SPOT_MAX_WAIT_SECONDS"),
    )


def start_training(task: dict) -> dict:
    bucket, run_id = task["bucket"], task["run_id"]
    manifest = SplitManifest.model_validate(aws.get_json(bucket, layout.RunKeys(run_id).split_manifest))
    request = train_core.training_job_request(bucket, config.job_prefix(), run_id, settings_from_env(), manifest)
    name = request["TrainingJobName"]
    lineage = {"training_job": name, "image": request["AlgorithmSpecification"]["TrainingImage"],
               "hyperparameters": request["HyperParameters"], "instance_type": request["ResourceConfig"]["InstanceType"],
               "instance_count": request["ResourceConfig"]["InstanceCount"],
               "distribution": request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"]}
    runs.update_status(bucket, run_id, lambda doc, at: runs.stage_started(doc, STAGE, at, **lineage))
    try:
        aws.client("sagemaker").create_training_job(**request)
    except ClientError as err:
        # Our job names are deterministic: "already exists" means this run's job was started before.
        if not aws.already_exists(err):
            raise
        logger.info("training job already exists", extra={"training_job": name})
        return {"run_id": run_id, "status": "already-started", "training_job": name}
    logger.info("training job started", extra={"training_job": name, "image": request["AlgorithmSpecification"]["TrainingImage"]})
    return {"run_id": run_id, "status": "started", "training_job": name}


handler = marker_handler(STAGE, start_training)
