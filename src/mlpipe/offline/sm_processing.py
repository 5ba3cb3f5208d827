"""Processing jobs of the offline SageMaker: the job's own entrypoint in a process of its image.

As SageMaker does (docs: "How Amazon SageMaker Processing Runs Your Processing Container Image"): each
ProcessingInput is downloaded to its LocalPath before the container starts, the container runs
ContainerEntrypoint + ContainerArguments, a zero exit code completes the job and any other fails it,
the first KB of /opt/ml/output/message becomes ExitMessage, and each ProcessingOutput's LocalPath is
uploaded to its S3Uri when the job ends (EndOfJob). The container's /opt/ml is a temporary folder:
paths under /opt/ml/ in the arguments point there. Every state change is sent to EventBridge as
``SageMaker Processing Job State Change``.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline_common.s3_streams import put_file

from . import processing_container
from .containers import AlgorithmError, site_dir
from .sm_base import ApiError, SageMakerBase, now
from .workers import clean_environment

CONTAINER_ROOT = "/opt/ml/"
MESSAGE_FILE = "/opt/ml/output/message"
LOG_TAIL = 4000  # characters of the container's output kept with the job


def processing_image(image_uri: str) -> str:
    """sagemaker-scikit-learn-1.4-2-py312-cpu-py3 from <account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:..."""
    repository, _, tag = image_uri.rpartition("/")[2].partition(":")
    if repository != "sagemaker-scikit-learn":
        raise AlgorithmError(f"the offline SageMaker runs Processing jobs on the scikit-learn image only, not {image_uri}")
    return f"{repository}-{tag}"


class ProcessingOps(SageMakerBase):
    def op_CreateProcessingJob(self, request: dict) -> dict:  # noqa: N802
        name = request["ProcessingJobName"]
        arn = self.arn("processing-job", name)
        with self._lock:
            if name in self.processing_jobs:
                raise ApiError("ResourceInUse", f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})")
            self.processing_jobs[name] = {**{k: v for k, v in request.items() if k != "Tags"}, "ProcessingJobArn": arn,
                                          "ProcessingJobStatus": "InProgress", "CreationTime": now(), "LastModifiedTime": now()}
            self.tags[arn] = request.get("Tags", [])
        self.run_in_background(self._process, name)
        return {"ProcessingJobArn": arn}

    def op_DescribeProcessingJob(self, request: dict) -> dict:  # noqa: N802
        job = self.processing_jobs.get(request["ProcessingJobName"])
        if job is None:
            raise ApiError("ValidationException", f"Could not find requested job with name {request['ProcessingJobName']}")
        return dict(job)

    def _processing_event(self, job: dict) -> None:
        self.emit("SageMaker Processing Job State Change", {**job, "Tags": self.tags_of(job["ProcessingJobArn"])}, job["ProcessingJobArn"])

    def _process(self, name: str) -> None:
        job = self.processing_jobs[name]
        self._processing_event(job)
        job["ProcessingStartTime"] = now()
        try:
            if self.faults.fail_processing:
                raise AlgorithmError(self.faults.fail_processing)
            with tempfile.TemporaryDirectory(prefix="sagemaker-processing-") as root:
                code, message, log = self._run_container(job, Path(root))
                if message is not None:
                    job["ExitMessage"] = message
                if code != 0:
                    self.processing_logs[name] = log
                    raise AlgorithmError(f"See job logs for more information (exit code {code}): {log[-600:].strip()}")
                for output in job.get("ProcessingOutputConfig", {}).get("Outputs", []):
                    self._upload(Path(root) / _inside(output["S3Output"]["LocalPath"]), output["S3Output"]["S3Uri"])
                self.processing_logs[name] = log
            job["ProcessingJobStatus"] = "Completed"
        except Exception as err:  # noqa: BLE001 - any error ends the job Failed, as on SageMaker
            reason = f"AlgorithmError: {err}" if isinstance(err, AlgorithmError) else f"ClientError: {err}"
            job.update(ProcessingJobStatus="Failed", FailureReason=reason[:1024])
        job["ProcessingEndTime"] = job["LastModifiedTime"] = now()
        self._processing_event(job)

    def _run_container(self, job: dict, root: Path) -> tuple[int, str | None, str]:
        """Download the inputs, run the entrypoint; (exit code, ExitMessage, the output's tail)."""
        for item in job.get("ProcessingInputs", []):
            source = item["S3Input"]
            self.download_prefix(source["S3Uri"], root / _inside(source["LocalPath"]))
        app = job["AppSpecification"]
        entrypoint = app.get("ContainerEntrypoint") or []
        if entrypoint[:1] != ["python3"]:
            raise AlgorithmError(f"the offline Processing container runs python3 entrypoints only, not {entrypoint[:1]}")
        arguments = [_mapped(arg, root) for arg in [*entrypoint[1:], *app.get("ContainerArguments", [])]]
        site = site_dir(processing_image(app["ImageUri"]))
        command = [sys.executable, "-I", "-S", processing_container.__file__, str(site), *arguments]
        environment = {**clean_environment(), **job.get("Environment", {})}
        with tempfile.TemporaryFile() as output:
            process = subprocess.Popen(command, cwd=root, env=environment, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            output.seek(0)
            log = output.read().decode(errors="replace")[-LOG_TAIL:]
        self.processing_peaks[job["ProcessingJobName"]] = usage.ru_maxrss * 1024
        message = root / _inside(MESSAGE_FILE)
        return process.returncode, message.read_bytes()[:1024].decode("utf-8", errors="replace") if message.is_file() else None, log

    def _upload(self, folder: Path, uri: str) -> None:
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            # one PUT each, read from the file: moto joins a multipart upload's parts in memory (twice the file)
            put_file(self.s3, bucket, posixpath.join(prefix, path.relative_to(folder).as_posix()), path, content_type="")


def _inside(container_path: str) -> str:
    """A container path under /opt/ml/, relative to the job's temporary root."""
    if not container_path.startswith(CONTAINER_ROOT):
        raise AlgorithmError(f"the offline Processing container maps only paths under {CONTAINER_ROOT}, not {container_path}")
    return container_path.lstrip("/")


def _mapped(argument: str, root: Path) -> str:
    return str(root / _inside(argument)) if argument.startswith(CONTAINER_ROOT) else argument
