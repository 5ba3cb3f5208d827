"""The registry's handlers on moto: scoring an upload, recording an approval, predicting through the function URL."""

from __future__ import annotations

import io
import json

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber

import approval_app
import predict_app
import score_app
from pipeline_common import aws, layout, registry, runs
from tests.integration.conftest import BUCKET, Context, sample_event
from tests.integration.test_handlers import RUN, finished_transform, upload_event

SCORE_EVENT = sample_event("score_csv_created.json")
SCORE_RUN = layout.run_id_for_upload(SCORE_EVENT["detail"]["object"]["key"], SCORE_EVENT["detail"]["object"]["version-id"],
                                     SCORE_EVENT["detail"]["object"]["sequencer"])


@pytest.fixture
def approved(account, titanic_bytes):
    """Version 1 of dataset titanic, approved, with its run's frozen spec, fitted transform and model in the bucket.

    Created Approved in one call: moto's UpdateModelPackage drops the metadata it is not given (AWS keeps it), so
    a version that evaluate registers and then approves loses its metadata on moto. The offline SageMaker keeps
    AWS's semantics; the chain's tests run there.
    """
    finished_transform(account.s3, titanic_bytes)
    sagemaker = aws.client("sagemaker")
    registry.ensure_group(sagemaker, "mlpipe-titanic", "titanic")
    keys = layout.RunKeys(RUN)
    sagemaker.create_model_package(
        ModelPackageGroupName="mlpipe-titanic", ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                                                "ModelDataUrl": f"s3://{BUCKET}/{layout.model_artifact_key(RUN, f'mlpipe-{RUN}')}"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        CustomerMetadataProperties={"run_id": RUN, "dataset": "titanic", "spec": f"s3://{BUCKET}/{keys.frozen_spec}",
                                    "transform": f"s3://{BUCKET}/{keys.transform}", "gate_metric": "roc_auc", "gate_score": "0.88"})
    return registry.serving_version(sagemaker, "mlpipe", "titanic")


def passengers(titanic_bytes, drop=("Survived",)) -> bytes:
    return pd.read_csv(io.BytesIO(titanic_bytes)).drop(columns=list(drop)).head(20).to_csv(index=False).encode()


def test_the_sample_events_describe_a_scoring_run():
    assert SCORE_EVENT["detail"]["object"]["key"].startswith("score/titanic/")
    completed = sample_event("score_transform_job_completed.json")["detail"]
    assert completed["Tags"] == {"mlpipe:run-id": SCORE_RUN, "mlpipe:run-kind": "scoring"}


def test_a_scoring_upload_is_encoded_with_the_approved_version_and_sent_to_batch_transform(approved, account, function_env, titanic_bytes):
    function_env("ScoreFunction")
    assert approved is not None and approved.version == 1
    result = score_app.handler(upload_event(account.s3, "score/titanic/passengers.csv", passengers(titanic_bytes)), Context())
    run_id = result["run_id"]
    assert result == {"run_id": run_id, "status": "started", "rows": 20, "model_version": 1}
    keys = layout.RunKeys(run_id)
    encoded = pd.read_csv(io.BytesIO(account.read(keys.scoring_input(0))), header=None)
    transform = json.loads(account.read(layout.RunKeys(RUN).transform))
    assert encoded.shape == (20, len(transform["features"]))  # the version's own encoding, no label column
    job = boto3.client("sagemaker", region_name="us-east-1").describe_transform_job(TransformJobName=f"mlpipe-{run_id}")
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/{keys.scoring_input_prefix}"
    status = account.read_json(keys.status)
    assert status["kind"] == "scoring" and status["stages"]["transform"]["status"] == "running"


def test_a_file_without_a_required_column_is_refused_naming_it(approved, account, function_env, titanic_bytes):
    function_env("ScoreFunction")
    body = passengers(titanic_bytes, drop=("Survived", "Sex"))
    result = score_app.handler(upload_event(account.s3, "score/titanic/nosex.csv", body), Context())
    assert result["status"] == "rejected" and result["reason"] == "required column(s) missing: Sex"
    error = account.read_json(layout.RunKeys(result["run_id"]).error)
    assert error["stage"] == "score" and error["details"]["missing_columns"] == ["Sex"]
    assert account.read("score/titanic/nosex.csv") == body  # nothing lost
    assert account.keys_under(layout.SCORING) == []


def test_a_dataset_without_an_approved_version_is_refused(account, function_env, titanic_bytes):
    function_env("ScoreFunction")
    result = score_app.handler(upload_event(account.s3, "score/titanic/passengers.csv", passengers(titanic_bytes)), Context())
    assert result["status"] == "rejected" and "has no approved model version" in result["reason"]


def test_the_transform_answers_are_joined_back_to_every_input_row(approved, account, function_env, titanic_bytes):
    from mlpipe.offline import xgboost_container

    function_env("ScoreFunction")
    body = passengers(titanic_bytes)
    run_id = score_app.handler(upload_event(account.s3, "score/titanic/passengers.csv", body), Context())["run_id"]
    keys = layout.RunKeys(run_id)
    model = account.read(layout.parse_s3_uri(approved.model_data)[1])
    answers = xgboost_container.transform(xgboost_container.load_model(model), account.read(keys.scoring_input(0)))
    account.s3.put_object(Bucket=BUCKET, Key=keys.scoring_output(0), Body=answers)
    event = sample_event("score_transform_job_completed.json")
    event["detail"].update(TransformJobName=f"mlpipe-{run_id}", Tags={"mlpipe:run-id": run_id, "mlpipe:run-kind": "scoring"})
    result = score_app.handler(event, Context())
    key = layout.predictions_key("titanic", run_id, "passengers.csv")
    assert result == {"run_id": run_id, "status": "done", "rows": 20, "model_version": 1, "predictions": key}
    table = pd.read_csv(io.BytesIO(account.read(key)), dtype=str, keep_default_na=False)
    original = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    assert list(table.columns) == [*original.columns, "prediction", "probability"]
    assert table[original.columns].equals(original)  # every input column, in order, values as sent
    assert set(table["prediction"]) <= {"0", "1"}
    manifest = account.read_json(layout.predictions_manifest("titanic", run_id))
    assert manifest["model_version"]["version"] == 1 and manifest["rows"] == 20
    assert account.read_json(keys.status)["status"] == "succeeded"
    # a second delivery of the same event writes nothing new
    before = account.s3.list_object_versions(Bucket=BUCKET, Prefix=layout.PREDICTIONS)["Versions"]
    score_app.handler(event, Context())
    assert account.s3.list_object_versions(Bucket=BUCKET, Prefix=layout.PREDICTIONS)["Versions"] == before


def test_an_approval_is_recorded_in_the_run_and_creates_the_endpoint(approved, account, function_env, monkeypatch):
    function_env("ApprovalFunction")
    monkeypatch.setenv("ENABLE_ENDPOINT", "true")
    event = sample_event("approval_model_package_approved.json")
    event["detail"]["ModelPackageArn"] = approved.arn
    runs.update_status(BUCKET, RUN, lambda doc, at: doc)
    result = approval_app.handler(event, Context())
    assert result == {"run_id": RUN, "dataset": "titanic", "version": 1, "status": "Approved", "endpoint": "mlpipe-titanic",
                      "change": "create", "serving_version": 1}
    assert account.read_json(layout.RunKeys(RUN).status)["gate"]["status"] == "Approved"
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    endpoint = sagemaker.describe_endpoint(EndpointName="mlpipe-titanic")
    assert endpoint["EndpointConfigName"] == "mlpipe-titanic-v1"
    config = sagemaker.describe_endpoint_config(EndpointConfigName="mlpipe-titanic-v1")
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    # the same event again changes nothing
    assert approval_app.handler(event, Context())["change"] == "none"


def test_the_endpoint_moves_only_when_it_can_and_an_approval_without_endpoints_only_records():
    import approval_core

    assert approval_core.endpoint_change(None, "e-v2") == "create"
    assert approval_core.endpoint_change({"EndpointConfigName": "e-v2", "EndpointStatus": "InService"}, "e-v2") == "none"
    assert approval_core.endpoint_change({"EndpointConfigName": "e-v1", "EndpointStatus": "InService"}, "e-v2") == "update"
    assert approval_core.endpoint_change({"EndpointConfigName": "e-v1", "EndpointStatus": "Updating"}, "e-v2") == "busy"


def test_the_function_url_answers_rows_with_the_columns_of_a_batch_file(approved, account, function_env, monkeypatch):
    import predict_core
    from mlpipe.offline import xgboost_container
    from pipeline_common import specs
    from pipeline_common.models import FittedTransform

    function_env("ApprovalFunction")
    approval_app.serve_newest_approved("titanic")  # the endpoint of version 1, on moto
    function_env("PredictFunction")
    event = sample_event("predict_function_url_request.json")
    rows = json.loads(event["body"])["rows"]
    spec = specs.frozen(account.read_json(layout.RunKeys(RUN).frozen_spec))
    transform = FittedTransform.model_validate(account.read_json(layout.RunKeys(RUN).transform))
    request_body = predict_core.encoded(predict_core.rows_table(rows), spec, transform)
    model = xgboost_container.load_model(account.read(layout.parse_s3_uri(approved.model_data)[1]))
    predict_app.served.cache_clear()
    with Stubber(aws.client("sagemaker-runtime")) as runtime:  # moto's InvokeEndpoint answers canned bodies only
        runtime.add_response("invoke_endpoint", {"Body": io.BytesIO(xgboost_container.transform(model, request_body, realtime=True)),
                                                 "ContentType": "text/csv"},
                             {"EndpointName": "mlpipe-titanic", "ContentType": "text/csv", "Accept": "text/csv", "Body": request_body})
        response = predict_app.handler(event, Context())
    assert response["statusCode"] == 200, response
    document = json.loads(response["body"])
    assert document["model_version"] == 1
    assert [list(row) for row in document["predictions"]] == [[*rows[0], "prediction", "probability"]] * 2
    batch = [float(v) for v in xgboost_container.transform(model, request_body).decode().split()]  # what batch transform says
    for row, probability in zip(document["predictions"], batch):
        assert abs(row["probability"] - probability) < 1e-6
        assert row["prediction"] == ("1" if probability >= 0.5 else "0")


def test_a_bad_request_gets_a_reason():
    import predict_core
    from pipeline_common.errors import InputRejected

    with pytest.raises(InputRejected, match="not JSON"):
        predict_core.request_of({"body": "{nope"}, "titanic")
    with pytest.raises(InputRejected, match="at least one row"):
        predict_core.request_of({"body": json.dumps({"dataset": "titanic", "rows": []})}, "titanic")
    assert predict_core.request_of({"body": json.dumps({"rows": [{"a": 1}]})}, "titanic") == ("titanic", [{"a": 1}])
