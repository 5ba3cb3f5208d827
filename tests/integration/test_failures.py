"""Rejected input, failed jobs and abandoned events, each handled on moto with the sample events."""

import io
import json
import sys
import tarfile

import boto3
import pytest

from botocore.stub import Stubber

import evaluate_app
import failure_app
import preprocess_app
import train_app
from pipeline_common import aws, layout
from pipeline_common.models import PreprocessTask
from tests.conftest import ROOT
from tests.integration.conftest import BUCKET, Context, sample_event
from tests.integration.test_handlers import RUN, upload_event


def test_rejected_file_gets_error_record_failed_status_and_notification(account, function_env):
    function_env("PreprocessFunction")
    body = b"PassengerId,Pclass,Sex\n1,3,male\n"
    event = upload_event(account.s3, "raw/broken.csv", body)
    result = preprocess_app.handler(event, Context())
    run_id = result["run_id"]
    assert result["status"] == "rejected"
    error = account.read_json(layout.RunKeys(run_id).error)
    assert error["stage"] == "preprocess" and error["run_id"] == run_id
    assert error["reason"].startswith("required column(s) missing: Survived")
    assert error["details"]["missing_columns"][0] == "Survived"
    assert error["source"]["key"] == "raw/broken.csv"
    status = account.read_json(layout.RunKeys(run_id).status)
    assert status["status"] == "failed" and status["failure"]["stage"] == "preprocess"
    assert status["stages"]["preprocess"]["status"] == "failed"
    assert account.keys_under(f"splitData/{run_id}/") == []  # nothing for training to start on
    assert account.read("raw/broken.csv") == body
    (notification,) = account.notifications()
    assert notification["run_id"] == run_id and notification["reason"] == error["reason"]


def test_an_upload_above_the_limit_goes_to_a_processing_job_with_its_own_copy_code_and_task(account, function_env, titanic_bytes,
                                                                                          monkeypatch):
    env = function_env("PreprocessFunction")
    event = upload_event(account.s3, "raw/big.csv", titanic_bytes)
    event["detail"]["object"]["size"] = int(env["MAX_INPUT_MEGABYTES"]) * 1024 * 1024 + 1
    # the function's path as Lambda gives it: its folder, then its layers (here the sources and their installed packages)
    interpreter = [entry for entry in sys.path if entry.startswith((sys.prefix, sys.base_prefix))]
    monkeypatch.setattr(sys, "path", [str(ROOT / "services" / "preprocess"), str(ROOT / "layers" / "common"), str(ROOT / "layers" / "data"), str(ROOT / "datasets"),
                                      *map(str, sorted((ROOT / ".venv" / "lambda-packages").iterdir())), *interpreter])
    result = preprocess_app.handler(event, Context())
    run_id = result["run_id"]
    job = f"{env['JOB_PREFIX']}-{run_id}"
    assert result == {"run_id": run_id, "status": "processing", "processing_job": job}
    keys = layout.RunKeys(run_id)
    described = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=job)
    assert described["AppSpecification"]["ImageUri"] == env["PROCESSING_IMAGE"] and described["RoleArn"] == env["PROCESSING_ROLE_ARN"]
    assert account.read(keys.processing_input) == titanic_bytes == account.read("raw/big.csv")  # a copy; the upload untouched
    task = PreprocessTask.model_validate(account.read_json(keys.processing_task))
    assert task.run_id == run_id and task.sharding.training_instances == int(env["TRAINING_INSTANCE_COUNT"])
    (code_key,) = account.keys_under("code/")
    with tarfile.open(fileobj=io.BytesIO(account.read(code_key))) as archive:
        names = archive.getnames()
    assert "root-00/preprocess_job.py" in names
    assert any(n.endswith("/pipeline_common/layout.py") for n in names) and any(n.endswith("/tabular/prepare.py") for n in names)
    assert any("/pandas/" in n for n in names) and not any("__pycache__" in n for n in names)
    status = account.read_json(keys.status)
    assert status["stages"]["preprocess"]["path"] == "processing" and status["status"] == "running"
    assert account.keys_under(f"splitData/{run_id}/") == []  # nothing for training until the job has completed


def test_failed_training_job_marks_the_run_failed_with_the_failure_reason(account, function_env):
    function_env("FailureFunction")
    event = sample_event("failure_training_job_failed.json")
    result = failure_app.handler(event, Context())
    assert result == {"run_id": RUN, "status": "failed", "stage": "train"}
    error = account.read_json(layout.RunKeys(RUN).error)
    assert error["stage"] == "train"
    assert "label must be in [0,1]" in error["reason"] and error["details"]["job_status"] == "Failed"
    assert account.read_json(layout.RunKeys(RUN).status)["failure"]["stage"] == "train"
    assert len(account.notifications()) == 1
    # a second delivery of the same event notifies nobody twice
    assert failure_app.handler(event, Context()) == result
    assert account.notifications() == []


def test_failed_transform_job_fails_the_infer_stage(account, function_env):
    function_env("EvaluateFunction")
    result = evaluate_app.handler(sample_event("evaluate_transform_job_failed.json"), Context())
    assert result == {"run_id": RUN, "status": "failed", "stage": "infer"}
    assert "ClientError: See job logs" in account.read_json(layout.RunKeys(RUN).error)["reason"]
    assert len(account.notifications()) == 1


def test_abandoned_event_from_the_failure_queue_marks_its_run_failed(account, function_env):
    function_env("FailureFunction")
    result = failure_app.handler(sample_event("failure_function_gave_up.json"), Context())
    assert result == {"batchItemFailures": []}
    error = account.read_json(layout.RunKeys(RUN).error)
    assert error["stage"] == "train"
    assert "gave up after 3 attempts (RetriesExhausted): ClientError" in error["reason"]
    assert error["details"]["function"].startswith("mlpipe-TrainFunction")


def test_an_unreadable_failure_record_is_reported_back_as_a_batch_item_failure(account, function_env):
    function_env("FailureFunction")
    event = sample_event("failure_function_gave_up.json")
    event["Records"][0]["body"] = "not json"
    result = failure_app.handler(event, Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_train_treats_resource_in_use_as_already_started(account, function_env, titanic_bytes):
    from tabular.prepare import prepare
    from tests.datasets import titanic_spec
    from tests.integration.test_handlers import put_prepared

    function_env("TrainFunction")
    put_prepared(account.s3, prepare(titanic_bytes, titanic_spec(), 0.2, 42))
    with Stubber(aws.client("sagemaker")) as stub:
        stub.add_client_error("create_training_job", service_error_code="ResourceInUse", http_status_code=400,
                              service_message="Training job names must be unique ...")
        result = train_app.handler(sample_event("train_split_manifest_created.json"), Context())
    assert result["status"] == "already-started" and result["training_job"].endswith(RUN)


def test_status_record_keeps_the_first_failure(account, function_env):
    function_env("FailureFunction")
    failure_app.handler(sample_event("failure_training_job_failed.json"), Context())
    from pipeline_common import runs

    runs.update_status(BUCKET, RUN, lambda doc, at: runs.run_failed(doc, at, "infer", "a later failure"))
    status = account.read_json(layout.RunKeys(RUN).status)
    assert status["failure"]["stage"] == "train"
    assert json.dumps(status)  # still a readable record


def test_a_duplicate_that_gave_up_while_the_original_worked_fails_nothing(account, function_env):
    function_env("FailureFunction")
    event = sample_event("failure_function_gave_up.json")
    record = json.loads(event["Records"][0]["body"])
    record["responsePayload"] = {"errorType": "IdempotencyAlreadyInProgressError", "errorMessage": "Execution already in progress"}
    event["Records"][0]["body"] = json.dumps(record)
    assert failure_app.handler(event, Context()) == {"batchItemFailures": []}
    assert account.keys_under(f"errors/{RUN}/") == [] and account.notifications() == []


def test_a_late_failure_does_not_overturn_a_succeeded_run(account, function_env):
    from pipeline_common import runs

    function_env("EvaluateFunction")
    runs.update_status(BUCKET, RUN, lambda doc, at: runs.run_succeeded(doc, at, {"accuracy": 0.8}))
    result = evaluate_app.handler(sample_event("evaluate_transform_job_failed.json"), Context())
    assert result["status"] == "already-ended"
    assert account.read_json(layout.RunKeys(RUN).status)["status"] == "succeeded"
    assert account.keys_under(f"errors/{RUN}/") == [] and account.notifications() == []


class InjectedFault(Exception):
    pass


def _fail_once(monkeypatch, target, name: str, after_call: bool = False):
    """Make target.name raise once (before or after doing its work), as a crash half-way through would."""
    original, calls = getattr(target, name), []

    def flaky(*args, **kwargs):
        calls.append(name)
        if len(calls) == 1 and not after_call:
            raise InjectedFault(f"injected fault in {name}")
        result = original(*args, **kwargs)
        if len(calls) == 1:
            raise InjectedFault(f"injected fault after {name}")
        return result

    monkeypatch.setattr(target, name, flaky)
    return calls


@pytest.mark.parametrize("step", ["status flip", "notification"])
def test_the_failure_record_survives_a_fault_between_the_steps(account, function_env, monkeypatch, step):
    """A fault after the error record is written (before the status flips, or before the notification goes out):
    Lambda retries the event, and the retry completes the record, the status and exactly one notification."""
    from pipeline_common import runs

    function_env("FailureFunction")
    event = sample_event("failure_training_job_failed.json")
    if step == "status flip":
        _fail_once(monkeypatch, runs, "update_status")
    else:
        sns, original = aws.client("sns"), aws.client

        def client(service):
            return sns if service == "sns" else original(service)

        client.cache_clear = original.cache_clear
        monkeypatch.setattr(aws, "client", client)
        _fail_once(monkeypatch, sns, "publish")
    with pytest.raises(InjectedFault):
        failure_app.handler(event, Context())
    error = account.read_json(layout.RunKeys(RUN).error)  # written before anything else
    assert error["stage"] == "train" and "label must be in [0,1]" in error["reason"]
    assert account.notifications() == []
    # Lambda's retry of the same event
    assert failure_app.handler(event, Context()) == {"run_id": RUN, "status": "failed", "stage": "train"}
    status = account.read_json(layout.RunKeys(RUN).status)
    assert status["status"] == "failed" and status["failure"]["reason"] == error["reason"] and status["failure"]["notified_at"]
    (notification,) = account.notifications()
    assert notification["reason"] == error["reason"]
    assert failure_app.handler(event, Context())["status"] == "failed"  # a third delivery: the same answer, and nobody told
    assert account.notifications() == []
    assert runs.fail(BUCKET, RUN, "train", "a late failure") is None and account.notifications() == []
    assert account.read_json(layout.RunKeys(RUN).error) == error
