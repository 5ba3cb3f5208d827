"""The sample events through the real `sam local invoke`, against the offline cloud: make local-invoke's path.

Each function runs in SAM's container (public.ecr.aws/lambda/python:3.12-x86_64, pulled or the look-alike of
scripts/lambda-image) from `sam build`'s packages, and reaches the offline cloud on the host's network. Needs
Docker, the image and the build: `make test` and `make e2e` make them first.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from mlpipe import local_invoke
from mlpipe.cli import main
from pipeline_common import layout
from tests.conftest import REPORT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def session():
    with local_invoke.Session() as session:
        yield session


@pytest.fixture(scope="module")
def chain(session):
    """preprocess, train and infer, each through `sam local invoke` with the event `mlpipe event` writes."""
    return session.run(["infer"])


def explain(results) -> str:
    lines = []
    for r in results:
        answer = r.invocation.answer if r.invocation else None
        log = r.invocation.log[-3000:] if r.invocation else ""
        lines.append(f"{r.step.event}: error={r.error} missing={r.check.missing} answer={answer}\n{log}")
    return "\n".join(lines)


def test_preprocess_train_and_infer_do_their_work_in_sam_containers(session, chain):
    results = chain
    assert [r.step.event for r in results] == ["preprocess_raw_csv_created", "train_split_manifest_created",
                                               "infer_training_job_completed"]
    assert all(r.ok for r in results), explain(results)
    REPORT.extend(f"sam local invoke {r.step.function:<16} {r.invocation.seconds:5.1f} s" for r in results)
    run_id = session.state["run"]
    keys = layout.RunKeys(run_id)

    # preprocess read the uploaded version and wrote the run's split, its fitted transform and the manifest
    preprocess = results[0]
    upload = preprocess.event["detail"]["object"]
    assert preprocess.event["detail"]["bucket"]["name"] == session.bucket != "mlpipe-data-example"
    assert run_id == layout.run_id_for_upload("raw/titanic.csv", upload["version-id"], upload["sequencer"])
    assert preprocess.invocation.answer == {"run_id": run_id, "status": "done", "rows": 891, "n_train": 713, "n_test": 178,
                                            "problem_type": "binary", "warnings": 0, "train_parts": 1, "test_parts": 1,
                                            "path": "function"}
    manifest = session.json(keys.split_manifest)
    assert manifest["run_id"] == run_id and manifest["dataset"] == "titanic" and manifest["source"]["version_id"] == upload["version-id"]
    assert session.keys_under(f"splitData/{run_id}/") == sorted([keys.split_manifest, keys.train_part(0), keys.test_part(0),
                                                                keys.labels_part(0)])
    labels = pd.read_csv(io.BytesIO(session.read(keys.labels_part(0))))
    assert len(labels) == 178 and len(session.read(keys.test_part(0)).splitlines()) == 178
    assert session.json(keys.transform)["problem_type"] == "binary"

    # train started the job on that split; infer created the model from its artifact and the transform on the test rows
    name = layout.job_name(session.prefix, run_id)
    training = session.describe("training_job", name)
    assert training["TrainingJobStatus"] == "Completed"
    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    assert session.describe("model", name)["PrimaryContainer"]["ModelDataUrl"] == artifact
    transform = session.describe("transform_job", name)
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{session.bucket}/{keys.test_prefix}"
    assert transform["TransformOutput"]["S3OutputPath"] == f"s3://{session.bucket}/{keys.transform_output_prefix}"
    status = session.json(keys.status)
    assert status["stages"]["infer"]["transform_jobs"] == [name] and status["stages"]["train"]["model_artifacts"] == artifact

    # each ran in a container SAM made for it, on the host's network (the proxy made it so), not in this process
    handlers = ["preprocess_app.handler", "train_app.handler", "infer_app.handler"]
    assert all(f"Invoking {handler} (python3.12)" in r.invocation.log and "SAM_CONTAINER_ID: " in r.invocation.log
               for handler, r in zip(handlers, results)), explain(results)
    assert (session.workdir / "proxy.log").read_text().count("Lambda container on the host network") >= 3


def test_a_function_that_does_not_do_its_work_fails_its_step(session, titanic_bytes):
    """A file without the target column: preprocess answers (rejected), and the check says what it did not write."""
    body = pd.read_csv(io.BytesIO(titanic_bytes)).drop(columns=["Survived"]).to_csv(index=False).encode()
    version = session.put("raw/no-target.csv", body)
    result = session.run_step(local_invoke.STEPS["preprocess_raw_csv_created"], key="raw/no-target.csv")
    run_id = layout.run_id_for_upload("raw/no-target.csv", version, None)
    assert result.invocation.answer["status"] == "rejected" and "Survived" in result.invocation.answer["reason"]
    assert not result.ok
    assert [m for m in result.check.missing if m.startswith("wrote the split manifest")], result.check.missing
    assert session.json(layout.RunKeys(run_id).error)["stage"] == "preprocess"  # what it did write


def test_mlpipe_event_writes_the_event_for_what_the_stack_has(session, chain, monkeypatch, capsys):
    """`mlpipe event` against the offline cloud as `mlpipe cloud` exports it: the object's current version, the newest job."""
    session.cloud.register_stack()
    for name, value in session.cloud.aws_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    version = session.put("raw/titanic.csv", b"PassengerId,Survived\n1,0\n")
    assert main(["event", "preprocess", "--key", "raw/titanic.csv"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert event["detail"]["bucket"]["name"] == session.bucket
    assert event["detail"]["object"]["key"] == "raw/titanic.csv" and event["detail"]["object"]["version-id"] == version
    assert event["detail"]["object"]["size"] == len(b"PassengerId,Survived\n1,0\n")
    assert event["resources"] == [f"arn:aws:s3:::{session.bucket}"]
    assert main(["event", "infer"]) == 0  # the newest completed training job: the chain's
    detail = json.loads(capsys.readouterr().out)["detail"]
    assert detail["TrainingJobName"] == session.state["training_job"]
    assert detail["Tags"] == {"mlpipe:run-id": session.state["run"], "mlpipe:run-kind": "training"}
    assert isinstance(detail["TrainingEndTime"], int)  # epoch milliseconds, as EventBridge sends them
