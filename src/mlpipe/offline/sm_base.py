"""What every part of the offline SageMaker shares: errors, state, events, S3 access, fault injection."""

from __future__ import annotations

import json
import posixpath
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipeline_common.s3_streams import get_file

from .containers import AlgorithmError, Containers, image_name
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
    fail_processing: str | None = None
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
STATE_TABLES = ("training_jobs", "models", "transform_jobs", "processing_jobs", "tags", "releases", "model_package_groups", "model_packages",
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
        self.processing_logs: dict[str, str] = {}  # the container's output, as CloudWatch would hold it
        self.processing_peaks: dict[str, int] = {}  # the container process's peak resident bytes
        self.containers = Containers()
        self._models_on_disk: dict[str, str] = {}
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

    def keys_under(self, uri: str) -> list[str]:
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
        if not keys:
            raise AlgorithmError(f"no data found under {uri}")
        return sorted(keys)

    def download_prefix(self, uri: str, folder: Path) -> list[tuple[str, Path]]:
        """Every object under an S3 prefix into a folder, keeping the key's path below the prefix (S3Prefix, file mode);
        a prefix that is a whole key gives that object under its own name."""
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        found = []
        for key in self.keys_under(uri):
            target = folder / (key[len(prefix):].lstrip("/") or posixpath.basename(key))
            target.parent.mkdir(parents=True, exist_ok=True)
            get_file(self.s3, bucket, key, target)  # one GET: moto reads a whole object for each ranged GET download_file sends
            found.append((key, target))
        return found

    def read_object(self, uri: str) -> bytes:
        bucket, _, key = uri[len("s3://"):].partition("/")
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def write(self, uri: str, body: bytes) -> None:
        bucket, _, key = uri[len("s3://"):].partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def predictor(self, container: dict) -> Callable[[bytes], bytes]:
        """Predict CSV records with a model container, as a real-time endpoint answers (in its image's process)."""
        image = image_name(container["Image"])
        with self._lock:
            path = self._models_on_disk.get(container["ModelDataUrl"])
            if path is None:
                handle = tempfile.NamedTemporaryFile(prefix="sagemaker-model-", suffix=".tar.gz", delete=False)
                handle.write(self.read_object(container["ModelDataUrl"]))
                handle.close()
                path = self._models_on_disk[container["ModelDataUrl"]] = handle.name
        return lambda records: self.containers.call(image, command="invoke", model=path, body=records.decode())["body"].encode()

    def stop_containers(self) -> None:
        self.containers.stop()
        for path in self._models_on_disk.values():
            Path(path).unlink(missing_ok=True)
