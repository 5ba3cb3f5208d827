"""Uploads above MaxInputMegabytes: prepared by a Processing job, cut into parts, trained and predicted over instances."""

from __future__ import annotations

import io
from collections import Counter

import pandas as pd
import pytest

from bench.make_data import titanic_like
from mlpipe.offline.cloud import OfflineCloud, Options
from pipeline_common import layout
from tests.e2e.conftest import read_json, run_file

pytestmark = pytest.mark.e2e
SCALE = {"MaxInputMegabytes": "1", "TrainingInstanceCount": "2", "TransformInstanceCount": "2"}


@pytest.fixture(scope="module")
def big_bytes() -> bytes:
    return titanic_like(30_000, seed=3).to_csv(index=False).encode()  # about 2.3 MB: above a 1 MB threshold


def _objects(cloud: OfflineCloud, prefix: str) -> dict[str, bytes]:
    s3 = cloud.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=cloud.bucket, Prefix=prefix).get("Contents", [])]
    return {key: s3.get_object(Bucket=cloud.bucket, Key=key)["Body"].read() for key in sorted(keys)}


def _joined(cloud: OfflineCloud, prefix: str) -> bytes:
    return b"".join(_objects(cloud, prefix).values())


@pytest.fixture(scope="module")
def in_function(big_bytes):
    """The same file prepared by the function itself, on one instance: what the Processing path must match."""
    with OfflineCloud() as cloud:
        run_id = run_file(cloud, big_bytes, "raw/big.csv", timeout=300)
        keys = layout.RunKeys(run_id)
        yield {"metrics": read_json(cloud, keys.metrics), "train": _joined(cloud, keys.train_prefix),
               "transform": read_json(cloud, keys.transform), "status": read_json(cloud, keys.status)}


def test_a_large_upload_goes_through_processing_two_training_instances_and_a_sharded_transform(big_bytes, in_function):
    with OfflineCloud(parameter_overrides=SCALE) as cloud:
        run_id = run_file(cloud, big_bytes, "raw/big.csv", timeout=300)
        keys = layout.RunKeys(run_id)
        status = read_json(cloud, keys.status)
        assert status["status"] == "succeeded", status
        name = layout.job_name("mlpipe", run_id)
        preprocess = status["stages"]["preprocess"]
        assert preprocess["path"] == "processing" and preprocess["processing_job"] == name
        assert preprocess["train_parts"] >= 2 and preprocess["test_parts"] >= 2
        assert status["stages"]["train"]["instance_count"] == 2
        assert status["stages"]["train"]["distribution"] == "ShardedByS3Key"
        assert status["stages"]["infer"]["instance_count"] == 2
        described = cloud.client("sagemaker").describe_processing_job(ProcessingJobName=name)
        assert described["ProcessingJobStatus"] == "Completed" and '"n_train": 24000' in described["ExitMessage"]
        assert in_function["status"]["stages"]["preprocess"]["path"] == "function"
        # the same code on the same bytes: the same transform and the same training rows, only cut into parts
        assert read_json(cloud, keys.transform) == in_function["transform"]
        assert _joined(cloud, keys.train_prefix) == in_function["train"]
        metrics = read_json(cloud, keys.metrics)
        assert metrics["n_test"] == in_function["metrics"]["n_test"] == 6000
        assert abs(metrics["accuracy"] - in_function["metrics"]["accuracy"]) <= 0.01
        outputs = _objects(cloud, keys.transform_output_prefix)
        assert len([key for key in outputs if "/champion/" not in key]) == preprocess["test_parts"]
        # the raw upload is untouched; the job read its own copy of that version
        assert _objects(cloud, "raw/")["raw/big.csv"] == big_bytes
        assert _objects(cloud, keys.processing_input)[keys.processing_input] == big_bytes


def test_a_large_file_with_a_wrong_header_is_refused_before_any_job(big_bytes):
    with OfflineCloud(parameter_overrides=SCALE) as cloud:
        run_id = run_file(cloud, big_bytes.replace(b"Sex", b"Gender", 1), "raw/renamed.csv")
        error = read_json(cloud, layout.RunKeys(run_id).error)
        assert error["stage"] == "preprocess" and error["reason"] == "required column(s) missing: Sex"
        assert cloud.sagemaker.processing_jobs == {} and cloud.sagemaker.training_jobs == {}


def test_a_bad_value_beyond_the_files_start_fails_the_run_with_the_jobs_words(big_bytes):
    frame = pd.read_csv(io.BytesIO(big_bytes))
    frame["Pclass"] = frame["Pclass"].astype(object)
    frame.loc[29_000, "Pclass"] = "first"  # far past the first megabyte the function checks
    with OfflineCloud(parameter_overrides=SCALE) as cloud:
        run_id = run_file(cloud, frame.to_csv(index=False).encode(), "raw/late-error.csv", timeout=300)
        error = read_json(cloud, layout.RunKeys(run_id).error)
        assert error["stage"] == "preprocess" and error["reason"].startswith(f"processing job {layout.job_name('mlpipe', run_id)} Failed: ")
        assert "Pclass" in error["reason"] and "29002" in str(error)  # the column and the line of the file
        assert cloud.sagemaker.training_jobs == {}


def test_a_failed_processing_job_fails_the_run_with_its_reason(big_bytes):
    options = Options(fail_processing="injected: the instance ran out of disk")
    with OfflineCloud(options=options, parameter_overrides=SCALE) as cloud:
        run_id = run_file(cloud, big_bytes, "raw/big.csv")
        error = read_json(cloud, layout.RunKeys(run_id).error)
        assert error["stage"] == "preprocess"
        assert error["reason"] == (f"processing job {layout.job_name('mlpipe', run_id)} Failed: "
                                   "AlgorithmError: injected: the instance ran out of disk")
        assert read_json(cloud, layout.RunKeys(run_id).status)["status"] == "failed"


def test_duplicate_events_still_give_one_job_of_each_kind(big_bytes):
    with OfflineCloud(options=Options(duplicate_events=True), parameter_overrides=SCALE) as cloud:
        run_id = run_file(cloud, big_bytes, "raw/big.csv", timeout=300)
        assert read_json(cloud, layout.RunKeys(run_id).status)["status"] == "succeeded"
        assert Counter(cloud.sagemaker.calls)["CreateProcessingJob"] == 1
        assert len(cloud.sagemaker.processing_jobs) == len(cloud.sagemaker.training_jobs) == 1
        assert len(_objects(cloud, layout.CODE)) == 1  # the code archive, written once
