"""Training jobs, models and batch transform jobs of the offline SageMaker, following the built-in XGBoost contract.

Jobs move InProgress -> Completed or Failed (with a FailureReason) on a background thread, read and
write S3 through the offline S3, and every status change is sent to EventBridge in the documented
``aws.sagemaker`` shapes.

A job's InstanceCount is that many container processes working at once. A training job's hosts
(algo-1 ... algo-N) each get their own channel folder (ShardedByS3Key: the sorted keys dealt
round-robin; FullyReplicated: every key) and train one model together; a transform deals its
input objects over its instances the same way. What each instance read is kept offline only
(``training_hosts``, ``transform_instances``): DescribeTrainingJob and DescribeTransformJob have no such field.
A transform's DataProcessing is SageMaker's work around the container (sm_data_processing.py).
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from pathlib import Path

from .containers import AlgorithmError, call_all, image_name, xgboost_release
from .sm_base import ApiError, SageMakerBase, now
from .sm_data_processing import DataProcessing, RequestError


def deal(items: list, count: int) -> list[list]:
    """Item k to instance k mod count, as ShardedByS3Key gives each instance about 1/count of the sorted objects."""
    return [items[i::count] for i in range(count)]

SORT_KEYS = {"Name": lambda kind: f"{kind}JobName", "CreationTime": lambda kind: "CreationTime", "Status": lambda kind: f"{kind}JobStatus"}


class JobOps(SageMakerBase):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Offline only, by job name: [{"host": "algo-1", "objects": [key, ...], "rows": n, ...}, ...]
        self.training_hosts: dict[str, list[dict]] = {}
        self.transform_instances: dict[str, list[dict]] = {}

    # -- training -------------------------------------------------------------------------
    def op_CreateTrainingJob(self, request: dict) -> dict:
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

    def op_DescribeTrainingJob(self, request: dict) -> dict:
        job = self.training_jobs.get(request["TrainingJobName"])
        if job is None:
            raise ApiError("ValidationException", f"Requested resource not found: training job {request['TrainingJobName']}")
        return dict(job)

    def op_ListTrainingJobs(self, request: dict) -> dict:  # noqa: N802
        return self._list_jobs("Training", self.training_jobs, request,
                               ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime", "LastModifiedTime",
                                "TrainingJobStatus", "SecondaryStatus"))

    def _list_jobs(self, kind: str, jobs: dict, request: dict, fields: tuple[str, ...]) -> dict:
        """List*Jobs as SageMaker answers it: NameContains, StatusEquals, SortBy (CreationTime by default), SortOrder
        (Ascending by default), MaxResults (10 by default) and NextToken; summaries only."""
        with self._lock:
            found = [dict(job) for job in jobs.values()
                     if request.get("NameContains", "") in job[f"{kind}JobName"]
                     and job[f"{kind}JobStatus"] == request.get("StatusEquals", job[f"{kind}JobStatus"])]
        sort_key = SORT_KEYS[request.get("SortBy", "CreationTime")](kind)
        found.sort(key=lambda job: job[sort_key], reverse=request.get("SortOrder", "Ascending") == "Descending")
        start, size = int(request.get("NextToken") or 0), int(request.get("MaxResults") or 10)
        answer = {f"{kind}JobSummaries": [{k: job[k] for k in fields if k in job} for job in found[start:start + size]]}
        if start + size < len(found):
            answer["NextToken"] = str(start + size)
        return answer

    def op_ListTags(self, request: dict) -> dict:  # noqa: N802
        with self._lock:
            return {"Tags": list(self.tags.get(request["ResourceArn"], []))}

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
            with tempfile.TemporaryDirectory(prefix="sagemaker-training-") as root:
                self.write(artifact, self._run_hosts(name, image, job, channels["train"], Path(root)))
            job.update(TrainingJobStatus="Completed", SecondaryStatus="Completed", ModelArtifacts={"S3ModelArtifacts": artifact})
        except Exception as err:  # noqa: BLE001 - any error ends the job Failed, as on SageMaker
            reason = f"AlgorithmError: {err}" if isinstance(err, AlgorithmError) else f"ClientError: {err}"
            job.update(TrainingJobStatus="Failed", SecondaryStatus="Failed", FailureReason=reason)
        job["TrainingEndTime"] = job["LastModifiedTime"] = now()
        job["TrainingTimeInSeconds"] = job["BillableTimeInSeconds"] = max(1, round(job["TrainingEndTime"] - job["TrainingStartTime"]))
        self._training_event(job)

    def _host_channels(self, channel: dict, hosts: list[str], root: Path) -> dict[str, list[str]]:
        """Fill each host's /opt/ml/input/data/train/ as SageMaker does; return the keys each host got.

        The objects are downloaded once and linked into the hosts' folders (the key's path below the prefix kept).
        """
        source = channel["DataSource"]["S3DataSource"]
        objects = self.download_prefix(source["S3Uri"], root / "s3")
        sharded = source.get("S3DataDistributionType", "FullyReplicated") == "ShardedByS3Key"
        shares = deal(objects, len(hosts)) if sharded else [objects] * len(hosts)
        for host, share in zip(hosts, shares):
            folder = root / host / "input" / "data" / "train"
            folder.mkdir(parents=True)
            for _, path in share:
                target = folder / path.relative_to(root / "s3")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, target)
        return {host: [key for key, _ in share] for host, share in zip(hosts, shares)}

    def _run_hosts(self, name: str, image: str, job: dict, channel: dict, root: Path) -> bytes:
        """Run the job's hosts, each a container process with its own folders; return the model the master saved.

        Each host gets its share of this machine's cores, as each instance has its own: xgboost's threads on
        every core in every host spin while they wait for one another at each allreduce (twenty times slower
        with two hosts on two cores).
        """
        hosts = [f"algo-{i}" for i in range(1, job["ResourceConfig"].get("InstanceCount", 1) + 1)]
        objects = self._host_channels(channel, hosts, root)
        cores = max(1, (os.cpu_count() or 1) // len(hosts))
        requests = [{"command": "train", "hosts": hosts, "current_host": host, "channel": str(root / host / "input" / "data" / "train"),
                     "hyperparameters": job.get("HyperParameters", {}), "model_out": str(root / host / "model.tar.gz"), "cores": cores}
                    for host in hosts]
        with self.containers.instances(image, len(hosts)) as processes:
            if len(hosts) > 1:  # the master (algo-1) runs the first group's tracker; SageMaker tells the hosts where
                tracker = processes[0].call(command="tracker", n_workers=len(hosts))
                requests = [{**request, "tracker": tracker} for request in requests]
            answers = call_all(processes, requests)
        self.training_hosts[name] = [{"host": host, "objects": objects[host], **answer} for host, answer in zip(hosts, answers)]
        (master,) = [host for host, answer in zip(hosts, answers) if answer["saved"]]
        return (root / master / "model.tar.gz").read_bytes()

    # -- models ---------------------------------------------------------------------------
    def op_CreateModel(self, request: dict) -> dict:
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

    def op_DescribeModel(self, request: dict) -> dict:
        model = self.models.get(request["ModelName"])
        if model is None:
            raise ApiError("ValidationException", f'Could not find model "{self.arn("model", request["ModelName"])}".')
        return dict(model)

    # -- batch transform ------------------------------------------------------------------
    def op_CreateTransformJob(self, request: dict) -> dict:
        name = request["TransformJobName"]
        arn = self.arn("transform-job", name)
        with self._lock:
            if name in self.transform_jobs:
                raise ApiError("ResourceInUse", f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})")
            if request["ModelName"] not in self.models:
                raise ApiError("ValidationException", f'Could not find model "{self.arn("model", request["ModelName"])}".')
            if DataProcessing.of(request).join_source not in ("Input", "None"):
                raise ApiError("ValidationException", "1 validation error detected: Value at 'dataProcessing.joinSource' failed to satisfy "
                                                      "constraint: Member must satisfy enum value set: [Input, None]")
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

    def op_DescribeTransformJob(self, request: dict) -> dict:
        job = self.transform_jobs.get(request["TransformJobName"])
        if job is None:
            raise ApiError("ValidationException", f"Could not find job to describe: {request['TransformJobName']}")
        return dict(job)

    def op_ListTransformJobs(self, request: dict) -> dict:  # noqa: N802
        return self._list_jobs("Transform", self.transform_jobs, request,
                               ("TransformJobName", "TransformJobArn", "CreationTime", "TransformEndTime", "LastModifiedTime",
                                "TransformJobStatus", "FailureReason"))

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
                processing = DataProcessing.of(job)
                sources = [(key, processing.model_input(path, Path(root, f"filtered-{index}.csv"))) for index, (key, path) in enumerate(inputs)]
                outputs = self._run_instances(name, image, job, model, sources, Path(root, "output"))
                results = [processing.output(path, out) for (_, path), out in zip(inputs, outputs)]
                # Batch transform writes <S3OutputPath>/<input file name>.out, and only once every file succeeded.
                for (key, _), result in zip(inputs, results):
                    self.write(f"{output}/{posixpath.basename(key)}.out", result)
            job["TransformJobStatus"] = "Completed"
        except Exception as err:  # noqa: BLE001
            reason = f"ClientError: {err}" if isinstance(err, RequestError) else f"AlgorithmError: {err}"
            job.update(TransformJobStatus="Failed", FailureReason=reason)
        job["TransformEndTime"] = now()
        self._transform_event(job)

    def _run_instances(self, name: str, image: str, job: dict, model: Path, inputs: list, folder: Path) -> list[Path]:
        """Deal the input objects over the job's instances, working at the same time; return each input's output file.

        An instance dealt no object (more instances than objects) has nothing to do and is not started offline.
        """
        outputs = [folder / f"{index}.out" for index in range(len(inputs))]
        folder.mkdir()
        count = min(job["TransformResources"].get("InstanceCount", 1), len(inputs))
        files = deal([(str(path), str(out)) for (_, path), out in zip(inputs, outputs)], count)
        with self.containers.instances(image, count) as processes:
            answers = call_all(processes, [{"command": "transform", "model": str(model), "files": share} for share in files])
        keys = deal([key for key, _ in inputs], count)
        self.transform_instances[name] = [{"instance": i, "objects": share, **answer}
                                          for i, (share, answer) in enumerate(zip(keys, answers), start=1)]
        return outputs
