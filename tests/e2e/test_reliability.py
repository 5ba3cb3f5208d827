"""At-least-once delivery, bad input, failed jobs, function failures, throttling and concurrency, on the real offline chain."""

from __future__ import annotations

import io
import threading
from collections import Counter

import pandas as pd
import pytest

from mlpipe.offline.cloud import OfflineCloud, Options
from pipeline_common import layout
from tests.conftest import DATA
from tests.e2e.conftest import all_versions, read_json, run_file

pytestmark = pytest.mark.e2e
TITANIC = DATA.read_bytes()
HEADER = TITANIC.decode().splitlines()[0]


def objects_of_run(cloud: OfflineCloud, run_id: str) -> list[str]:
    return sorted(v["Key"] for v in all_versions(cloud) if f"/{run_id}/" in v["Key"])


def version_counts(cloud: OfflineCloud, run_id: str) -> Counter:
    return Counter(v["Key"] for v in all_versions(cloud) if f"/{run_id}/" in v["Key"])


def jobs_of_run(cloud: OfflineCloud, run_id: str) -> dict[str, int]:
    name = layout.job_name(cloud.job_prefix, run_id)
    sm = cloud.sagemaker
    return {"training": sum(n == name for n in sm.training_jobs), "model": sum(n == name for n in sm.models),
            "transform": sum(n == name for n in sm.transform_jobs),
            "create_calls": sum(c.startswith("Create") for c in sm.calls)}


# -- duplicates ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def normal_metrics():
    with OfflineCloud() as cloud:
        run_id = run_file(cloud, TITANIC, "raw/titanic.csv")
        return read_json(cloud, layout.RunKeys(run_id).metrics)


def test_every_event_delivered_twice_at_once_gives_one_of_everything(normal_metrics):
    with OfflineCloud(options=Options(duplicate_events=True, concurrency=2)) as cloud:
        run_id = run_file(cloud, TITANIC, "raw/titanic.csv")
        invoked = Counter(inv.function for inv in cloud.invocations)
        # each of the five functions really saw its event at least twice
        for function in ("PreprocessFunction", "TrainFunction", "InferFunction", "EvaluateFunction"):
            assert invoked[function] >= 2, invoked
        # training job, model, transform job, model package group and version: each created once
        assert jobs_of_run(cloud, run_id) == {"training": 1, "model": 1, "transform": 1, "create_calls": 5}
        assert len(cloud.sagemaker.model_packages) == 1
        counts = version_counts(cloud, run_id)
        data_keys = {k: n for k, n in counts.items() if not k.startswith(layout.RUNS)}
        assert data_keys and set(data_keys.values()) == {1}, data_keys  # one profile, one split, one model ...
        keys = layout.RunKeys(run_id)
        assert counts[keys.metrics] == 1 and counts[keys.transform_output(0)] == 1
        assert counts[layout.model_artifact_key(run_id, layout.job_name(cloud.job_prefix, run_id))] == 1
        metrics = read_json(cloud, keys.metrics)
        assert {k: v for k, v in metrics.items() if k != "run_id"} == {k: v for k, v in normal_metrics.items() if k != "run_id"}
        assert read_json(cloud, keys.status)["status"] == "succeeded"
        assert not any(inv.function == "FailureFunction" for inv in cloud.invocations)


# -- bad input -------------------------------------------------------------------------------------
def _rows(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


FRAME = pd.read_csv(io.BytesIO(TITANIC))
BAD_INPUTS = {
    "empty": (b"", "file is empty"),
    "header-only": ((HEADER + "\n").encode(), "header but no data rows"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20, "binary, not CSV"),
    "no-survived": (_rows(FRAME.drop(columns="Survived")), "required column(s) missing: Survived"),
    "no-sex": (_rows(FRAME.drop(columns="Sex")), "required column(s) missing: Sex"),
    "label-2": (_rows(FRAME.assign(Survived=FRAME["Survived"].replace({1: 2}))), "Survived must be one of 0, 1"),
    "infinite-fare": (_rows(FRAME.assign(Fare=FRAME["Fare"].astype(object).where(FRAME.index != 7, "inf"))), "Fare holds 1 non-finite"),
    "text-in-age": (_rows(FRAME.assign(Age=FRAME["Age"].astype(object).where(FRAME.index != 5, "about thirty"))), "column Age must be numeric"),
    "single-class": (_rows(FRAME[FRAME["Survived"] == 0]), "single class"),
    "too-few-rows": (_rows(FRAME.head(6)), "too few rows to split"),
    "semicolons": (FRAME.to_csv(index=False, sep=";").encode(), "semicolon-separated"),
    "latin-1": (TITANIC.decode().replace("Braund", "Bräund").encode("latin-1"), "not UTF-8 text: byte 0xe4"),
}


@pytest.fixture(scope="module")
def rejecting_cloud():
    with OfflineCloud() as cloud:
        yield cloud


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_record_and_nothing_downstream(rejecting_cloud, case):
    body, reason = BAD_INPUTS[case]
    cloud = rejecting_cloud
    key = f"raw/bad-{case}.csv"
    run_id = run_file(cloud, body, key)
    error = read_json(cloud, layout.RunKeys(run_id).error)
    assert reason in error["reason"] and error["stage"] == "preprocess" and error["run_id"] == run_id
    status = read_json(cloud, layout.RunKeys(run_id).status)
    assert status["status"] == "failed" and status["failure"]["reason"] == error["reason"]
    assert [k for k in objects_of_run(cloud, run_id) if not k.startswith((layout.ERRORS, layout.RUNS))] == []
    raw_versions = [v for v in all_versions(cloud) if v["Key"] == key]
    assert len(raw_versions) == 1
    assert cloud.client("s3").get_object(Bucket=cloud.bucket, Key=key)["Body"].read() == body
    assert any(n["run_id"] == run_id for n in cloud.notifications())


def test_a_file_to_score_over_the_size_limit_is_rejected_and_a_file_to_train_on_is_not():
    big = TITANIC * 20  # about 1.2 MB
    with OfflineCloud(parameter_overrides={"MaxInputMegabytes": "1", "MaxScoringMegabytes": "1"}) as cloud:
        run_file(cloud, TITANIC, "raw/titanic.csv")  # an approved version to score with
        scoring = run_file(cloud, big, "score/big.csv")
        error = read_json(cloud, layout.RunKeys(scoring).error)
        assert "larger than the 1048576-byte limit" in error["reason"] and error["details"]["size"] == len(big)
        assert [job for job in cloud.sagemaker.transform_jobs if scoring in job] == []
        training = run_file(cloud, big, "raw/big.csv", timeout=300)  # too large for the function: a Processing job
        status = read_json(cloud, layout.RunKeys(training).status)
        assert status["stages"]["preprocess"]["path"] == "processing"


# -- failed jobs, failed functions, throttling ---------------------------------------------------------
@pytest.mark.parametrize(("fault", "stage"), [("fail_training", "train"), ("fail_transform", "infer")])
def test_failed_job_marks_the_run_failed_notifies_and_starts_nothing_downstream(fault, stage):
    reason = f"injected failure of the {stage} job"
    with OfflineCloud(options=Options(**{fault: reason})) as cloud:
        run_id = run_file(cloud, TITANIC, "raw/titanic.csv")
        keys = layout.RunKeys(run_id)
        status = read_json(cloud, keys.status)
        assert status["status"] == "failed" and status["failure"]["stage"] == stage
        assert reason in status["failure"]["reason"]
        error = read_json(cloud, keys.error)
        assert error["details"]["job_status"] == "Failed" and reason in error["details"]["failure_reason"]
        (note,) = [n for n in cloud.notifications() if n["run_id"] == run_id]
        assert note["stage"] == stage
        jobs = jobs_of_run(cloud, run_id)
        if stage == "train":
            assert (jobs["model"], jobs["transform"]) == (0, 0)
        assert not cloud.client("s3").list_objects_v2(Bucket=cloud.bucket, Prefix=keys.transform_output_prefix).get("Contents")
        assert not cloud.client("s3").list_objects_v2(Bucket=cloud.bucket, Prefix=keys.metrics).get("Contents")


def test_a_function_that_keeps_failing_is_retried_then_its_run_is_marked_failed(offline):
    run_id = "handmade-0123456789"
    s3 = offline.client("s3")
    # a commit marker that is not a manifest: training fails on every attempt
    s3.put_object(Bucket=offline.bucket, Key=layout.RunKeys(run_id).split_manifest, Body=b'{"files": {}}')
    offline.settle(60)
    attempts = [inv for inv in offline.invocations if inv.function == "TrainFunction" and run_id in str(inv.event)]
    assert [inv.attempt for inv in attempts] == [1, 2, 3] and not any(inv.result.ok for inv in attempts)
    error = read_json(offline, layout.RunKeys(run_id).error)
    assert error["stage"] == "train"
    assert "gave up after 3 attempts (RetriesExhausted)" in error["reason"]
    assert read_json(offline, layout.RunKeys(run_id).status)["status"] == "failed"


def test_sagemaker_throttling_is_retried_with_backoff_not_a_crash():
    with OfflineCloud(options=Options(throttle=2)) as cloud:
        run_id = run_file(cloud, TITANIC, "raw/titanic.csv")
        assert cloud.sagemaker.faults.throttled == 2
        assert read_json(cloud, layout.RunKeys(run_id).status)["status"] == "succeeded"
        assert all(inv.result.ok for inv in cloud.invocations)  # botocore retried; no invocation failed


# -- concurrency -------------------------------------------------------------------------------------
def test_ten_uploads_at_once_are_ten_separate_runs():
    frames = [FRAME.sample(frac=0.9, random_state=seed) for seed in range(10)]
    with OfflineCloud(options=Options(concurrency=2)) as cloud:
        s3 = cloud.client("s3")
        versions: dict[str, str] = {}

        def upload(i: int) -> None:
            key = f"raw/batch-{i}.csv"
            versions[key] = s3.put_object(Bucket=cloud.bucket, Key=key, Body=_rows(frames[i]))["VersionId"]

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cloud.settle(300)
        run_of = {key: layout.run_id_for_upload(key, version, None) for key, version in versions.items()}
        run_ids = set(run_of.values())
        assert len(run_ids) == 10
        for key, run_id in run_of.items():
            keys = layout.RunKeys(run_id)
            status = read_json(cloud, keys.status)
            assert status["status"] == "succeeded", (run_id, status.get("failure"))
            metrics = read_json(cloud, keys.metrics)
            counts = frames[int(key.split("-")[1].split(".")[0])]["Survived"].value_counts()
            assert metrics["run_id"] == run_id
            assert metrics["n_test"] == round(counts[0] * 0.2) + round(counts[1] * 0.2)  # each run split its own file
        # every object written by the chain belongs to exactly one run, and no run rewrote another's data
        for v in all_versions(cloud):
            if v["Key"].startswith(layout.RAW):
                continue
            owners = [r for r in run_ids if f"/{r}/" in v["Key"]]
            assert len(owners) == 1, v["Key"]
        data = Counter(v["Key"] for v in all_versions(cloud) if not v["Key"].startswith((layout.RAW, layout.RUNS)))
        assert set(data.values()) == {1}
