"""Follow one run through the chain by its status record (runs/<run>/status.json).

The record is written by the functions themselves, so following a run reads the same
object on AWS and offline, and the display does not depend on where the run happens.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import ClientError

from pipeline_common import layout, runs

# What each stage's status entry says worth a line, besides its timing.
def _where(entry: dict, noun: str = "instance") -> str:
    """Where a stage ran: the Processing job, or how many instances of which type."""
    if entry.get("path") == "processing":
        return f" on Processing job {entry.get('processing_job', '?')} ({entry.get('instance_type', '?')})"
    count = entry.get("instance_count")
    return f" on {count} {entry.get('instance_type', '')} {noun}{'s' if count != 1 else ''}" if count else ""


def _parts(entry: dict) -> str:
    return f", {entry['train_parts']} + {entry['test_parts']} parts" if entry.get("train_parts", 1) > 1 or entry.get("test_parts", 1) > 1 else ""


STAGE_DETAILS = {
    "preprocess": lambda e: ((f"{e['rows']} rows, {e.get('problem_type')}: {e['n_train']} train / {e['n_test']} test"
                              + (f", {e['warnings']} warning(s)" if e.get("warnings") else "") + _parts(e)) if "n_train" in e else "")
                            + _where(e),
    "train": lambda e: (f"training job {e.get('training_job', '?')}" + _where(e)
                        + (f", {e['billable_seconds']} s billed" if e.get("billable_seconds") else "")),
    "infer": lambda e: (f"model and transform job {e.get('transform_job', '?')}" + _where(e)
                        + (", and the champion's on the same rows" if len(e.get("transform_jobs") or []) > 1 else "")),
    "evaluate": lambda e: (f"model version {e['model_version']}: {e['verdict']}" if "model_version" in e else ""),
    "score": lambda e: f"{e['rows']} rows, model version {e['model_version']}" if "rows" in e else "",
    "transform": lambda e: f"transform job {e.get('transform_job', '?')}",
    "predictions": lambda e: e.get("predictions", ""),
}


@dataclass
class Step:
    stage: str
    text: str
    at: float


@dataclass
class RunOutcome:
    run_id: str
    succeeded: bool = False
    status: dict | None = None
    metrics: dict | None = None
    error: dict | None = None
    steps: list[Step] = field(default_factory=list)
    reason: str = ""
    warnings: list[dict] = field(default_factory=list)  # the data warnings of the run's profile


def read_json(s3, bucket: str, key: str) -> dict | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


class RunFollower:
    def __init__(self, s3, bucket: str, run_id: str, on_step: Callable[[Step], None] | None = None):
        self.s3, self.bucket, self.run_id = s3, bucket, run_id
        self.keys = layout.RunKeys(run_id)
        self._on_step = on_step or (lambda step: None)
        self._seen: set[tuple[str, str]] = set()
        self._started = time.monotonic()
        self.outcome = RunOutcome(run_id)

    def _step(self, stage: str, event: str, text: str) -> None:
        if (stage, event) in self._seen:
            return
        self._seen.add((stage, event))
        step = Step(stage, text, time.monotonic() - self._started)
        self.outcome.steps.append(step)
        self._on_step(step)

    def poll(self) -> bool:
        """Look once; True when the run has ended (succeeded or failed)."""
        status = read_json(self.s3, self.bucket, self.keys.status)
        if status is None:
            return False
        self.outcome.status = status
        for stage in runs.stages_of(status):
            entry = status["stages"].get(stage)
            if not entry:
                continue
            detail = STAGE_DETAILS[stage](entry)
            self._step(stage, "started", "started" + (f": {detail}" if detail and entry.get("status") == runs.RUNNING else ""))
            if entry.get("status") == runs.SUCCEEDED:
                self._step(stage, "done", f"done in {entry['seconds']:.2f}s" + (f": {detail}" if detail else ""))
            elif entry.get("status") == runs.FAILED:
                self._step(stage, "failed", f"FAILED after {entry.get('seconds', 0):.2f}s")
        if status["status"] in (runs.SUCCEEDED, runs.FAILED):
            profile = read_json(self.s3, self.bucket, self.keys.profile) or {}
            self.outcome.warnings = profile.get("warnings", [])
        if status["status"] == runs.SUCCEEDED:
            self.outcome.succeeded = True
            self.outcome.metrics = read_json(self.s3, self.bucket, self.keys.metrics) if status.get("kind", "training") == "training" else None
            return True
        if status["status"] == runs.FAILED:
            failure = status.get("failure") or {}
            self.outcome.error = read_json(self.s3, self.bucket, self.keys.error)
            self.outcome.reason = f"{failure.get('stage', '?')}: {failure.get('reason', 'no reason recorded')}"
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


def idle_check(cloud, why: str) -> Callable[[], str | None]:
    """For an offline run: why nothing more will happen, once the cloud stays idle (no event queued, no job running)."""
    def stalled() -> str | None:
        if not cloud.is_idle():
            return None
        time.sleep(0.3)
        return why if cloud.is_idle() else None

    return stalled
