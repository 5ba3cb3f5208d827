"""An offline SageMaker endpoint for the operations the pipeline calls, with real XGBoost training.

It speaks SageMaker's JSON 1.1 protocol, so the handlers' boto3 clients reach it through
``AWS_ENDPOINT_URL_SAGEMAKER`` alone. Jobs move InProgress -> Completed or Failed (with a
FailureReason) on a background thread, read and write S3 through the offline S3, and every
status change is sent to EventBridge in the documented ``aws.sagemaker`` shapes.
"""

from __future__ import annotations

import json
import posixpath
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from . import xgboost_container
from .template import ACCOUNT_ID


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Faults:
    """Fault injection: make jobs fail, or answer the first N calls with ThrottlingException."""

    fail_training: str | None = None
    fail_transform: str | None = None
    throttle_remaining: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take_throttle(self) -> bool:
        with self._lock:
            if self.throttle_remaining > 0:
                self.throttle_remaining -= 1
                self.throttled += 1
                return True
            return False


def _now() -> float:
    return time.time()


def _event_time(value):
    # API answers carry epoch seconds; EventBridge details carry epoch milliseconds.
    return int(value * 1000) if isinstance(value, float) else value


class OfflineSageMaker:
    def __init__(self, s3_client, events_client, region: str, faults: Faults | None = None):
        self.s3 = s3_client
        self.events = events_client
        self.region = region
        self.faults = faults or Faults()
        self.training_jobs: dict[str, dict] = {}
        self.models: dict[str, dict] = {}
        self.transform_jobs: dict[str, dict] = {}
        self.tags: dict[str, list] = {}
        self.releases: dict[str, str] = {}  # job name -> the xgboost release that ran it
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._server: ThreadingHTTPServer | None = None

    # -- plumbing -------------------------------------------------------------------------
    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{ACCOUNT_ID}:{kind}/{name.lower()}"

    def start(self, port: int = 0) -> str:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    result = service.call(operation, json.loads(body or b"{}"))
                    status, payload = 200, result
                except ApiError as err:
                    status, payload = err.status, {"__type": err.code, "message": err.message}
                data = json.dumps(payload, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", f"offline-{time.monotonic_ns()}")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet: the CLI shows what matters
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=30)

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def call(self, operation: str, request: dict) -> dict:
        if self.faults.take_throttle():
            raise ApiError("ThrottlingException", "Rate exceeded")
        method: Callable | None = getattr(self, f"op_{operation}", None)
        if method is None:
            raise ApiError("UnknownOperationException", f"the offline SageMaker does not implement {operation}")
        with self._lock:
            self.calls.append(operation)
        return method(request)

    def _emit(self, detail_type: str, detail: dict, arn: str) -> None:
        detail = {k: _event_time(v) for k, v in detail.items()}
        self.events.put_events(
            Entries=[{"Source": "aws.sagemaker", "DetailType": detail_type, "Detail": json.dumps(detail, default=str), "Resources": [arn]}]
        )

    def _run(self, target: Callable, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _read_prefix(self, uri: str) -> list[tuple[str, bytes]]:
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
        if not keys:
            raise xgboost_container.AlgorithmError(f"no data found under {uri}")
        return [(key, self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in sorted(keys)]

    def _write(self, uri: str, body: bytes) -> None:
        bucket, _, key = uri[len("s3://"):].partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    @staticmethod
    def _image_version(image: str) -> str:
        repository, _, tag = image.rpartition("/")[2].partition(":")
        if repository != "sagemaker-xgboost":
            raise xgboost_container.AlgorithmError(f"the offline SageMaker runs only the built-in XGBoost image, not {image}")
        return tag

    # -- training -------------------------------------------------------------------------
    def op_CreateTrainingJob(self, request: dict) -> dict:  # noqa: N802
        name = request["TrainingJobName"]
        arn = self.arn("training-job", name)
        with self._lock:
            if name in self.training_jobs:
                raise ApiError("ResourceInUse", f"Training job names must be unique within an AWS account and region, and a training job with this name already exists ({arn})")
            job = {
                **{k: v for k, v in request.items() if k != "Tags"},
                "TrainingJobArn": arn,
                "TrainingJobStatus": "InProgress",
                "SecondaryStatus": "Starting",
                "CreationTime": _now(),
                "LastModifiedTime": _now(),
            }
            self.training_jobs[name] = job
            self.tags[arn] = request.get("Tags", [])
        self._run(self._train, name)
        return {"TrainingJobArn": arn}

    def op_DescribeTrainingJob(self, request: dict) -> dict:  # noqa: N802
        job = self.training_jobs.get(request["TrainingJobName"])
        if job is None:
            raise ApiError("ValidationException", f"Requested resource not found: training job {request['TrainingJobName']}")
        return dict(job)

    def _training_event(self, job: dict) -> None:
        tags = {t["Key"]: t["Value"] for t in self.tags.get(job["TrainingJobArn"], [])}
        self._emit("SageMaker Training Job State Change", {**job, "Tags": tags}, job["TrainingJobArn"])

    def _train(self, name: str) -> None:
        job = self.training_jobs[name]
        self._training_event(job)
        job["TrainingStartTime"] = _now()
        try:
            if self.faults.fail_training:
                raise xgboost_container.AlgorithmError(self.faults.fail_training)
            release = xgboost_container.release_of(self._image_version(job["AlgorithmSpecification"]["TrainingImage"]))
            self.releases[name] = release
            channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
            if "train" not in channels:
                raise xgboost_container.AlgorithmError("channel 'train' is required")
            if channels["train"].get("ContentType") != "text/csv":
                raise xgboost_container.AlgorithmError("the train channel has no ContentType text/csv: the container would read it as libsvm")
            data = b"".join(body for _, body in self._read_prefix(channels["train"]["DataSource"]["S3DataSource"]["S3Uri"]))
            hyperparameters = job.get("HyperParameters", {})
            if release == xgboost_container.installed_release():
                model = xgboost_container.train(data, hyperparameters)
            else:
                model = xgboost_container.run_in_release(release, "train", data=data, hyperparameters=json.dumps(hyperparameters))
            artifact = posixpath.join(job["OutputDataConfig"]["S3OutputPath"].rstrip("/"), name, "output", "model.tar.gz")
            self._write(artifact, model)
            job.update(TrainingJobStatus="Completed", SecondaryStatus="Completed", ModelArtifacts={"S3ModelArtifacts": artifact})
        except Exception as err:  # noqa: BLE001 - any error ends the job Failed, as on SageMaker
            reason = f"AlgorithmError: {err}" if isinstance(err, xgboost_container.AlgorithmError) else f"ClientError: {err}"
            job.update(TrainingJobStatus="Failed", SecondaryStatus="Failed", FailureReason=reason)
        job["TrainingEndTime"] = job["LastModifiedTime"] = _now()
        job["TrainingTimeInSeconds"] = job["BillableTimeInSeconds"] = max(1, round(job["TrainingEndTime"] - job["TrainingStartTime"]))
        self._training_event(job)

    # -- models ---------------------------------------------------------------------------
    def op_CreateModel(self, request: dict) -> dict:  # noqa: N802
        name = request["ModelName"]
        arn = self.arn("model", name)
        with self._lock:
            if name in self.models:
                raise ApiError("ValidationException", f'Cannot create already existing model "{arn}".')
            self.models[name] = {**{k: v for k, v in request.items() if k != "Tags"}, "ModelArn": arn, "CreationTime": _now()}
            self.tags[arn] = request.get("Tags", [])
        return {"ModelArn": arn}

    def op_DescribeModel(self, request: dict) -> dict:  # noqa: N802
        model = self.models.get(request["ModelName"])
        if model is None:
            raise ApiError("ValidationException", f'Could not find model "{self.arn("model", request["ModelName"])}".')
        return dict(model)

    # -- batch transform ------------------------------------------------------------------
    def op_CreateTransformJob(self, request: dict) -> dict:  # noqa: N802
        name = request["TransformJobName"]
        arn = self.arn("transform-job", name)
        with self._lock:
            if name in self.transform_jobs:
                raise ApiError("ResourceInUse", f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})")
            if request["ModelName"] not in self.models:
                raise ApiError("ValidationException", f'Could not find model "{self.arn("model", request["ModelName"])}".')
            job = {
                **{k: v for k, v in request.items() if k != "Tags"},
                "TransformJobArn": arn,
                "TransformJobStatus": "InProgress",
                "CreationTime": _now(),
            }
            self.transform_jobs[name] = job
            self.tags[arn] = request.get("Tags", [])
        self._run(self._transform, name)
        return {"TransformJobArn": arn}

    def op_DescribeTransformJob(self, request: dict) -> dict:  # noqa: N802
        job = self.transform_jobs.get(request["TransformJobName"])
        if job is None:
            raise ApiError("ValidationException", f"Could not find job to describe: {request['TransformJobName']}")
        return dict(job)

    def _transform_event(self, job: dict) -> None:
        tags = {t["Key"]: t["Value"] for t in self.tags.get(job["TransformJobArn"], [])}
        self._emit("SageMaker Transform Job State Change", {**job, "Tags": tags}, job["TransformJobArn"])

    def _transform(self, name: str) -> None:
        job = self.transform_jobs[name]
        self._transform_event(job)
        job["TransformStartTime"] = _now()
        try:
            if self.faults.fail_transform:
                raise xgboost_container.AlgorithmError(self.faults.fail_transform)
            model = self.models[job["ModelName"]]["PrimaryContainer"]
            release = xgboost_container.release_of(self._image_version(model["Image"]))
            self.releases[name] = release
            transform_input = job["TransformInput"]
            if transform_input.get("ContentType") != "text/csv" or transform_input.get("SplitType") != "Line":
                raise xgboost_container.AlgorithmError("the offline transform supports ContentType text/csv with SplitType Line")
            bucket, _, key = model["ModelDataUrl"][len("s3://"):].partition("/")
            archive = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            in_process = release == xgboost_container.installed_release()
            booster = xgboost_container.load_model(archive) if in_process else None
            # Batch transform writes <S3OutputPath>/<input file name>.out, and only once the whole file succeeded.
            outputs = []
            for input_key, body in self._read_prefix(transform_input["DataSource"]["S3DataSource"]["S3Uri"]):
                out_uri = posixpath.join(job["TransformOutput"]["S3OutputPath"].rstrip("/"), posixpath.basename(input_key) + ".out")
                predictions = (xgboost_container.transform(booster, body) if in_process
                               else xgboost_container.run_in_release(release, "transform", data=body, model=archive))
                outputs.append((out_uri, predictions))
            for out_uri, predictions in outputs:
                self._write(out_uri, predictions)
            job["TransformJobStatus"] = "Completed"
        except Exception as err:  # noqa: BLE001
            job.update(TransformJobStatus="Failed", FailureReason=f"AlgorithmError: {err}")
        job["TransformEndTime"] = _now()
        self._transform_event(job)
