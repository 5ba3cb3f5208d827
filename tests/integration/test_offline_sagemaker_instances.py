"""Jobs of several instances on the offline SageMaker, driven over HTTP by boto3 as the handlers drive it.

Training with InstanceCount N runs N container processes (algo-1 ... algo-N) that train one model through
xgboost's own tracker and collective communicator, each reading only the objects SageMaker gives it; a
transform deals its input objects over its instances. What each instance read is the offline SageMaker's
own record (``training_hosts``, ``transform_instances``): AWS's Describe calls have no such field. A transform's
DataProcessing (InputFilter, JoinSource, OutputFilter) carries a row id through for CSV.
"""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws

from mlpipe.offline.sagemaker import OfflineSageMaker
from mlpipe.offline.sm_data_processing import RequestError, columns

BUCKET = "mlpipe-instances"
IMAGES = {"sagemaker-xgboost-1.7-1": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
          "sagemaker-xgboost-3.0-5": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"}
HYPER = {"objective": "binary:logistic", "num_round": "30", "max_depth": "4", "eta": "0.3"}


class Offline:
    """An offline SageMaker on moto's S3 and EventBridge, and a boto3 client that reaches it over HTTP."""

    def __init__(self):
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        self.service = OfflineSageMaker(self.s3, boto3.client("events", region_name="us-east-1"), "us-east-1")
        self.client = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=self.service.start())

    def put(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return key

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def train(self, name: str, image: str, instances: int, distribution: str, prefix: str = "train/") -> dict:
        self.client.create_training_job(
            TrainingJobName=name, RoleArn="arn:aws:iam::111122223333:role/sagemaker", HyperParameters=HYPER,
            AlgorithmSpecification={"TrainingImage": IMAGES[image], "TrainingInputMode": "File"},
            InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}", "S3DataDistributionType": distribution}}}],
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models/"},
            ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": instances, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 600})
        return self.wait(lambda: self.client.describe_training_job(TrainingJobName=name), "TrainingJobStatus")

    def transform(self, name: str, model: str, instances: int, prefix: str) -> dict:
        self.client.create_transform_job(
            TransformJobName=name, ModelName=model,
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
                            "ContentType": "text/csv", "SplitType": "Line"},
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}", "AssembleWith": "Line"},
            TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": instances})
        return self.wait(lambda: self.client.describe_transform_job(TransformJobName=name), "TransformJobStatus")

    @staticmethod
    def wait(describe, status: str, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while (job := describe())[status] == "InProgress":
            assert time.monotonic() < deadline, f"still InProgress after {timeout} s"
            time.sleep(0.2)
        return job

    def predict(self, image: str, artifact: str, features: bytes, tmp_path: Path) -> np.ndarray:
        """The model's predictions in its own image's process, as a transform would make them."""
        (tmp_path / "model.tar.gz").write_bytes(self.read(artifact.removeprefix(f"s3://{BUCKET}/")))
        (tmp_path / "features.csv").write_bytes(features)
        self.service.containers.call(image, command="transform", model=str(tmp_path / "model.tar.gz"),
                                     files=[[str(tmp_path / "features.csv"), str(tmp_path / "predictions.csv")]])
        return np.loadtxt(tmp_path / "predictions.csv")

    def processes_alive(self) -> list[int]:
        return [process.process.pid for process in self.service.containers._all if process.alive()]


@pytest.fixture
def offline(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        cloud = Offline()
        yield cloud
        cloud.service.stop()


def xor_rows(n: int, seed: int, upper: bool | None = None) -> np.ndarray:
    """Label first, then 3 features; the label is (x0 > 0.5) XOR (x1 > 0.5): a model that never saw the rows with
    x1 above 0.5 (upper=False only) predicts the opposite there. upper chooses that half; None draws both."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    if upper is not None:
        x[:, 1] = x[:, 1] / 2 + (0.5 if upper else 0.0)
    label = ((x[:, 0] > 0.5) ^ (x[:, 1] > 0.5)).astype(int)
    return np.column_stack([label, x])


def csv(rows: np.ndarray) -> bytes:
    return "".join(f"{int(r[0])}," + ",".join(f"{v:.5f}" for v in r[1:]) + "\n" for r in rows).encode()


def features(rows: np.ndarray) -> bytes:
    return "".join(",".join(f"{v:.5f}" for v in r[1:]) + "\n" for r in rows).encode()


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_two_hosts_train_one_model_each_reading_only_its_shard(offline, image, tmp_path):
    # Sorted keys dealt round-robin: algo-1 gets part-0 and part-2 (x1 below 0.5 only), algo-2 part-1 (above).
    parts = [offline.put(f"train/part-{i}.csv", csv(xor_rows(n, seed=i, upper=i == 1))) for i, n in enumerate((300, 400, 300))]
    two = offline.train("two-hosts", image, instances=2, distribution="ShardedByS3Key")
    assert two["TrainingJobStatus"] == "Completed", two.get("FailureReason")
    assert offline.service.training_hosts["two-hosts"] == [
        {"host": "algo-1", "objects": [parts[0], parts[2]], "rows": 600, "included": True, "saved": True},
        {"host": "algo-2", "objects": [parts[1]], "rows": 400, "included": True, "saved": False},
    ]
    assert offline.service.releases["two-hosts"] == {"sagemaker-xgboost-1.7-1": "1.7.4", "sagemaker-xgboost-3.0-5": "3.0.5"}[image]
    one = offline.train("one-host", image, instances=1, distribution="ShardedByS3Key")
    assert offline.service.training_hosts["one-host"] == [
        {"host": "algo-1", "objects": parts, "rows": 1000, "included": True, "saved": True}]

    holdout = xor_rows(2000, seed=99)
    truth, upper = holdout[:, 0], holdout[:, 2] > 0.5
    accuracy = {job["TrainingJobName"]: (offline.predict(image, job["ModelArtifacts"]["S3ModelArtifacts"], features(holdout), tmp_path) > 0.5) == truth
                for job in (two, one)}
    assert accuracy["one-host"].mean() > 0.9
    assert abs(accuracy["two-hosts"].mean() - accuracy["one-host"].mean()) < 0.03
    # The master saved the model, but it learned the half only algo-2 read: the hosts trained it together.
    assert accuracy["two-hosts"][upper].mean() > 0.9


def test_fully_replicated_gives_every_host_every_object(offline):
    parts = [offline.put(f"train/part-{i}.csv", csv(xor_rows(200, seed=i))) for i in range(2)]
    job = offline.train("replicated", "sagemaker-xgboost-3.0-5", instances=2, distribution="FullyReplicated")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [(h["host"], h["objects"], h["rows"], h["saved"]) for h in offline.service.training_hosts["replicated"]] == [
        ("algo-1", parts, 400, True), ("algo-2", parts, 400, False)]


@pytest.mark.parametrize("image", sorted(IMAGES))
@pytest.mark.parametrize(("instances", "objects"), [(3, 2), (2, 1)])
def test_a_host_dealt_no_object_is_left_out_as_the_container_does(offline, image, instances, objects, tmp_path):
    parts = [offline.put(f"train/part-{i}.csv", csv(xor_rows(300, seed=i))) for i in range(objects)]
    job = offline.train("more-hosts", image, instances=instances, distribution="ShardedByS3Key")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    hosts = offline.service.training_hosts["more-hosts"]
    assert [(h["host"], h["objects"], h["rows"], h["included"]) for h in hosts] == (
        [(f"algo-{i + 1}", [part], 300, True) for i, part in enumerate(parts)]
        + [(f"algo-{i + 1}", [], 0, False) for i in range(objects, instances)])
    assert [h["saved"] for h in hosts] == [True] + [False] * (instances - 1)
    holdout = xor_rows(1000, seed=99)
    predictions = offline.predict(image, job["ModelArtifacts"]["S3ModelArtifacts"], features(holdout), tmp_path)
    assert ((predictions > 0.5) == holdout[:, 0]).mean() > 0.85
    assert offline.processes_alive()  # a job that succeeded leaves its processes warm for the next


@pytest.mark.parametrize("image", sorted(IMAGES))
@pytest.mark.parametrize("failing", ["algo-1", "algo-2"])
def test_a_failing_host_fails_the_job_and_no_process_is_left(offline, image, failing):
    # a label of 3 for binary:logistic: refused on that host (a header line would not do: the container's CSV parser,
    # xgboost's own, reads it as a row)
    offline.put("train/part-0.csv", (b"3,0.5,0.5,0.5\n" if failing == "algo-1" else b"") + csv(xor_rows(200, seed=0)))
    offline.put("train/part-1.csv", (b"3,0.5,0.5,0.5\n" if failing == "algo-2" else b"") + csv(xor_rows(200, seed=1)))
    job = offline.train("failing", image, instances=2, distribution="ShardedByS3Key")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: label must be in [0,1] for logistic regression")
    assert "ModelArtifacts" not in job and offline.s3.list_objects_v2(Bucket=BUCKET, Prefix="models/")["KeyCount"] == 0
    assert offline.service.containers._all and offline.processes_alive() == []  # the host that waited was ended too


def test_a_transform_over_two_instances_writes_what_one_instance_writes(offline):
    offline.put("train/part-0.csv", csv(xor_rows(500, seed=0)))
    job = offline.train("model", "sagemaker-xgboost-3.0-5", instances=1, distribution="FullyReplicated")
    offline.client.create_model(ModelName="model", ExecutionRoleArn="arn:aws:iam::111122223333:role/sagemaker",
                                PrimaryContainer={"Image": IMAGES["sagemaker-xgboost-3.0-5"],
                                                  "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
    inputs = [offline.put(f"test/shard-{i}.csv", features(xor_rows(n, seed=10 + i))) for i, n in enumerate((50, 70, 90))]
    for name, instances in (("one", 1), ("two", 2)):
        assert offline.transform(name, "model", instances, "test/")["TransformJobStatus"] == "Completed"
    outputs = {name: [offline.read(f"out/{name}/{Path(key).name}.out") for key in inputs] for name in ("one", "two")}
    assert outputs["two"] == outputs["one"] and [o.count(b"\n") for o in outputs["two"]] == [50, 70, 90]
    assert offline.service.transform_instances["two"] == [{"instance": 1, "objects": [inputs[0], inputs[2]], "rows": 140},
                                                          {"instance": 2, "objects": [inputs[1]], "rows": 70}]
    assert offline.service.transform_instances["one"] == [{"instance": 1, "objects": inputs, "rows": 210}]


def test_a_failing_transform_instance_fails_the_job_writes_nothing_and_ends_the_others(offline):
    offline.put("train/part-0.csv", csv(xor_rows(300, seed=0)))
    job = offline.train("model", "sagemaker-xgboost-3.0-5", instances=1, distribution="FullyReplicated")
    offline.client.create_model(ModelName="model", ExecutionRoleArn="arn:aws:iam::111122223333:role/sagemaker",
                                PrimaryContainer={"Image": IMAGES["sagemaker-xgboost-3.0-5"],
                                                  "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
    offline.put("test/shard-0.csv", features(xor_rows(50, seed=1)))
    offline.put("test/shard-1.csv", b"0.1,0.2\n")  # two columns for a model of three
    failed = offline.transform("bad", "model", 2, "test/")
    assert failed["TransformJobStatus"] == "Failed" and "Feature shape mismatch" in failed["FailureReason"]
    assert failed["FailureReason"].startswith("AlgorithmError: ")
    assert offline.s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["KeyCount"] == 0
    assert offline.processes_alive() == []


@pytest.mark.parametrize(("path", "picked"), [
    ("$", ["a", "b", "c", "d"]), ("$[0]", ["a"]), ("$[-1]", ["d"]), ("$[0,-1]", ["a", "d"]), ("$[1:]", ["b", "c", "d"]),
    ("$[:2]", ["a", "b"]), ("$[1:3]", ["b", "c"]), ("$[0,2:]", ["a", "c", "d"]), ("$[-2:]", ["c", "d"]),
])
def test_data_processing_picks_csv_columns_with_index_based_jsonpaths(path, picked):
    assert columns(path)(["a", "b", "c", "d"]) == picked


@pytest.mark.parametrize(("path", "message"), [("$.id", "does not apply to CSV"), ("$['id']", "does not apply to CSV"),
                                               ("$[4]", "index 4, outside a record of 4 columns"), ("$[-5]", "outside")])
def test_a_jsonpath_csv_cannot_take_is_a_client_error(path, message):
    with pytest.raises(RequestError, match=message):
        columns(path)(["a", "b", "c", "d"])


def test_a_transform_carries_a_row_id_through_with_data_processing(offline):
    offline.put("train/part-0.csv", csv(xor_rows(400, seed=0)))
    job = offline.train("model", "sagemaker-xgboost-3.0-5", instances=1, distribution="FullyReplicated")
    offline.client.create_model(ModelName="model", ExecutionRoleArn="arn:aws:iam::111122223333:role/sagemaker",
                                PrimaryContainer={"Image": IMAGES["sagemaker-xgboost-3.0-5"],
                                                  "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
    shards = [features(xor_rows(n, seed=20 + i)) for i, n in enumerate((30, 40, 50))]
    for i, shard in enumerate(shards):
        offline.put(f"plain/shard-{i}.csv", shard)
        offline.put(f"ids/shard-{i}.csv", b"".join(b"id-%d-%d," % (i, row) + line + b"\n" for row, line in enumerate(shard.splitlines())))
    assert offline.transform("plain", "model", 1, "plain/")["TransformJobStatus"] == "Completed"
    offline.client.create_transform_job(
        TransformJobName="ids", ModelName="model",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/ids/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/ids", "AssembleWith": "Line", "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    described = offline.wait(lambda: offline.client.describe_transform_job(TransformJobName="ids"), "TransformJobStatus")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    for i in range(3):
        plain = offline.read(f"out/plain/shard-{i}.csv.out").decode().splitlines()
        joined = offline.read(f"out/ids/shard-{i}.csv.out").decode().splitlines()
        assert joined == [f"id-{i}-{row},{prediction}" for row, prediction in enumerate(plain)]


def test_an_output_filter_beyond_the_joined_record_fails_the_job_as_a_client_error(offline):
    offline.put("train/part-0.csv", csv(xor_rows(200, seed=0)))
    job = offline.train("model", "sagemaker-xgboost-3.0-5", instances=1, distribution="FullyReplicated")
    offline.client.create_model(ModelName="model", ExecutionRoleArn="arn:aws:iam::111122223333:role/sagemaker",
                                PrimaryContainer={"Image": IMAGES["sagemaker-xgboost-3.0-5"],
                                                  "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
    offline.put("test/shard-0.csv", features(xor_rows(20, seed=1)))
    offline.client.create_transform_job(
        TransformJobName="wide", ModelName="model",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/test/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/wide"}, TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        DataProcessing={"JoinSource": "Input", "OutputFilter": "$[4]"})  # 3 features and a prediction: indices 0 to 3
    described = offline.wait(lambda: offline.client.describe_transform_job(TransformJobName="wide"), "TransformJobStatus")
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == "ClientError: the JSONPath '$[4]' names index 4, outside a record of 4 columns"
    assert offline.s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["KeyCount"] == 0
    with pytest.raises(offline.client.exceptions.ClientError, match="joinSource"):
        offline.client.create_transform_job(
            TransformJobName="both", ModelName="model", TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/test/"}}},
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/both"}, DataProcessing={"JoinSource": "Both"})
