"""The preprocess stage on a SageMaker Processing job, for uploads larger than the function takes itself.

The job runs this function's own code and packages (its folder and its layers, archived once per code
version under code/) on the scikit-learn Processing image, whose Python is the Lambda runtime's 3.12:
the same preparation, the same library releases. It reads the upload and a task document, and writes
what the function would write, through three outputs that SageMaker uploads when the job ends. Its
split manifest goes to a staging key; the function copies it to the key that starts training once
the job has completed, so training never sees a half-uploaded run.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from pipeline_common import layout

CODE_DIR = "/opt/ml/processing/input/code"
TASK_DIR = "/opt/ml/processing/input/task"
DATA_DIR = "/opt/ml/processing/input/data"
OUTPUT_DIR = "/opt/ml/processing/output"
MESSAGE_FILE = "/opt/ml/output/message"  # its first KB becomes the job's ExitMessage
# Where each top-level prefix the stage writes is gathered in the container (one ProcessingOutput each).
OUTPUT_PREFIXES = (layout.PROCESSED, layout.SPLIT, layout.MODELS)
# The entrypoint unpacks the code archive and runs preprocess_job with the archive's folders first on the path.
# ContainerEntrypoint items are at most 256 characters.
BOOTSTRAP = ("import os,sys,runpy,tarfile as t,tempfile as f;r=f.mkdtemp();"
             "t.open(sys.argv[sys.argv.index('--code')+1]).extractall(r,filter='data');"
             "sys.path[:0]=[os.path.join(r,d) for d in sorted(os.listdir(r))];"
             "runpy.run_module('preprocess_job',run_name='__main__')")


@dataclass(frozen=True)
class ProcessingSettings:
    image: str
    role_arn: str
    instance_type: str
    volume_gb: int
    max_runtime_seconds: int


def local_output(key: str) -> str:
    """Where, under the output folder, the job writes an object of its run: <top>/<rest of the key>."""
    top, _run_id, rest = key.split("/", 2)
    return posixpath.join(top, rest)


def _input(name: str, uri: str, local: str) -> dict:
    return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix",
                                           "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}


def processing_job_request(bucket: str, job_prefix: str, run_id: str, code_key: str, settings: ProcessingSettings) -> dict:
    """The job of a run whose upload was copied to ``RunKeys.processing_input``."""
    keys = layout.RunKeys(run_id)
    code_name = posixpath.basename(code_key)
    outputs = [{"OutputName": top.rstrip("/"), "S3Output": {
        "S3Uri": layout.s3_uri(bucket, keys.run_prefix(top)), "LocalPath": posixpath.join(OUTPUT_DIR, top.rstrip("/")),
        "S3UploadMode": "EndOfJob"}} for top in OUTPUT_PREFIXES]
    return {
        "ProcessingJobName": layout.job_name(job_prefix, run_id),
        "ProcessingInputs": [
            _input("code", layout.s3_uri(bucket, code_key), CODE_DIR),
            _input("task", layout.s3_uri(bucket, keys.processing_task), TASK_DIR),
            _input("data", layout.s3_uri(bucket, keys.processing_input), DATA_DIR),
        ],
        "ProcessingOutputConfig": {"Outputs": outputs},
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": settings.instance_type, "VolumeSizeInGB": settings.volume_gb}},
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
        "AppSpecification": {
            "ImageUri": settings.image,
            "ContainerEntrypoint": ["python3", "-c", BOOTSTRAP],
            "ContainerArguments": ["--code", posixpath.join(CODE_DIR, code_name),
                                   "--task", posixpath.join(TASK_DIR, posixpath.basename(keys.processing_task)),
                                   "--data", posixpath.join(DATA_DIR, posixpath.basename(keys.processing_input)),
                                   "--output", OUTPUT_DIR, "--message", MESSAGE_FILE],
        },
        "RoleArn": settings.role_arn,
        "Tags": layout.run_tags(run_id),
    }
