"""The preprocess stage's Processing job: its request, its bootstrap, the job itself, and how its failure reads."""

import io
import json
import subprocess
import sys
import tarfile

import pytest

import preprocess_core
import preprocess_job
import processing_core
from pipeline_common import layout
from pipeline_common.failures import PROCESSING, from_job_event
from pipeline_common.models import PreprocessTask, ShardPlan
from tests.datasets import titanic_spec
from tests.unit.test_job_requests import assert_valid

RUN = "titanic-0123456789"
SETTINGS = processing_core.ProcessingSettings(
    image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3",
    role_arn="arn:aws:iam::111122223333:role/processing", instance_type="ml.m5.4xlarge", volume_gb=50,
    max_runtime_seconds=7200)


def test_the_request_is_valid_and_maps_the_runs_prefixes():
    request = processing_core.processing_job_request("bkt", "mlpipe", RUN, "code/preprocess-abc.tar.gz", SETTINGS)
    assert_valid("CreateProcessingJob", request)
    assert request["ProcessingJobName"] == f"mlpipe-{RUN}"
    assert all(len(item) <= 256 for item in request["AppSpecification"]["ContainerEntrypoint"] + request["AppSpecification"]["ContainerArguments"])
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["code"]["S3Uri"] == "s3://bkt/code/preprocess-abc.tar.gz"
    assert inputs["data"]["S3Uri"] == f"s3://bkt/processed/{RUN}/processing/input/input.csv"  # the copy, never raw/
    outputs = {o["OutputName"]: o["S3Output"] for o in request["ProcessingOutputConfig"]["Outputs"]}
    assert outputs["splitData"] == {"S3Uri": f"s3://bkt/splitData/{RUN}/", "LocalPath": "/opt/ml/processing/output/splitData",
                                    "S3UploadMode": "EndOfJob"}
    assert {o["S3Uri"] for o in outputs.values()} == {f"s3://bkt/{top}{RUN}/" for top in ("processed/", "splitData/", "models/")}
    args = request["AppSpecification"]["ContainerArguments"]
    assert args[args.index("--code") + 1] == "/opt/ml/processing/input/code/preprocess-abc.tar.gz"


def test_every_object_of_a_run_lands_under_its_output_and_uploads_to_its_key():
    keys = layout.RunKeys(RUN)
    outputs = {o["S3Output"]["LocalPath"]: o["S3Output"]["S3Uri"] for o in processing_core.processing_job_request(
        "bkt", "mlpipe", RUN, "code/x.tar.gz", SETTINGS)["ProcessingOutputConfig"]["Outputs"]}
    for key in (keys.train_part(3), keys.profile, keys.transform, keys.staged_split_manifest, keys.labels_part(0)):
        local = f"{processing_core.OUTPUT_DIR}/{processing_core.local_output(key)}"
        (folder,) = [path for path in outputs if local.startswith(path + "/")]
        assert outputs[folder] + local[len(folder) + 1:] == f"s3://bkt/{key}"


def test_the_bootstrap_unpacks_the_code_and_runs_the_job_module_with_its_arguments(tmp_path):
    archive = tmp_path / "code.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in (("root-00/preprocess_job.py", "import sys, helper\nprint(helper.WORD, sys.argv[1:])\n"),
                           ("root-01/helper.py", "WORD = 'from the second root'\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    result = subprocess.run([sys.executable, "-I", "-c", processing_core.BOOTSTRAP, "--code", str(archive), "--task", "t"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"from the second root ['--code', '{archive}', '--task', 't']"


def _task(spec) -> PreprocessTask:
    return PreprocessTask(run_id=RUN, source={"key": "raw/titanic.csv", "dataset": "titanic"}, spec=spec.model_dump(mode="json"),
                          spec_origin={"shipped": "titanic.yaml"}, test_fraction=0.2, seed=42,
                          sharding=ShardPlan(training_instances=2))


def test_the_job_writes_what_the_function_writes(tmp_path, titanic_bytes):
    (tmp_path / "task.json").write_text(_task(titanic_spec()).model_dump_json())
    (tmp_path / "input.csv").write_bytes(titanic_bytes)
    code = preprocess_job.main(["--task", str(tmp_path / "task.json"), "--data", str(tmp_path / "input.csv"),
                                "--output", str(tmp_path / "out"), "--message", str(tmp_path / "message")])
    assert code == 0 and json.loads((tmp_path / "message").read_text())["parts"] == 2
    _, objects, manifest = preprocess_core.prepare_upload(titanic_bytes, _task(titanic_spec()))
    for key, body, _ in objects:
        assert (tmp_path / "out" / processing_core.local_output(key)).read_bytes() == body
    staged = json.loads((tmp_path / "out" / processing_core.local_output(layout.RunKeys(RUN).staged_split_manifest)).read_text())
    assert {k: v for k, v in staged.items() if k != "created_at"} == {k: v for k, v in manifest.model_dump(mode="json").items()
                                                                        if k != "created_at"}


def test_a_file_the_job_rejects_fails_the_run_with_what_is_wrong(tmp_path, titanic_bytes):
    (tmp_path / "task.json").write_text(_task(titanic_spec()).model_dump_json())
    (tmp_path / "input.csv").write_bytes(titanic_bytes.replace(b"Sex", b"Gender", 1))
    code = preprocess_job.main(["--task", str(tmp_path / "task.json"), "--data", str(tmp_path / "input.csv"),
                                "--output", str(tmp_path / "out"), "--message", str(tmp_path / "message")])
    assert code == 1 and not (tmp_path / "out").exists()
    detail = {"ProcessingJobName": f"mlpipe-{RUN}", "ProcessingJobStatus": "Failed",
              "FailureReason": "AlgorithmError: See job logs for more information", "ExitMessage": (tmp_path / "message").read_text()}
    failure = from_job_event(PROCESSING, detail, "mlpipe")
    assert failure.run_id == RUN and failure.stage == "preprocess"
    assert failure.reason == f"processing job mlpipe-{RUN} Failed: required column(s) missing: Sex"
    plain = from_job_event(PROCESSING, {**detail, "ExitMessage": None}, "mlpipe")
    assert plain.reason.endswith("Failed: AlgorithmError: See job logs for more information")


@pytest.mark.parametrize("head, complete", [(b"PassengerId,Survived,Pclass\n1,0,3\n2,1,", False),
                                            (b"a;b;c\n1;2;3\n", True)])
def test_the_start_of_a_file_is_checked_before_any_job(head, complete):
    from pipeline_common.errors import InputRejected
    from tabular.prepare import check_header

    with pytest.raises(InputRejected, match="required column|semicolon"):
        check_header(head, titanic_spec(), complete)
