"""Follow one run through the chain by what it leaves in the bucket and in SageMaker.

It reads the same things on AWS and offline (commit markers, job descriptions, the
metrics and error records), so the display does not depend on where the run happens.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import ClientError

from pipeline_common import layout


@dataclass
class Step:
    stage: str
    text: str
    at: float


@dataclass
class RunOutcome:
    run_id: str
    succeeded: bool
    metrics: dict | None = None
    error: dict | None = None
    steps: list[Step] = field(default_factory=list)
    reason: str = ""


class RunFollower:
    def __init__(self, s3, sagemaker, bucket: str, job_prefix: str, run_id: str, on_step: Callable[[Step], None] | None = None):
        self.s3, self.sagemaker, self.bucket = s3, sagemaker, bucket
        self.run_id = run_id
        self.keys = layout.RunKeys(run_id)
        self.job_name = layout.job_name(job_prefix, run_id)
        self._on_step = on_step or (lambda step: None)
        self._seen: set[str] = set()
        self._started = time.monotonic()
        self.outcome = RunOutcome(run_id, False)

    def _json(self, key: str) -> dict | None:
        try:
            return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
                return None
            raise

    def _job(self, describe: Callable, **name) -> dict | None:
        try:
            return describe(**name)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFound"):
                return None
            raise

    def _step(self, key: str, stage: str, text: str) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        step = Step(stage, text, time.monotonic() - self._started)
        self.outcome.steps.append(step)
        self._on_step(step)

    def poll(self) -> bool:
        """Look once; True when the run has ended (evaluated, rejected or failed)."""
        error = self._json(self.keys.error)
        if error is not None:
            self.outcome.error = error
            self.outcome.reason = f"{error.get('stage', '?')}: {error.get('reason', 'failed')}"
            self._step("error", error.get("stage", "?"), f"FAILED: {error.get('reason')}")
            return True
        if "processed" not in self._seen and (m := self._json(self.keys.processed_manifest)):
            self._step("processed", "preprocess", f"{m['rows']} rows -> {layout.PROCESSED}{self.run_id}/")
        if "split" not in self._seen and (m := self._json(self.keys.split_manifest)):
            self._step("split", "split", f"{m['n_train']} train / {m['n_test']} test rows -> {layout.SPLIT}{self.run_id}/")
        if "split" in self._seen and "training-done" not in self._seen:
            job = self._job(self.sagemaker.describe_training_job, TrainingJobName=self.job_name)
            if job:
                self._step("training-started", "train", f"training job {self.job_name} {job['TrainingJobStatus']}")
                if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                    detail = job.get("FailureReason") or job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
                    self._step("training-done", "train", f"training job {job['TrainingJobStatus']}: {detail}")
                    if job["TrainingJobStatus"] != "Completed":
                        self.outcome.reason = f"train: {job.get('FailureReason', job['TrainingJobStatus'])}"
                        return True
        if "training-done" in self._seen and "transform-done" not in self._seen:
            job = self._job(self.sagemaker.describe_transform_job, TransformJobName=self.job_name)
            if job:
                self._step("transform-started", "infer", f"transform job {self.job_name} {job['TransformJobStatus']}")
                if job["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
                    detail = job.get("FailureReason") or job["TransformOutput"]["S3OutputPath"]
                    self._step("transform-done", "infer", f"transform job {job['TransformJobStatus']}: {detail}")
                    if job["TransformJobStatus"] != "Completed":
                        self.outcome.reason = f"infer: {job.get('FailureReason', job['TransformJobStatus'])}"
                        return True
        metrics = self._json(self.keys.metrics)
        if metrics is not None:
            self._step("evaluated", "evaluate", f"accuracy {metrics['accuracy']:.4f} -> {self.keys.metrics}")
            self.outcome.metrics = metrics
            self.outcome.succeeded = True
            return True
        return False

    def follow(self, timeout: float, interval: float = 0.1, stalled: Callable[[], str | None] | None = None) -> RunOutcome:
        """Poll until the run ends, ``timeout`` passes, or ``stalled()`` returns why nothing more will happen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll():
                return self.outcome
            if stalled and (why := stalled()):
                if not self.poll():  # one last look: the end may have landed while we asked
                    self.outcome.reason = why
                return self.outcome
            time.sleep(interval)
        self.outcome.reason = f"the run did not end within {timeout:.0f} s"
        return self.outcome
