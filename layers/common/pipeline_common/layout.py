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
SCORE = "score/"  # uploads to predict with the dataset's approved model
SCORING = "scoring/"  # a scoring run's transform input and output
PREDICTIONS = "predictions/"
SPECS = "specs/"
PROCESSED = "processed/"
SPLIT = "splitData/"
MODELS = "models/"
INFERENCE_OUTPUT = "inference-output/"
EVALUATION = "evaluation/"
ERRORS = "errors/"
RUNS = "runs/"
CODE = "code/"  # the preprocess stage's code for Processing jobs, content-addressed

# The commit marker each stage writes last; the next stage is routed on it alone.
MANIFEST = "manifest.json"
TRANSFORM_OUTPUT_SUFFIX = ".out"
SPEC_SUFFIX = ".yaml"

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


def dataset_of_upload(key: str, default_dataset: str) -> str:
    """raw/<dataset>/<file>.csv (or score/<dataset>/...) belongs to <dataset>; a file directly under raw/ or
    score/ to the stack's default dataset."""
    prefix = next((p for p in (RAW, SCORE) if key.startswith(p)), None)
    if prefix is None:
        raise ValueError(f"{key!r} is not an upload under {RAW} or {SCORE}")
    head, sep, _ = key[len(prefix):].partition("/")
    return head if sep and head else default_dataset


def upload_key(dataset: str | None, file_name: str, prefix: str = RAW) -> str:
    """Where an upload of a dataset goes; None: the default dataset, directly under raw/ (or score/)."""
    return f"{prefix}{dataset}/{file_name}" if dataset else f"{prefix}{file_name}"


def spec_key(dataset: str) -> str:
    """The dataset's spec in the bucket: specs/<dataset>.yaml."""
    return f"{SPECS}{dataset}{SPEC_SUFFIX}"


def sagemaker_part(text: str, max_length: int) -> str:
    """A deterministic piece of a SageMaker name for any text (a dataset name): letters, digits and hyphens.

    When the text has to change to fit (case, characters, length), a short hash of the original is
    appended, so two datasets never map to the same name.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "dataset"
    if slug == text and len(slug) <= max_length:
        return slug
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{slug[:max_length - 7].strip('-')}-{digest}"


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


CHAMPION_SUFFIX = "-c"  # the champion's model and transform job of a training run


def champion_job_name(job_prefix: str, run_id: str) -> str:
    """The approved version's model and batch transform on this run's test rows, for the quality gate."""
    return job_name(job_prefix, run_id) + CHAMPION_SUFFIX


def model_package_group(job_prefix: str, dataset: str) -> str:
    """One model package group per dataset, named from the stack's prefix and the dataset (63 characters at most)."""
    return f"{job_prefix}-{sagemaker_part(dataset, 62 - len(job_prefix))}"


def endpoint_name(job_prefix: str, dataset: str) -> str:
    """The dataset's real-time endpoint (one per dataset; it moves to each newly approved version)."""
    return f"{job_prefix}-{sagemaker_part(dataset, 30)}"


def serving_name(job_prefix: str, dataset: str, version: int) -> str:
    """The model and endpoint configuration that serve one version on the dataset's endpoint."""
    return f"{endpoint_name(job_prefix, dataset)}-v{version}"


def version_of_serving_name(name: str) -> int:
    match = re.search(r"-v(\d+)$", name)
    if not match:
        raise ValueError(f"{name!r} is not a serving name (<endpoint>-v<version>)")
    return int(match[1])


RUN_ID_TAG = "mlpipe:run-id"  # on every training job, model and transform job of a run
RUN_KIND_TAG = "mlpipe:run-kind"  # "training" or "scoring": which function a transform job's end is routed to
TRAINING, SCORING_RUN = "training", "scoring"


def run_tags(run_id: str, kind: str = TRAINING) -> list[dict]:
    return [{"Key": RUN_ID_TAG, "Value": run_id}, {"Key": RUN_KIND_TAG, "Value": kind}]


def run_id_of_job(job_prefix: str, name: str, tags) -> str:
    """The run of a SageMaker job event: its run-id tag (EventBridge sends tags as a map), else its name."""
    tagged = tags.get(RUN_ID_TAG) if isinstance(tags, dict) else None
    return tagged or run_id_from_job_name(job_prefix, name)


def run_id_from_job_name(job_prefix: str, name: str) -> str:
    head = f"{job_prefix}-"
    rest = name[len(head):] if name.startswith(head) else ""
    rest = rest.removesuffix(CHAMPION_SUFFIX) if not is_run_id(rest) else rest
    if not is_run_id(rest):
        raise ValueError(f"{name!r} is not a job of prefix {job_prefix!r}")
    return rest


@dataclass(frozen=True)
class RunKeys:
    """Every key of one run."""

    run_id: str

    # preprocess: the profile, the split data and the fitted transform; the split manifest is written last
    @property
    def profile(self) -> str:
        return f"{PROCESSED}{self.run_id}/profile.json"

    # preprocess on a Processing job: what the job is asked to do, and the split manifest it hands back
    @property
    def processing_task(self) -> str:
        return f"{PROCESSED}{self.run_id}/processing/task.json"

    @property
    def processing_input(self) -> str:
        """The upload's version, copied for the job: a Processing input names a prefix, never a version."""
        return f"{PROCESSED}{self.run_id}/processing/input/input.csv"

    @property
    def staged_split_manifest(self) -> str:
        """The job's split manifest, which the function copies to ``split_manifest`` once every output is in place."""
        return f"{PROCESSED}{self.run_id}/processing/{MANIFEST}"

    def run_prefix(self, top: str) -> str:
        """<top>/<run_id>/: the part of the bucket a stage writes for this run."""
        return f"{top}{self.run_id}/"

    @property
    def train_prefix(self) -> str:
        return f"{SPLIT}{self.run_id}/train/"

    @property
    def test_prefix(self) -> str:
        return f"{SPLIT}{self.run_id}/test/"

    @property
    def labels_prefix(self) -> str:
        return f"{SPLIT}{self.run_id}/labels/"

    @property
    def champion_test_prefix(self) -> str:
        """The test rows encoded with the approved version's transform, for the champion's transform job."""
        return f"{SPLIT}{self.run_id}/champion/"

    def champion_test_part(self, index: int) -> str:
        return f"{self.champion_test_prefix}{part_name(index)}"

    def train_part(self, index: int) -> str:
        return f"{self.train_prefix}{part_name(index)}"

    def test_part(self, index: int) -> str:
        return f"{self.test_prefix}{part_name(index)}"

    def labels_part(self, index: int) -> str:
        return f"{self.labels_prefix}{part_name(index)}"

    @property
    def split_manifest(self) -> str:
        return f"{SPLIT}{self.run_id}/{MANIFEST}"

    # what a model version needs besides its artifact: kept under models/, which does not expire
    @property
    def frozen_spec(self) -> str:
        return f"{MODELS}{self.run_id}/spec.json"

    @property
    def transform(self) -> str:
        return f"{MODELS}{self.run_id}/transform.json"

    # train / infer
    @property
    def model_output_prefix(self) -> str:
        return f"{MODELS}{self.run_id}/"

    @property
    def transform_output_prefix(self) -> str:
        return f"{INFERENCE_OUTPUT}{self.run_id}/"

    def transform_output(self, index: int) -> str:
        """Batch transform writes <S3OutputPath>/<input file name>.out."""
        return f"{self.transform_output_prefix}{part_name(index)}{TRANSFORM_OUTPUT_SUFFIX}"

    @property
    def champion_output_prefix(self) -> str:
        return f"{INFERENCE_OUTPUT}{self.run_id}/champion/"

    def champion_output(self, index: int) -> str:
        return f"{self.champion_output_prefix}{part_name(index)}{TRANSFORM_OUTPUT_SUFFIX}"

    # scoring runs: the upload's rows encoded with the approved version's transform, and the transform's answers
    @property
    def scoring_input_prefix(self) -> str:
        return f"{SCORING}{self.run_id}/input/"

    def scoring_input(self, index: int) -> str:
        return f"{self.scoring_input_prefix}{part_name(index)}"

    @property
    def scoring_output_prefix(self) -> str:
        return f"{SCORING}{self.run_id}/output/"

    def scoring_output(self, index: int) -> str:
        return f"{self.scoring_output_prefix}{part_name(index)}{TRANSFORM_OUTPUT_SUFFIX}"

    @property
    def scoring_manifest(self) -> str:
        return f"{SCORING}{self.run_id}/{MANIFEST}"

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


def predictions_key(dataset: str, run_id: str, file_name: str) -> str:
    """predictions/<dataset>/<run>/<file>.csv: the scored file with a prediction per row."""
    return f"{PREDICTIONS}{dataset}/{run_id}/{file_name}"


def predictions_manifest(dataset: str, run_id: str) -> str:
    return f"{PREDICTIONS}{dataset}/{run_id}/{MANIFEST}"


def part_name(index: int) -> str:
    return f"part-{index:05d}.csv"


def part_index(key: str) -> int:
    """The index of a part file (or of its transform output, part-00003.csv.out -> 3)."""
    match = re.search(r"part-(\d{5})\.csv(?:\.out)?$", key)
    if not match:
        raise ValueError(f"{key!r} is not a part file")
    return int(match[1])


def job_code_key(stage: str, digest: str) -> str:
    """A stage's code as a Processing job runs it: code/<stage>-<digest>.tar.gz, written once per code version."""
    return f"{CODE}{stage}-{digest}.tar.gz"


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
