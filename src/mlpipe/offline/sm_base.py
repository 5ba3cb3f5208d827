"""What every part of the offline SageMaker shares: errors, state, events, S3 access, fault injection."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
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


def now() -> float:
    return time.time()


def event_time(value):
    # API answers carry epoch seconds; EventBridge details carry epoch milliseconds.
    return int(value * 1000) if isinstance(value, float) else value


# The resources the offline SageMaker keeps, saved to MLPIPE_HOME between commands.
STATE_TABLES = ("training_jobs", "models", "transform_jobs", "tags", "releases", "model_package_groups", "model_packages",
                "client_tokens", "endpoint_configs", "endpoints")


class SageMakerBase:
    def __init__(self, s3_client, events_client, region: str, faults: Faults | None = None):
        self.s3 = s3_client
        self.events = events_client
        self.region = region
        self.faults = faults or Faults()
        for table in STATE_TABLES:
            setattr(self, table, {})
        self.calls: list[str] = []
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{ACCOUNT_ID}:{kind}/{name.lower()}"

    def emit(self, detail_type: str, detail: dict, arn: str) -> None:
        detail = {k: event_time(v) for k, v in detail.items()}
        self.events.put_events(
            Entries=[{"Source": "aws.sagemaker", "DetailType": detail_type, "Detail": json.dumps(detail, default=str), "Resources": [arn]}]
        )

    def tags_of(self, arn: str) -> dict[str, str]:
        """Tags as EventBridge sends them: a map."""
        return {t["Key"]: t["Value"] for t in self.tags.get(arn, [])}

    def run_in_background(self, target: Callable, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def read_prefix(self, uri: str) -> list[tuple[str, bytes]]:
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
        if not keys:
            raise xgboost_container.AlgorithmError(f"no data found under {uri}")
        return [(key, self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in sorted(keys)]

    def read_object(self, uri: str) -> bytes:
        bucket, _, key = uri[len("s3://"):].partition("/")
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def write(self, uri: str, body: bytes) -> None:
        bucket, _, key = uri[len("s3://"):].partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    @staticmethod
    def image_version(image: str) -> str:
        repository, _, tag = image.rpartition("/")[2].partition(":")
        if repository != "sagemaker-xgboost":
            raise xgboost_container.AlgorithmError(f"the offline SageMaker runs only the built-in XGBoost image, not {image}")
        return tag

    def predictor(self, container: dict, realtime: bool = False) -> Callable[[bytes], bytes]:
        """Predict CSV records with a model container (image and artifact), in this process or with its xgboost release;
        encoded as batch transform writes them, or as the real-time endpoint answers."""
        release = xgboost_container.release_of(self.image_version(container["Image"]))
        archive = self.read_object(container["ModelDataUrl"])
        command = "serve" if realtime else "transform"
        if release == xgboost_container.installed_release():
            booster = xgboost_container.load_model(archive)
            return lambda records: xgboost_container.transform(booster, records, realtime=realtime)
        return lambda records: xgboost_container.run_in_release(release, command, data=records, model=archive)
