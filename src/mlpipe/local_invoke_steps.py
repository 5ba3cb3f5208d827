"""The steps of `make local-invoke`: for each sample event of events/, what it needs in the offline cloud
(``seed_*``: an upload, or a job that has ended) and what its function must have done there (``check_*``:
read its input, wrote its outputs, started its job), and the order they run in (``plan``).

The runner is ``local_invoke.py``; a step sees its ``Session`` (the offline cloud and its clients) and a
``Check`` that collects what was found done and what was missing.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import unquote

from pipeline_common import layout
from pipeline_common.transform_jobs import TransformSettings, transform_request

from . import event_cmd

if TYPE_CHECKING:
    from .local_invoke import Check, Session

DATA = Path(__file__).resolve().parents[2] / "data" / "titanic.csv"


class SeedError(RuntimeError):
    """The offline cloud could not be given what an event refers to."""


def trimmed(value, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + " …"


# -- the steps: what each event needs in the cloud, and what its function must have done ----------------------------------
@dataclass(frozen=True)
class Step:
    event: str
    seed: Callable[[Session], dict]  # puts what the event refers to; returns event_cmd.build's arguments
    check: Callable[[Session, Check, dict, dict], None]  # (session, check, answer, event)
    needs: tuple[str, ...] = ()

    @property
    def function(self) -> str:
        return event_cmd.EVENTS[self.event]


def _status(s: Session, c: Check, run_id: str, expect: Callable[[dict], bool], text: str) -> dict | None:
    status = s.json(layout.RunKeys(run_id).status)
    c.need(status is not None and expect(status), f"runs/{run_id}/status.json: {text}"
           + ("" if status is None or expect(status) else f" (is: status {status['status']}, stage {status.get('stage')})"))
    return status


def _stage(status: dict, stage: str) -> dict:
    return (status.get("stages") or {}).get(stage) or {}


def _object(s: Session, c: Check, key: str, what: str = "wrote") -> dict | None:
    head = s.head(key)
    c.need(head is not None, f"{what} {key}" + (f" ({head['ContentLength']} bytes)" if head else ""))
    return head


def _upload(s: Session, key: str, body: bytes) -> dict:
    s.put(key, body)
    return {"key": key}


def seed_preprocess(s: Session) -> dict:
    return _upload(s, "raw/titanic.csv", DATA.read_bytes())


def check_preprocess(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = answer.get("run_id", "?")
    obj = event["detail"]["object"]
    c.need(answer.get("status") == "done", f"answer status done, {answer.get('rows')} rows: {answer.get('n_train')} train / "
                                           f"{answer.get('n_test')} test")
    keys = layout.RunKeys(run_id)
    manifest = s.json(keys.split_manifest)
    if c.need(manifest is not None, f"wrote the split manifest {keys.split_manifest}"):
        files = manifest.get("files", {})
        present = [entry for entry in files.values() if (s.head(entry["key"]) or {}).get("ContentLength") == entry["bytes"]]
        c.need(files and len(present) == len(files), f"wrote the {len(files)} data files it names ({', '.join(files)}), sizes as named")
    for key in (keys.frozen_spec, keys.transform, keys.profile):
        _object(s, c, key)
    status = _status(s, c, run_id, lambda doc: _stage(doc, "preprocess").get("status") == "succeeded", "stage preprocess succeeded")
    source = (status or {}).get("source") or {}
    c.need(source.get("key") == unquote(obj["key"]) and source.get("version_id") == obj.get("version-id"),
           f"read {unquote(obj['key'])} version {obj.get('version-id')}")
    if not c.missing:
        s.state["run"] = run_id  # the run the next events are about


def seed_train(s: Session) -> dict:
    return {"key": layout.RunKeys(s.state["run"]).split_manifest}


def check_train(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = s.state["run"]
    name = layout.job_name(s.prefix, run_id)
    c.need(answer.get("status") == "started" and answer.get("training_job") == name, f"answer: training job {name} started")
    job = s.describe("training_job", name)
    if c.need(job is not None, f"started SageMaker training job {name}"):
        channel = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        c.need(channel == f"s3://{s.bucket}/{layout.RunKeys(run_id).train_prefix}", f"its train channel is the run's split data ({channel})")
    _status(s, c, run_id, lambda doc: _stage(doc, "train").get("training_job") == name, f"stage train names {name}")
    s.state["training_job"] = name


def seed_infer(s: Session) -> dict:
    s.wait_job("training_job", s.state["training_job"])
    return {"job": s.state["training_job"]}


def check_infer(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id, name = s.state["run"], s.state["training_job"]
    c.need(answer.get("status") == "started" and answer.get("transform_job") == name, f"answer: transform job {name} started")
    artifact = event["detail"]["ModelArtifacts"]["S3ModelArtifacts"]
    model = s.describe("model", name)
    c.need(model is not None and model["PrimaryContainer"]["ModelDataUrl"] == artifact, f"created model {name} from {artifact}")
    job = s.describe("transform_job", name)
    if c.need(job is not None, f"started SageMaker transform job {name}"):
        source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        c.need(source == f"s3://{s.bucket}/{layout.RunKeys(run_id).test_prefix}", f"on the run's test rows ({source})")
    _status(s, c, run_id, lambda doc: _stage(doc, "train").get("status") == "succeeded" and name in (_stage(doc, "infer").get("transform_jobs") or []),
            "stage train succeeded, stage infer names the transform job")
    s.state["transform_job"] = name


def seed_evaluate(s: Session) -> dict:
    status = s.json(layout.RunKeys(s.state["run"]).status) or {}
    for name in _stage(status, "infer").get("transform_jobs") or [s.state["transform_job"]]:
        s.wait_job("transform_job", name)
    return {"job": s.state["transform_job"]}


def check_evaluate(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = s.state["run"]
    keys = layout.RunKeys(run_id)
    c.need(answer.get("status") == "done" and answer.get("model_version"),
           f"answer: evaluated, verdict {answer.get('verdict')}, model version {answer.get('model_version')}")
    metrics = s.json(keys.metrics) or {}
    c.need(metrics.get("run_id") == run_id, f"wrote {keys.metrics} (accuracy {metrics.get('accuracy')}, roc_auc {metrics.get('roc_auc')})")
    answers = len((s.read(keys.transform_output(0)) or b"").splitlines())
    c.need(answers and metrics.get("n_test") == answers, f"read the transform's {answers} answers (metrics on n_test {metrics.get('n_test')})")
    for key in (keys.report, keys.predictions):
        _object(s, c, key)
    package = (metrics.get("model_package") or {}).get("arn")
    described = s.sagemaker.describe_model_package(ModelPackageName=package) if package else None
    c.need(described is not None and described["ModelApprovalStatus"] == answer.get("verdict"),
           f"registered model version {package} ({(described or {}).get('ModelApprovalStatus')})")
    _status(s, c, run_id, lambda doc: doc["status"] == "succeeded", "run succeeded")
    s.state["dataset"], s.state["version"] = metrics.get("dataset"), answer.get("model_version")


def seed_approval(s: Session) -> dict:
    return {"dataset": s.state["dataset"], "version": s.state["version"]}


def check_approval(s: Session, c: Check, answer: dict, event: dict) -> None:
    dataset, version = s.state["dataset"], s.state["version"]
    c.need(answer.get("status") == "Approved" and answer.get("version") == version, f"answer: version {version} Approved")
    name = layout.endpoint_name(s.prefix, dataset)
    endpoint = s.describe("endpoint", name)
    serving = layout.serving_name(s.prefix, dataset, version)
    c.need(endpoint is not None and endpoint["EndpointConfigName"] == serving,
           f"created endpoint {name} serving {serving} ({answer.get('change')})")
    _status(s, c, s.state["run"], lambda doc: (doc.get("gate") or {}).get("status") == "Approved" and (doc.get("gate") or {}).get("decided_at"),
            "gate Approved, with the time it was recorded")


def seed_predict(s: Session) -> dict:
    name = layout.endpoint_name(s.prefix, s.state["dataset"])
    deadline = time.monotonic() + 30
    while (s.describe("endpoint", name) or {}).get("EndpointStatus") != "InService":
        if time.monotonic() > deadline:
            raise SeedError(f"endpoint {name} is not InService")
        time.sleep(0.1)
    return {"dataset": s.state["dataset"]}


def check_predict(s: Session, c: Check, answer: dict, event: dict) -> None:
    rows = json.loads(event["body"])["rows"]
    c.need(answer.get("statusCode") == 200, f"answer: HTTP {answer.get('statusCode')}")
    body = json.loads(answer.get("body") or "{}")
    predictions = body.get("predictions") or []
    c.need(len(predictions) == len(rows) and all("probability" in p and "prediction" in p for p in predictions),
           f"{len(predictions)} predictions for {len(rows)} rows from the endpoint: "
           + ", ".join(f"{p.get('prediction')} ({p.get('probability', 0):.3f})" for p in predictions))
    c.need(body.get("model_version") == s.state["version"], f"by model version {body.get('model_version')}")


def passengers(count: int = 20) -> bytes:
    """The first rows of the Titanic file without the target, as someone would send them to be scored."""
    rows = list(csv.reader(io.StringIO(DATA.read_text())))
    keep = [i for i, name in enumerate(rows[0]) if name != "Survived"]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[row[i] for i in keep] for row in rows[:count + 1]])
    return out.getvalue().encode()


def seed_score(s: Session) -> dict:
    return _upload(s, f"score/{s.state['dataset']}/passengers.csv", passengers())


def check_score(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = answer.get("run_id", "?")
    keys = layout.RunKeys(run_id)
    c.need(answer.get("status") == "started" and answer.get("rows") == 20, f"answer: scoring started, {answer.get('rows')} rows")
    _object(s, c, keys.scoring_input(0))
    _object(s, c, keys.scoring_manifest)
    name = layout.job_name(s.prefix, run_id)
    job = s.describe("transform_job", name)
    c.need(job is not None and job["TransformOutput"]["S3OutputPath"].endswith(keys.scoring_output_prefix),
           f"started SageMaker transform job {name}")
    _status(s, c, run_id, lambda doc: doc.get("kind") == "scoring" and _stage(doc, "transform").get("transform_job") == name,
            "a scoring run at stage transform")
    s.state["scoring_run"], s.state["scoring_job"] = run_id, name


def seed_score_transform(s: Session) -> dict:
    s.wait_job("transform_job", s.state["scoring_job"])
    return {"job": s.state["scoring_job"]}


def check_score_transform(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = s.state["scoring_run"]
    key = answer.get("predictions") or "?"
    c.need(answer.get("status") == "done", f"answer: {answer.get('rows')} rows predicted")
    answers = len((s.read(layout.RunKeys(run_id).scoring_output(0)) or b"").splitlines())
    lines = (s.read(key) or b"").decode().splitlines()
    c.need(lines and lines[0].endswith(",prediction,probability") and len(lines) - 1 == answers == 20,
           f"read the transform's {answers} answers, wrote {key} ({len(lines) - 1} rows, prediction and probability added)")
    _object(s, c, layout.predictions_manifest(s.state["dataset"], run_id))
    _status(s, c, run_id, lambda doc: doc["status"] == "succeeded", "scoring run succeeded")


def _failed_run(s: Session, c: Check, run_id: str, stage: str, reason_has: str) -> None:
    """A failure recorded as runs.fail records it: the error record, the run's status, one notification."""
    error = s.json(layout.RunKeys(run_id).error)
    c.need(error is not None and error.get("stage") == stage and reason_has in error.get("reason", ""),
           f"wrote errors/{run_id}/error.json: stage {stage}, reason {trimmed((error or {}).get('reason', '?'), 120)}")
    _status(s, c, run_id, lambda doc: doc["status"] == "failed" and (doc.get("failure") or {}).get("notified_at"),
            f"run failed at {stage}, notified")
    c.need(s.notified(run_id) is not None, f"published the failure of {run_id} to the notification topic")


def _job_failed(seeded: str, stage: str):
    """The check of a failed job's state change: the run seeded under ``seeded`` failed at ``stage``, for the job's reason."""
    def check(s: Session, c: Check, answer: dict, event: dict) -> None:
        run_id = s.state[seeded]
        c.need(answer.get("status") == "failed" and answer.get("stage") == stage, f"answer: run {run_id} failed at {stage}")
        _failed_run(s, c, run_id, stage, event["detail"]["FailureReason"])

    return check


check_training_failed = _job_failed("broken_training", "train")
check_transform_failed = _job_failed("broken_transform", "infer")


def _new_run_id(slug: str) -> str:
    return f"{slug}-{uuid.uuid4().hex[:10]}"


def seed_training_failed(s: Session) -> dict:
    """A training job of another run that fails in XGBoost: its labels are not 0 or 1 for binary:logistic."""
    run_id = _new_run_id("broken-labels")
    keys = layout.RunKeys(run_id)
    s.put(keys.train_part(0), b"2,1.0,3.0\n3,0.5,1.0\n2,0.1,0.2\n")
    env = s.function_spec("TrainFunction").environment
    name = layout.job_name(s.prefix, run_id)
    s.sagemaker.create_training_job(
        TrainingJobName=name, RoleArn=env["SAGEMAKER_ROLE_ARN"], HyperParameters={"objective": "binary:logistic", "num_round": "5"},
        AlgorithmSpecification={"TrainingImage": env["TRAINING_IMAGE"], "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{s.bucket}/{keys.train_prefix}", "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{s.bucket}/{keys.model_output_prefix}"},
        ResourceConfig={"InstanceType": env["TRAINING_INSTANCE_TYPE"], "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600}, Tags=layout.run_tags(run_id))
    s.wait_job("training_job", name, want="Failed")
    s.state["broken_training"] = run_id
    return {"job": name}


def seed_transform_failed(s: Session) -> dict:
    """A training run's transform job that fails: its model's artifact was never written."""
    run_id = _new_run_id("lost-model")
    keys = layout.RunKeys(run_id)
    env = s.function_spec("InferFunction").environment
    name = layout.job_name(s.prefix, run_id)
    s.sagemaker.create_model(ModelName=name, ExecutionRoleArn=env["SAGEMAKER_ROLE_ARN"], Tags=layout.run_tags(run_id),
                             PrimaryContainer={"Image": s.function_spec("TrainFunction").environment["TRAINING_IMAGE"],
                                               "ModelDataUrl": f"s3://{s.bucket}/{keys.model_output_prefix}{name}/output/model.tar.gz"})
    settings = TransformSettings(role_arn=env["SAGEMAKER_ROLE_ARN"], instance_type=env["TRANSFORM_INSTANCE_TYPE"], instance_count=1)
    s.sagemaker.create_transform_job(**transform_request(name, name, layout.s3_uri(s.bucket, keys.test_prefix),
                                                         layout.s3_uri(s.bucket, keys.transform_output_prefix), settings, run_id))
    s.wait_job("transform_job", name, want="Failed")
    s.state["broken_transform"] = run_id
    return {"job": name}


def seed_gave_up(s: Session) -> dict:
    """An upload whose preprocess gave up (the record says so: Runtime.ExitError after its retries)."""
    return _upload(s, "raw/titanic-gave-up.csv", DATA.read_bytes())


def check_gave_up(s: Session, c: Check, answer: dict, event: dict) -> None:
    c.need(answer == {"batchItemFailures": []}, "answer: no batch item failures (the record was recorded)")
    record = json.loads(event["Records"][0]["body"])
    obj = record["requestPayload"]["detail"]["object"]
    run_id = layout.run_id_for_upload(obj["key"], obj.get("version-id"), obj.get("sequencer"))
    _failed_run(s, c, run_id, "preprocess", "gave up after")


STEPS = {step.event: step for step in (
    Step("preprocess_raw_csv_created", seed_preprocess, check_preprocess),
    Step("train_split_manifest_created", seed_train, check_train, ("preprocess_raw_csv_created",)),
    # while the training job runs: the failure events, which need nothing of the chain
    Step("failure_function_gave_up", seed_gave_up, check_gave_up),
    Step("failure_training_job_failed", seed_training_failed, check_training_failed),
    Step("evaluate_transform_job_failed", seed_transform_failed, check_transform_failed),
    Step("infer_training_job_completed", seed_infer, check_infer, ("train_split_manifest_created",)),
    Step("evaluate_transform_job_completed", seed_evaluate, check_evaluate, ("infer_training_job_completed",)),
    Step("approval_model_package_approved", seed_approval, check_approval, ("evaluate_transform_job_completed",)),
    Step("predict_function_url_request", seed_predict, check_predict, ("approval_model_package_approved",)),
    Step("score_csv_created", seed_score, check_score, ("evaluate_transform_job_completed",)),
    Step("score_transform_job_completed", seed_score_transform, check_score_transform, ("score_csv_created",)),
)}


def plan(names: list[str] | None = None) -> list[Step]:
    """The steps of the named events (all by default) and of the events they need, in the order they run."""
    wanted = set()
    pending = [event_cmd.resolve_name(name) for name in names] if names else list(STEPS)
    while pending:
        name = pending.pop()
        if name not in wanted:
            wanted.add(name)
            pending += STEPS[name].needs
    return [step for name, step in STEPS.items() if name in wanted]
