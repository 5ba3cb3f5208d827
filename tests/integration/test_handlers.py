import io
import json
from urllib.parse import quote, quote_plus

import pandas as pd
import pytest

from botocore.stub import Stubber

import evaluate_app
import infer_app
import preprocess_app
import preprocess_core
import train_app
from pipeline_common import aws, layout, runs
from pipeline_common.models import SplitManifest, dump_spec
from tabular.prepare import prepare
from tests.datasets import iris_frame, titanic_spec
from tests.integration.conftest import BUCKET, Context, sample_event

RUN = layout.run_id_from_key(sample_event("train_split_manifest_created.json")["detail"]["object"]["key"])
DESCRIBED = {"TransformJobArn": "arn:aws:sagemaker:us-east-1:111122223333:transform-job/x", "ModelName": "m", "CreationTime": "2026-11-25",
             "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/p"}}},
             "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}


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


def put_prepared(s3, prepared, run_id: str = RUN) -> SplitManifest:
    """A run as preprocess leaves it: split data, fitted transform, profile, then the manifest."""
    objects, manifest = preprocess_core.artifacts(prepared, run_id, {"key": "raw/titanic.csv", "dataset": prepared.spec.name},
                                                  {"shipped": "titanic.yaml"}, 0.2, 42)
    for key, body, _ in objects:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    s3.put_object(Bucket=BUCKET, Key=layout.RunKeys(run_id).split_manifest, Body=manifest.model_dump_json().encode())
    return manifest


def test_sample_events_share_one_run():
    """The sample events describe one run, so each stage's event follows from the previous one's outputs."""
    raw = sample_event("preprocess_raw_csv_created.json")["detail"]["object"]
    assert layout.run_id_for_upload(raw["key"], raw["version-id"], raw["sequencer"]) == RUN
    for name in ("infer_training_job_completed.json", "evaluate_transform_job_completed.json", "evaluate_transform_job_failed.json"):
        assert sample_event(name)["detail"]["Tags"]["mlpipe:run-id"] == RUN


def test_preprocess_writes_split_data_transform_profile_and_the_manifest_last(cloud, function_env, titanic_bytes):
    env = function_env("PreprocessFunction")
    event = upload_event(cloud, "raw/titanic.csv", titanic_bytes)
    result = preprocess_app.handler(event, Context())
    run_id = result["run_id"]
    keys = layout.RunKeys(run_id)
    assert result == {"run_id": run_id, "status": "done", "rows": 891, "n_train": 713, "n_test": 178, "problem_type": "binary",
                      "warnings": 0, "path": "function", "train_parts": 1, "test_parts": 1}
    assert keys_under(cloud, f"splitData/{run_id}/") == sorted([keys.train_part(0), keys.test_part(0), keys.labels_part(0),
                                                                keys.split_manifest])
    assert keys_under(cloud, f"models/{run_id}/") == sorted([keys.frozen_spec, keys.transform])
    manifest = SplitManifest.model_validate_json(read(cloud, keys.split_manifest))
    assert manifest.dataset == env["DEFAULT_DATASET"] == "titanic"  # a file directly under raw/
    assert manifest.seed == int(env["SPLIT_SEED"]) and manifest.test_fraction == float(env["TEST_FRACTION"])
    assert manifest.objective == "binary:logistic" and manifest.classes == ["0", "1"]
    for entry in manifest.files.values():
        body = read(cloud, entry.key)
        assert len(body) == entry.bytes
    frozen = json.loads(read(cloud, keys.frozen_spec))
    assert frozen["origin"] == {"shipped": "titanic.yaml"} and frozen["name"] == "titanic"  # from the SpecsLayer
    # the marker is written after the data it names
    versions = {v["Key"]: v["LastModified"] for v in cloud.list_object_versions(Bucket=BUCKET)["Versions"]}
    assert all(versions[keys.split_manifest] >= versions[e.key] for e in manifest.files.values())
    assert read(cloud, "raw/titanic.csv") == titanic_bytes  # the raw object is untouched


def test_a_spec_in_the_bucket_wins_and_is_frozen_with_the_run(cloud, function_env, titanic_bytes):
    function_env("PreprocessFunction")
    edited = titanic_spec(hyperparameters={"num_round": 7})
    cloud.put_object(Bucket=BUCKET, Key=layout.spec_key("titanic"), Body=dump_spec(edited).encode())
    run_id = preprocess_app.handler(upload_event(cloud, "raw/titanic/titanic.csv", titanic_bytes), Context())["run_id"]
    keys = layout.RunKeys(run_id)
    frozen = json.loads(read(cloud, keys.frozen_spec))
    assert frozen["origin"]["key"] == "specs/titanic.yaml" and frozen["hyperparameters"] == {"num_round": 7}
    assert SplitManifest.model_validate_json(read(cloud, keys.split_manifest)).hyperparameters == {"num_round": "7"}
    # a later edit of the spec does not change what the run used
    cloud.put_object(Bucket=BUCKET, Key=layout.spec_key("titanic"), Body=dump_spec(titanic_spec()).encode())
    assert json.loads(read(cloud, keys.frozen_spec))["hyperparameters"] == {"num_round": 7}


def test_a_dataset_folder_uses_its_own_spec_and_one_without_a_spec_is_refused(account, function_env):
    function_env("PreprocessFunction")
    body = iris_frame().to_csv(index=False).encode()
    refused = preprocess_app.handler(upload_event(account.s3, "raw/iris/flowers.csv", body), Context())
    assert refused["status"] == "rejected"
    assert refused["reason"].startswith("dataset 'iris' has no spec: upload its spec to s3://mlpipe-data-example/specs/iris.yaml")
    spec = {"name": "iris", "target": "species", "columns": {c: {"type": "numeric"} for c in iris_frame().columns[:4]}}
    account.s3.put_object(Bucket=BUCKET, Key="specs/iris.yaml", Body=json.dumps(spec).encode())  # YAML reads JSON too
    result = preprocess_app.handler(upload_event(account.s3, "raw/iris/flowers.csv", body), Context())
    assert result["status"] == "done" and result["problem_type"] == "multiclass"


def test_preprocess_reads_the_uploaded_version_even_if_overwritten(cloud, function_env, titanic_bytes):
    function_env("PreprocessFunction")
    event = upload_event(cloud, "raw/titanic.csv", titanic_bytes)
    cloud.put_object(Bucket=BUCKET, Key="raw/titanic.csv", Body=b"overwritten")
    assert preprocess_app.handler(event, Context())["rows"] == 891


def test_preprocess_duplicate_event_is_a_no_op(cloud, function_env, titanic_bytes):
    function_env("PreprocessFunction")
    event = upload_event(cloud, "raw/titanic.csv", titanic_bytes)
    first = preprocess_app.handler(event, Context())
    before = cloud.list_object_versions(Bucket=BUCKET, Prefix="splitData/")["Versions"]
    assert preprocess_app.handler(event, Context()) == first  # the stored result, not a second run
    assert cloud.list_object_versions(Bucket=BUCKET, Prefix="splitData/")["Versions"] == before


def test_train_starts_one_job_named_after_the_run_with_the_objective_of_its_problem(cloud, function_env, titanic_bytes):
    import boto3

    env = function_env("TrainFunction")
    put_prepared(cloud, prepare(titanic_bytes, titanic_spec(hyperparameters={"max_depth": 3}), 0.2, 42))
    result = train_app.handler(sample_event("train_split_manifest_created.json"), Context())
    name = layout.job_name(env["JOB_PREFIX"], RUN)
    assert result == {"run_id": RUN, "status": "started", "training_job": name}
    job = boto3.client("sagemaker", region_name="us-east-1").describe_training_job(TrainingJobName=name)
    assert job["AlgorithmSpecification"]["TrainingImage"] == env["TRAINING_IMAGE"]
    # the stack's defaults, the problem type's objective, then the spec's overrides
    assert job["HyperParameters"] == {**json.loads(env["HYPERPARAMETERS"]), "objective": "binary:logistic", "max_depth": "3"}
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/splitData/{RUN}/train/"
    assert job["ResourceConfig"]["InstanceType"] == env["TRAINING_INSTANCE_TYPE"]


def test_a_multiclass_run_trains_softprob_with_its_number_of_classes(cloud, function_env):
    import boto3

    function_env("TrainFunction")
    spec = {"name": "iris", "target": "species", "columns": {c: {"type": "numeric"} for c in iris_frame().columns[:4]}}
    from pipeline_common.models import parse_spec

    put_prepared(cloud, prepare(iris_frame().to_csv(index=False).encode(), parse_spec(spec), 0.2, 42))
    train_app.handler(sample_event("train_split_manifest_created.json"), Context())
    job = boto3.client("sagemaker", region_name="us-east-1").describe_training_job(TrainingJobName=f"mlpipe-{RUN}")
    assert job["HyperParameters"]["objective"] == "multi:softprob" and job["HyperParameters"]["num_class"] == "3"


def test_infer_creates_model_and_transform_from_the_completed_job(cloud, function_env, titanic_bytes):
    import boto3

    env = function_env("InferFunction")
    put_prepared(cloud, prepare(titanic_bytes, titanic_spec(), 0.2, 42))
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


def finished_transform(cloud, titanic_bytes, approval_mode="auto"):
    """A run whose training and transform are done, as evaluate finds it."""
    from mlpipe.offline import xgboost_container

    keys = layout.RunKeys(RUN)
    prepared = prepare(titanic_bytes, titanic_spec(), 0.2, 42)
    put_prepared(cloud, prepared)
    artifact_key = layout.model_artifact_key(RUN, f"mlpipe-{RUN}")
    model = xgboost_container.train(prepared.train, {"objective": "binary:logistic", "num_round": "10"})
    cloud.put_object(Bucket=BUCKET, Key=artifact_key, Body=model)
    runs.update_status(BUCKET, RUN, lambda doc, at: runs.stage_started(doc, "train", at, model_artifacts=f"s3://{BUCKET}/{artifact_key}",
                                                                     image="img:1.7-1", hyperparameters={"num_round": "10"}))
    runs.update_status(BUCKET, RUN, lambda doc, at: runs.stage_started(doc, "infer", at, transform_jobs=[f"mlpipe-{RUN}"]))
    predictions = xgboost_container.transform(xgboost_container.load_model(model), prepared.test_features)
    cloud.put_object(Bucket=BUCKET, Key=keys.transform_output(0), Body=predictions)
    return prepared


def test_evaluate_writes_metrics_report_predictions_and_registers_a_version(cloud, function_env, titanic_bytes):
    import boto3

    env = function_env("EvaluateFunction")
    keys = layout.RunKeys(RUN)
    prepared = finished_transform(cloud, titanic_bytes)
    result = evaluate_app.handler(sample_event("evaluate_transform_job_completed.json"), Context())
    metrics = json.loads(read(cloud, keys.metrics))
    assert result == {"run_id": RUN, "status": "done", **{k: metrics[k] for k in ("accuracy", "roc_auc", "f1", "log_loss")},
                      "verdict": "Approved", "model_version": 1}
    assert metrics["threshold"] == float(env["THRESHOLD"]) and metrics["n_test"] == 178
    assert (metrics["problem_type"], metrics["target"], metrics["positive_class"], metrics["dataset"]) == ("binary", "Survived", "1", "titanic")
    assert sum(metrics["confusion_matrix"].values()) == 178 and metrics["accuracy"] > 0.75
    assert metrics["intervals"]["accuracy"][0] < metrics["accuracy"] < metrics["intervals"]["accuracy"][1]
    # the first version of the dataset, judged by the spec's rules (roc_auc >= 0.8)
    assert metrics["gate"]["status"] == "Approved" and metrics["gate"]["reasons"][0].startswith("rule roc_auc >= 0.8:")
    assert metrics["model_package"]["group"] == "mlpipe-titanic"
    package = boto3.client("sagemaker", region_name="us-east-1").describe_model_package(ModelPackageName=metrics["model_package"]["arn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["InferenceSpecification"]["Containers"][0]["Image"] == "img:1.7-1"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == f"s3://{BUCKET}/{keys.metrics}"
    joined = pd.read_csv(io.BytesIO(read(cloud, keys.predictions)), dtype={"row_id": str})
    labels = pd.read_csv(io.BytesIO(prepared.test_labels), dtype={"row_id": str})
    assert joined["row_id"].tolist() == labels["row_id"].tolist()
    assert set(joined.columns) == {"row_id", "actual", "prediction", "probability"}
    page = read(cloud, keys.report).decode()
    assert page.startswith("<!doctype html>") and 'id="feature-importance"' in page and ">Sex<" in page  # one-hot levels summed
    assert 'id="gate"' in page and "Approved" in page
    status = json.loads(read(cloud, keys.status))
    assert status["status"] == "succeeded" and status["metrics"]["accuracy"] == metrics["accuracy"]
    assert status["gate"]["version"] == 1 and status["gate"]["status"] == "Approved"


def test_evaluate_waits_for_the_champion_transform(cloud, function_env, titanic_bytes):
    function_env("EvaluateFunction")
    finished_transform(cloud, titanic_bytes)
    runs.update_status(BUCKET, RUN, lambda doc, at: runs.stage_started(doc, "infer", at, transform_jobs=[f"mlpipe-{RUN}", f"mlpipe-{RUN}-c"]))
    with Stubber(aws.client("sagemaker")) as stub:
        stub.add_response("describe_transform_job", {**DESCRIBED, "TransformJobName": f"mlpipe-{RUN}-c", "TransformJobStatus": "InProgress"})
        result = evaluate_app.handler(sample_event("evaluate_transform_job_completed.json"), Context())
    assert result == {"run_id": RUN, "status": "waiting", "waiting_for": [f"mlpipe-{RUN}-c"]}
    assert keys_under(cloud, f"evaluation/{RUN}/") == []


@pytest.mark.parametrize("encode", [lambda k: k, lambda k: quote(k, safe="/"), quote_plus], ids=["raw", "percent", "plus"])
def test_an_upload_key_is_decoded_once_whatever_encoding_the_event_used(cloud, encode):
    """raw/fare+class été 1912.csv next to an object literally named like its encoding: each event reaches its own."""
    from pipeline_common.events import upload

    key, decoy = "raw/fare+class été 1912.csv", "raw/fare%2Bclass%20%C3%A9t%C3%A9%201912.csv"
    decoy_event = upload_event(cloud, decoy, b"decoy")
    event = upload_event(cloud, key, b"the real one")
    event["detail"]["object"]["key"] = encode(key)
    found = upload(event, layout.RAW, "titanic")
    assert found.source["key"] == key and found.source["size"] == len(b"the real one")
    assert found.run_id == layout.run_id_for_upload(key, event["detail"]["object"]["version-id"], None)
    decoy_event["detail"]["object"]["key"] = quote(decoy, safe="/")  # the decoy's own event is encoded once more
    assert upload(decoy_event, layout.RAW, "titanic").source["key"] == decoy
    event["detail"]["object"]["key"] = quote(quote(key, safe="/"), safe="/")  # twice encoded names no object of this version
    with pytest.raises(ValueError, match="no object"):
        upload(event, layout.RAW, "titanic")
