"""The one place that knows the bucket's key layout, run ids and SageMaker job names.

Every object of a run lives under ``<prefix>/<run_id>/``; nothing is written to a fixed,
shared key. Routes in ``template.yaml`` filter on the prefixes and marker names below,
and ``tests/unit/test_layout.py`` checks the template against them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

RAW = "raw/"
PROCESSED = "processed/"
SPLIT = "splitData/"
MODELS = "models/"
INFERENCE_OUTPUT = "inference-output/"
EVALUATION = "evaluation/"
ERRORS = "errors/"
RUNS = "runs/"

# The commit marker each stage writes last; the next stage is routed on it alone.
MANIFEST = "manifest.json"
TRANSFORM_INPUT_NAME = "test_features.csv"
TRANSFORM_OUTPUT_SUFFIX = ".out"

_SLUG_MAX = 24
_HASH_LEN = 10
# SageMaker names: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
_JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_RUN_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,%d}[a-z0-9])?-[0-9a-f]{%d}$" % (_SLUG_MAX - 2, _HASH_LEN))


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:_SLUG_MAX].strip("-") or "data"


def run_id_for_upload(key: str, version_id: str | None, sequencer: str | None) -> str:
    """A run id derived from one upload: the same event twice gives the same id, two uploads never share one.

    With bucket versioning the version id is unique per upload; without it, S3's
    sequencer orders writes to a key and differs between two uploads of the same key.
    """
    identity = version_id if version_id and version_id != "null" else sequencer
    if not identity:
        raise ValueError(f"cannot derive a run id for {key!r}: the event has neither a version id nor a sequencer")
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    digest = hashlib.sha256(f"{key}\0{identity}".encode()).hexdigest()[:_HASH_LEN]
    return f"{_slug(stem)}-{digest}"


def is_run_id(text: str) -> bool:
    return bool(_RUN_ID_RE.match(text))


def run_id_from_key(key: str) -> str:
    """The run id of an object written by the chain: the path segment after the stage prefix."""
    parts = key.split("/")
    if len(parts) < 3 or not is_run_id(parts[1]):
        raise ValueError(f"{key!r} is not under <prefix>/<run_id>/")
    return parts[1]


def job_name(job_prefix: str, run_id: str) -> str:
    """The training job, model and transform job of a run share one name (separate SageMaker namespaces)."""
    name = f"{job_prefix}-{run_id}"
    if not _JOB_NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a valid SageMaker name (63 characters, letters, digits and hyphens)")
    return name


RUN_ID_TAG = "mlpipe:run-id"  # on every training job, model and transform job of a run


def run_tags(run_id: str) -> list[dict]:
    return [{"Key": RUN_ID_TAG, "Value": run_id}]


def run_id_of_job(job_prefix: str, name: str, tags) -> str:
    """The run of a SageMaker job event: its run-id tag (EventBridge sends tags as a map), else its name."""
    tagged = tags.get(RUN_ID_TAG) if isinstance(tags, dict) else None
    return tagged or run_id_from_job_name(job_prefix, name)


def run_id_from_job_name(job_prefix: str, name: str) -> str:
    head = f"{job_prefix}-"
    if not name.startswith(head) or not is_run_id(name[len(head):]):
        raise ValueError(f"{name!r} is not a job of prefix {job_prefix!r}")
    return name[len(head):]


@dataclass(frozen=True)
class RunKeys:
    """Every key of one run."""

    run_id: str

    # preprocess
    @property
    def processed_table(self) -> str:
        return f"{PROCESSED}{self.run_id}/processed.csv"

    @property
    def processed_profile(self) -> str:
        return f"{PROCESSED}{self.run_id}/profile.json"

    @property
    def processed_manifest(self) -> str:
        return f"{PROCESSED}{self.run_id}/{MANIFEST}"

    # split
    @property
    def train_prefix(self) -> str:
        return f"{SPLIT}{self.run_id}/train/"

    @property
    def train_data(self) -> str:
        return f"{self.train_prefix}train.csv"

    @property
    def test_prefix(self) -> str:
        return f"{SPLIT}{self.run_id}/test/"

    @property
    def test_features(self) -> str:
        return f"{self.test_prefix}{TRANSFORM_INPUT_NAME}"

    @property
    def test_labels(self) -> str:
        return f"{SPLIT}{self.run_id}/labels/test_labels.csv"

    @property
    def split_manifest(self) -> str:
        return f"{SPLIT}{self.run_id}/{MANIFEST}"

    # train / infer
    @property
    def model_output_prefix(self) -> str:
        return f"{MODELS}{self.run_id}/"

    @property
    def transform_output_prefix(self) -> str:
        return f"{INFERENCE_OUTPUT}{self.run_id}/"

    @property
    def transform_output(self) -> str:
        return f"{self.transform_output_prefix}{TRANSFORM_INPUT_NAME}{TRANSFORM_OUTPUT_SUFFIX}"

    # evaluate
    @property
    def metrics(self) -> str:
        return f"{EVALUATION}{self.run_id}/metrics.json"

    @property
    def predictions(self) -> str:
        return f"{EVALUATION}{self.run_id}/predictions.csv"

    @property
    def report(self) -> str:
        return f"{EVALUATION}{self.run_id}/report.html"

    # run records
    @property
    def error(self) -> str:
        return f"{ERRORS}{self.run_id}/error.json"

    @property
    def status(self) -> str:
        return f"{RUNS}{self.run_id}/status.json"


def model_artifact_key(run_id: str, training_job_name: str) -> str:
    """Where SageMaker writes the model: ``<S3OutputPath>/<TrainingJobName>/output/model.tar.gz``."""
    return f"{RunKeys(run_id).model_output_prefix}{training_job_name}/output/model.tar.gz"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key
