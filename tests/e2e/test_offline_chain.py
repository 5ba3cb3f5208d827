"""The whole chain on the offline cloud, driven only by the template's routes."""

import io
import tarfile
from collections import Counter

import pandas as pd
import pytest
import xgboost

from pipeline_common import layout
from tests.e2e.conftest import all_versions, read_json, run_file

pytestmark = pytest.mark.e2e


def test_titanic_reaches_evaluation_with_good_accuracy(offline, titanic_bytes):
    run_id = run_file(offline, titanic_bytes, "raw/titanic.csv")
    keys = layout.RunKeys(run_id)
    metrics = read_json(offline, keys.metrics)
    assert metrics["run_id"] == run_id
    assert metrics["accuracy"] >= 0.78
    assert metrics["n_test"] == 178
    assert sum(metrics["confusion_matrix"].values()) == 178
    # every stage went through its own function, routed by the template's rules
    invoked = Counter(inv.function for inv in offline.invocations if inv.result.ok)
    assert invoked == {"PreprocessFunction": 1, "TrainFunction": 1, "InferFunction": 1, "EvaluateFunction": 1,
                       "ApprovalFunction": 2}  # the version is registered, then given its verdict
    # SageMaker's data contract: model.tar.gz with xgboost-model, <input>.out with one line per test row
    job = layout.job_name("mlpipe", run_id)
    artifact = offline.client("s3").get_object(Bucket=offline.bucket, Key=layout.model_artifact_key(run_id, job))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(artifact)) as tar:
        assert tar.getnames() == ["xgboost-model"]
        booster = xgboost.Booster()
        booster.load_model(bytearray(tar.extractfile("xgboost-model").read()))
    assert booster.num_boosted_rounds() == 100
    out = offline.client("s3").get_object(Bucket=offline.bucket, Key=keys.transform_output(0))["Body"].read()
    assert len(out.decode().splitlines()) == 178
    described = offline.client("sagemaker").describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Completed"
    assert described["HyperParameters"]["max_depth"] == "5"


def test_uploads_get_separate_runs_and_nothing_is_overwritten(offline, titanic_bytes):
    frame = pd.read_csv(io.BytesIO(titanic_bytes))
    other = frame.sample(frac=1.0, random_state=1).head(600).to_csv(index=False).encode()
    before = {v["Key"] for v in all_versions(offline)}
    runs = [
        run_file(offline, titanic_bytes, "raw/titanic.csv"),  # the same file a second time
        run_file(offline, titanic_bytes, "raw/titanic.csv"),  # and a third
        run_file(offline, other, "raw/sample600.csv"),
    ]
    assert len(set(runs)) == 3
    for run_id in runs:
        assert read_json(offline, layout.RunKeys(run_id).metrics)["run_id"] == run_id
    assert read_json(offline, layout.RunKeys(runs[2]).metrics)["n_test"] == 120
    # every key except the re-uploaded raw file and the status records (updated at each stage by design)
    # has exactly one version: no run wrote over another
    counts = Counter(v["Key"] for v in all_versions(offline))
    assert counts["raw/titanic.csv"] == 3
    rewritten = {key: n for key, n in counts.items() if n > 1 and key != "raw/titanic.csv" and not key.startswith("runs/")}
    assert rewritten == {}
    assert {v["Key"] for v in all_versions(offline)} > before


@pytest.mark.parametrize("order", ["Pclass", "Survived"])
def test_sorted_input_is_shuffled_and_stratified(offline, titanic_bytes, order):
    frame = pd.read_csv(io.BytesIO(titanic_bytes)).sort_values(order, kind="mergesort")
    run_id = run_file(offline, frame.to_csv(index=False).encode(), f"raw/sorted-by-{order.lower()}.csv")
    keys = layout.RunKeys(run_id)
    labels = pd.read_csv(io.BytesIO(offline.client("s3").get_object(Bucket=offline.bucket, Key=keys.labels_part(0))["Body"].read()))
    assert labels["label"].value_counts().to_dict() == {0: 110, 1: 68}
    assert read_json(offline, keys.metrics)["accuracy"] >= 0.75


def test_objects_outside_raw_or_without_csv_suffix_are_not_routed(offline, titanic_bytes):
    s3 = offline.client("s3")
    before = len(offline.invocations)
    s3.put_object(Bucket=offline.bucket, Key="incoming/titanic.csv", Body=titanic_bytes)
    s3.put_object(Bucket=offline.bucket, Key="raw/titanic.txt", Body=titanic_bytes)
    s3.put_object(Bucket=offline.bucket, Key="raw/notes.csv.bak", Body=titanic_bytes)
    offline.settle(30, quiet=1.0)
    assert offline.invocations[before:] == []


def test_handler_logs_are_json_with_the_run_id(offline, titanic_bytes):
    run_id = run_file(offline, titanic_bytes, "raw/logs.csv")
    import json

    lines = [json.loads(line) for _, line in offline.logs if line.startswith("{")]
    of_run = [line for line in lines if line.get("correlation_id") == run_id]
    assert {line["service"] for line in of_run} == {"preprocess", "train", "infer", "evaluate", "approval"}


def test_another_container_version_trains_with_its_own_xgboost_release(titanic_bytes):
    """XGBoostVersion=1.7-1 (the default is 3.0-5): the image, the container's xgboost (1.7.4) and the model all follow the choice."""
    from mlpipe.offline.cloud import OfflineCloud
    from tests.e2e.conftest import run_file

    with OfflineCloud(parameter_overrides={"XGBoostVersion": "1.7-1"}) as cloud:
        run_id = run_file(cloud, titanic_bytes, "raw/titanic.csv", timeout=600)
        job = layout.job_name(cloud.job_prefix, run_id)
        assert cloud.sagemaker.training_jobs[job]["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-xgboost:1.7-1")
        assert cloud.sagemaker.releases[job] == "1.7.4"
        assert read_json(cloud, layout.RunKeys(run_id).metrics)["accuracy"] >= 0.78


def test_a_key_with_plus_spaces_and_accents_runs_end_to_end(offline, titanic_bytes):
    """The offline S3 events percent-encode keys as AWS's do; the functions decode once and reach the right object,
    even next to an object literally named like the encoded key (whose own event is encoded once more)."""
    key = "raw/fare+class été 1912.csv"
    decoy = "raw/fare%2Bclass%20%C3%A9t%C3%A9%201912.csv"
    frame = pd.read_csv(io.BytesIO(titanic_bytes))
    decoy_version = offline.client("s3").put_object(Bucket=offline.bucket, Key=decoy,
                                                    Body=frame.head(600).to_csv(index=False).encode())["VersionId"]
    run_id = run_file(offline, titanic_bytes, key)
    decoy_run = layout.run_id_for_upload(decoy, decoy_version, None)
    assert run_id != decoy_run
    for run, source_key, n_test in ((run_id, key, 178), (decoy_run, decoy, 120)):
        status = read_json(offline, layout.RunKeys(run).status)
        assert status["status"] == "succeeded" and status["source"]["key"] == source_key
        assert read_json(offline, layout.RunKeys(run).metrics)["n_test"] == n_test
    delivered = {inv.event["detail"]["object"]["key"] for inv in offline.invocations
                 if inv.function == "PreprocessFunction" and "1912" in inv.event["detail"]["object"]["key"]}
    assert delivered == {"raw/fare%2Bclass%20%C3%A9t%C3%A9%201912.csv", "raw/fare%252Bclass%2520%25C3%25A9t%25C3%25A9%25201912.csv"}


def test_a_multipart_upload_starts_one_run_as_on_s3(offline, titanic_bytes):
    """S3 sends one event, reason CompleteMultipartUpload, when a multipart upload completes (how the AWS CLI and
    `mlpipe run` put large files); moto sends two, and the offline cloud delivers the first only."""
    s3, key = offline.client("s3"), "raw/multipart titanic.csv"
    upload = s3.create_multipart_upload(Bucket=offline.bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=offline.bucket, Key=key, UploadId=upload, PartNumber=1, Body=titanic_bytes)["ETag"]
    version = s3.complete_multipart_upload(Bucket=offline.bucket, Key=key, UploadId=upload,
                                           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})["VersionId"]
    offline.settle(120)
    run_id = layout.run_id_for_upload(key, version, None)
    assert read_json(offline, layout.RunKeys(run_id).status)["status"] == "succeeded"
    preprocess = [inv for inv in offline.invocations
                  if inv.function == "PreprocessFunction" and "multipart" in inv.event["detail"]["object"]["key"]]
    assert len(preprocess) == 1 and preprocess[0].result.ok  # no second delivery, not even one turned away
    detail = preprocess[0].event["detail"]
    assert detail["reason"] == "CompleteMultipartUpload" and detail["object"]["etag"].endswith("-1")
