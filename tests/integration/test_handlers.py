import io
import json

import pandas as pd
import pytest

import evaluate_app
import infer_app
import preprocess_app
import preprocess_core
import split_app
import train_app
from pipeline_common import layout, manifest
from tests.integration.conftest import BUCKET, Context, sample_event

RUN = layout.run_id_from_key(sample_event("split_processed_manifest_created.json")["detail"]["object"]["key"])


def read(s3, key):
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def keys_under(s3, prefix):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def upload_event(s3, key: str, body: bytes) -> dict:
    """The sample raw-object event, pointing at the version moto actually stored."""
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
    event = sample_event("preprocess_raw_csv_created.json")
    event["detail"]["object"].update({"key": key, "version-id": version, "size": len(body)})
    return event


def test_sample_events_share_one_run():
    """The sample events describe one run, so each stage's event follows from the previous one's outputs."""
    raw = sample_event("preprocess_raw_csv_created.json")["detail"]["object"]
    assert layout.run_id_for_upload(raw["key"], raw["version-id"], raw["sequencer"]) == RUN
    for name in ("train_split_manifest_created.json", "evaluate_predictions_created.json"):
        assert layout.run_id_from_key(sample_event(name)["detail"]["object"]["key"]) == RUN
    assert sample_event("infer_training_job_completed.json")["detail"]["Tags"]["mlpipe:run-id"] == RUN


def test_preprocess_writes_table_profile_and_marker_last(cloud, function_env, titanic_bytes):
    function_env("PreprocessFunction")
    event = upload_event(cloud, "raw/titanic.csv", titanic_bytes)
    result = preprocess_app.handler(event, Context())
    run_id = result["run_id"]
    keys = layout.RunKeys(run_id)
    assert result == {"run_id": run_id, "status": "done", "rows": 891}
    assert keys_under(cloud, f"processed/{run_id}/") == sorted([keys.processed_table, keys.processed_profile, keys.processed_manifest])
    marker = json.loads(read(cloud, keys.processed_manifest))
    manifest.verify(marker, "table", read(cloud, keys.processed_table))
    assert marker["source"]["key"] == "raw/titanic.csv" and marker["features"] == preprocess_core.FEATURES
    # the marker is written after the data it names
    versions = {v["Key"]: v["LastModified"] for v in cloud.list_object_versions(Bucket=BUCKET, Prefix="processed/")["Versions"]}
    assert versions[keys.processed_manifest] >= versions[keys.processed_table]
    # the raw object is untouched
    assert read(cloud, "raw/titanic.csv") == titanic_bytes


def test_preprocess_reads_the_uploaded_version_even_if_overwritten(cloud, function_env, titanic_bytes):
    function_env("PreprocessFunction")
    event = upload_event(cloud, "raw/titanic.csv", titanic_bytes)
    cloud.put_object(Bucket=BUCKET, Key="raw/titanic.csv", Body=b"overwritten")
    assert preprocess_app.handler(event, Context())["rows"] == 891


def test_preprocess_duplicate_event_is_a_no_op(cloud, function_env, titanic_bytes):
    function_env("PreprocessFunction")
    event = upload_event(cloud, "raw/titanic.csv", titanic_bytes)
    first = preprocess_app.handler(event, Context())
    before = cloud.list_object_versions(Bucket=BUCKET, Prefix="processed/")["Versions"]
    assert preprocess_app.handler(event, Context()) == first  # the stored result, not a second run
    assert cloud.list_object_versions(Bucket=BUCKET, Prefix="processed/")["Versions"] == before


def put_processed(s3, titanic_bytes):
    table, _ = preprocess_core.preprocess(titanic_bytes)
    keys = layout.RunKeys(RUN)
    s3.put_object(Bucket=BUCKET, Key=keys.processed_table, Body=table)
    marker = manifest.build(RUN, "preprocess", {"table": (keys.processed_table, table)}, source={"key": "raw/titanic.csv"},
                            label="Survived", id_column="row_id", features=preprocess_core.FEATURES, rows=891)
    s3.put_object(Bucket=BUCKET, Key=keys.processed_manifest, Body=json.dumps(marker).encode())


def test_split_writes_the_three_files_and_its_marker(cloud, function_env, titanic_bytes):
    env = function_env("SplitFunction")
    put_processed(cloud, titanic_bytes)
    result = split_app.handler(sample_event("split_processed_manifest_created.json"), Context())
    assert result == {"run_id": RUN, "status": "done", "n_train": 713, "n_test": 178}
    keys = layout.RunKeys(RUN)
    marker = json.loads(read(cloud, keys.split_manifest))
    assert marker["seed"] == int(env["SPLIT_SEED"]) and marker["test_fraction"] == float(env["TEST_FRACTION"])
    for name, key in (("train", keys.train_data), ("test_features", keys.test_features), ("test_labels", keys.test_labels)):
        manifest.verify(marker, name, read(cloud, key))
    first_line = read(cloud, keys.train_data).split(b"\n")[0].split(b",")
    assert first_line[0] in (b"0", b"1") and len(first_line) == 9


def test_split_refuses_a_table_that_does_not_match_its_manifest(cloud, function_env, titanic_bytes):
    function_env("SplitFunction")
    put_processed(cloud, titanic_bytes)
    cloud.put_object(Bucket=BUCKET, Key=layout.RunKeys(RUN).processed_table, Body=b"row_id,Survived\n1,1\n")
    with pytest.raises(ValueError, match="does not match its manifest"):
        split_app.handler(sample_event("split_processed_manifest_created.json"), Context())


def test_train_starts_one_job_named_after_the_run(cloud, function_env):
    import boto3

    env = function_env("TrainFunction")
    event = sample_event("train_split_manifest_created.json")
    result = train_app.handler(event, Context())
    name = layout.job_name(env["JOB_PREFIX"], RUN)
    assert result == {"run_id": RUN, "status": "started", "training_job": name}
    job = boto3.client("sagemaker", region_name="us-east-1").describe_training_job(TrainingJobName=name)
    assert job["AlgorithmSpecification"]["TrainingImage"] == env["TRAINING_IMAGE"]
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-xgboost:1.7-1")
    assert job["HyperParameters"] == json.loads(env["HYPERPARAMETERS"])
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/splitData/{RUN}/train/"
    assert job["ResourceConfig"]["InstanceType"] == env["TRAINING_INSTANCE_TYPE"]


def test_infer_creates_model_and_transform_from_the_completed_job(cloud, function_env):
    import boto3

    env = function_env("InferFunction")
    event = sample_event("infer_training_job_completed.json")
    result = infer_app.handler(event, Context())
    name = event["detail"]["TrainingJobName"]
    assert result == {"run_id": RUN, "status": "started", "transform_job": name}
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    model = sagemaker.describe_model(ModelName=name)
    assert model["PrimaryContainer"]["ModelDataUrl"] == event["detail"]["ModelArtifacts"]["S3ModelArtifacts"]
    assert model["ExecutionRoleArn"] == env["SAGEMAKER_ROLE_ARN"]
    job = sagemaker.describe_transform_job(TransformJobName=name)
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformOutput"]["S3OutputPath"] == f"s3://{BUCKET}/inference-output/{RUN}/"


def test_infer_rejects_an_event_that_is_not_a_completed_job(cloud, function_env):
    function_env("InferFunction")
    event = sample_event("infer_training_job_completed.json")
    event["detail"]["TrainingJobStatus"] = "InProgress"
    with pytest.raises(ValueError, match="only Completed"):
        infer_app.handler(event, Context())


def test_evaluate_writes_metrics_report_and_predictions(cloud, function_env, titanic_bytes):
    from mlpipe.offline import xgboost_container
    from pipeline_common import runs

    env = function_env("EvaluateFunction")
    keys = layout.RunKeys(RUN)
    table, profile = preprocess_core.preprocess(titanic_bytes)
    cloud.put_object(Bucket=BUCKET, Key=keys.processed_profile, Body=json.dumps(profile).encode())
    cloud.put_object(Bucket=BUCKET, Key=keys.split_manifest, Body=json.dumps({"features": preprocess_core.FEATURES}).encode())
    rows = pd.read_csv(io.BytesIO(table))
    train_csv = rows[["Survived", *preprocess_core.FEATURES]].to_csv(index=False, header=False).encode()
    artifact_key = layout.model_artifact_key(RUN, f"mlpipe-{RUN}")
    cloud.put_object(Bucket=BUCKET, Key=artifact_key, Body=xgboost_container.train(train_csv, {"objective": "binary:logistic", "num_round": "10"}))
    runs.update_status(BUCKET, RUN, lambda doc, at: runs.stage_started(doc, "train", at, model_artifacts=f"s3://{BUCKET}/{artifact_key}",
                                                                     image="img:1.7-1", hyperparameters={"num_round": "10"}))
    cloud.put_object(Bucket=BUCKET, Key=keys.test_labels, Body=b"row_id,label\n1,1\n2,0\n3,1\n4,0\n")
    cloud.put_object(Bucket=BUCKET, Key=keys.transform_output, Body=b"0.9\n0.6\n0.3\n0.1\n")
    result = evaluate_app.handler(sample_event("evaluate_predictions_created.json"), Context())
    assert result == {"run_id": RUN, "status": "done", "accuracy": 0.5}
    metrics = json.loads(read(cloud, keys.metrics))
    assert metrics["threshold"] == float(env["THRESHOLD"])
    assert metrics["confusion_matrix"] == {"tp": 1, "fp": 1, "tn": 1, "fn": 1}
    assert {"run_id", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "n_test"} <= metrics.keys()
    predictions = pd.read_csv(io.BytesIO(read(cloud, keys.predictions)))
    assert predictions["predicted"].tolist() == [1, 1, 0, 0]
    page = read(cloud, keys.report).decode()
    assert page.startswith("<!doctype html>") and 'id="feature-importance"' in page and ">Sex<" in page
    status = json.loads(read(cloud, keys.status))
    assert status["status"] == "succeeded" and status["metrics"]["accuracy"] == 0.5
