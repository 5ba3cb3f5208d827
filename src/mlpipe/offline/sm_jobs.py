"""Training jobs, models and batch transform jobs of the offline SageMaker, following the built-in XGBoost contract.

Jobs move InProgress -> Completed or Failed (with a FailureReason) on a background thread, read and
write S3 through the offline S3, and every status change is sent to EventBridge in the documented
``aws.sagemaker`` shapes.
"""

from __future__ import annotations

import posixpath
import tempfile
from pathlib import Path

from .containers import AlgorithmError, image_name, xgboost_release
from .sm_base import ApiError, SageMakerBase, now


class JobOps(SageMakerBase):
    # -- training -------------------------------------------------------------------------
    def op_CreateTrainingJob(self, request: dict) -> dict:  # noqa: N802
        name = request["TrainingJobName"]
        arn = self.arn("training-job", name)
        with self._lock:
            if name in self.training_jobs:
                raise ApiError("ResourceInUse", f"Training job names must be unique within an AWS account and region, and a training job with this name already exists ({arn})")
            job = {
                **{k: v for k, v in request.items() if k != "Tags"},
                "TrainingJobArn": arn,
                "TrainingJobStatus": "InProgress",
                "SecondaryStatus": "Starting",
                "CreationTime": now(),
                "LastModifiedTime": now(),
            }
            self.training_jobs[name] = job
            self.tags[arn] = request.get("Tags", [])
        self.run_in_background(self._train, name)
        return {"TrainingJobArn": arn}

    def op_DescribeTrainingJob(self, request: dict) -> dict:  # noqa: N802
        job = self.training_jobs.get(request["TrainingJobName"])
        if job is None:
            raise ApiError("ValidationException", f"Requested resource not found: training job {request['TrainingJobName']}")
        return dict(job)

    def _training_event(self, job: dict) -> None:
        self.emit("SageMaker Training Job State Change", {**job, "Tags": self.tags_of(job["TrainingJobArn"])}, job["TrainingJobArn"])

    def _train(self, name: str) -> None:
        job = self.training_jobs[name]
        self._training_event(job)
        job["TrainingStartTime"] = now()
        try:
            if self.faults.fail_training:
                raise AlgorithmError(self.faults.fail_training)
            image = image_name(job["AlgorithmSpecification"]["TrainingImage"])
            self.releases[name] = xgboost_release(image)
            channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
            if "train" not in channels:
                raise AlgorithmError("channel 'train' is required")
            if channels["train"].get("ContentType") != "text/csv":
                raise AlgorithmError("the train channel has no ContentType text/csv: the container would read it as libsvm")
            artifact = posixpath.join(job["OutputDataConfig"]["S3OutputPath"].rstrip("/"), name, "output", "model.tar.gz")
            # The container's folders, as SageMaker maps them: /opt/ml/input/data/<channel>/, /opt/ml/model/
            with tempfile.TemporaryDirectory(prefix="sagemaker-training-") as root:
                channel = Path(root, "input", "data", "train")
                self.download_prefix(channels["train"]["DataSource"]["S3DataSource"]["S3Uri"], channel)
                model = Path(root, "model", "model.tar.gz")
                model.parent.mkdir(parents=True)
                self.containers.call(image, command="train", channel=str(channel), hyperparameters=job.get("HyperParameters", {}),
                                     model_out=str(model))
                self.write(artifact, model.read_bytes())
            job.update(TrainingJobStatus="Completed", SecondaryStatus="Completed", ModelArtifacts={"S3ModelArtifacts": artifact})
        except Exception as err:  # noqa: BLE001 - any error ends the job Failed, as on SageMaker
            reason = f"AlgorithmError: {err}" if isinstance(err, AlgorithmError) else f"ClientError: {err}"
            job.update(TrainingJobStatus="Failed", SecondaryStatus="Failed", FailureReason=reason)
        job["TrainingEndTime"] = job["LastModifiedTime"] = now()
        job["TrainingTimeInSeconds"] = job["BillableTimeInSeconds"] = max(1, round(job["TrainingEndTime"] - job["TrainingStartTime"]))
        self._training_event(job)

    # -- models ---------------------------------------------------------------------------
    def op_CreateModel(self, request: dict) -> dict:  # noqa: N802
        name = request["ModelName"]
        arn = self.arn("model", name)
        container = dict(request.get("PrimaryContainer") or {})
        if "ModelPackageName" in container:
            # A model from a registered version: its container is the version's inference specification.
            package = self.model_packages.get(self.package_arn(container["ModelPackageName"]))
            if package is None:
                raise ApiError("ValidationException", f"Model package {container['ModelPackageName']} does not exist.")
            (spec,) = package["InferenceSpecification"]["Containers"][:1]
            container.update(Image=spec["Image"], ModelDataUrl=spec["ModelDataUrl"])
        with self._lock:
            if name in self.models:
                raise ApiError("ValidationException", f'Cannot create already existing model "{arn}".')
            self.models[name] = {**{k: v for k, v in request.items() if k != "Tags"}, "PrimaryContainer": container,
                                 "ModelArn": arn, "CreationTime": now()}
            self.tags[arn] = request.get("Tags", [])
        return {"ModelArn": arn}

    def op_DescribeModel(self, request: dict) -> dict:  # noqa: N802
        model = self.models.get(request["ModelName"])
        if model is None:
            raise ApiError("ValidationException", f'Could not find model "{self.arn("model", request["ModelName"])}".')
        return dict(model)

    # -- batch transform ------------------------------------------------------------------
    def op_CreateTransformJob(self, request: dict) -> dict:  # noqa: N802
        name = request["TransformJobName"]
        arn = self.arn("transform-job", name)
        with self._lock:
            if name in self.transform_jobs:
                raise ApiError("ResourceInUse", f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})")
            if request["ModelName"] not in self.models:
                raise ApiError("ValidationException", f'Could not find model "{self.arn("model", request["ModelName"])}".')
            job = {
                **{k: v for k, v in request.items() if k != "Tags"},
                "TransformJobArn": arn,
                "TransformJobStatus": "InProgress",
                "CreationTime": now(),
            }
            self.transform_jobs[name] = job
            self.tags[arn] = request.get("Tags", [])
        self.run_in_background(self._transform, name)
        return {"TransformJobArn": arn}

    def op_DescribeTransformJob(self, request: dict) -> dict:  # noqa: N802
        job = self.transform_jobs.get(request["TransformJobName"])
        if job is None:
            raise ApiError("ValidationException", f"Could not find job to describe: {request['TransformJobName']}")
        return dict(job)

    def _transform_event(self, job: dict) -> None:
        self.emit("SageMaker Transform Job State Change", {**job, "Tags": self.tags_of(job["TransformJobArn"])}, job["TransformJobArn"])

    def _transform(self, name: str) -> None:
        job = self.transform_jobs[name]
        self._transform_event(job)
        job["TransformStartTime"] = now()
        try:
            if self.faults.fail_transform:
                raise AlgorithmError(self.faults.fail_transform)
            container = self.models[job["ModelName"]]["PrimaryContainer"]
            image = image_name(container["Image"])
            self.releases[name] = xgboost_release(image)
            transform_input = job["TransformInput"]
            if transform_input.get("ContentType") != "text/csv" or transform_input.get("SplitType") != "Line":
                raise AlgorithmError("the offline transform supports ContentType text/csv with SplitType Line")
            output = job["TransformOutput"]["S3OutputPath"].rstrip("/")
            with tempfile.TemporaryDirectory(prefix="sagemaker-transform-") as root:
                model = Path(root, "model.tar.gz")
                model.write_bytes(self.read_object(container["ModelDataUrl"]))
                inputs = self.download_prefix(transform_input["DataSource"]["S3DataSource"]["S3Uri"], Path(root, "input"))
                files = [(str(path), str(Path(root, "output", f"{index}.out"))) for index, (_, path) in enumerate(inputs)]
                Path(root, "output").mkdir()
                self.containers.call(image, command="transform", model=str(model), files=files)
                # Batch transform writes <S3OutputPath>/<input file name>.out, and only once every file succeeded.
                for (key, _), (_, out) in zip(inputs, files):
                    self.write(f"{output}/{posixpath.basename(key)}.out", Path(out).read_bytes())
            job["TransformJobStatus"] = "Completed"
        except Exception as err:  # noqa: BLE001
            job.update(TransformJobStatus="Failed", FailureReason=f"AlgorithmError: {err}")
        job["TransformEndTime"] = now()
        self._transform_event(job)
