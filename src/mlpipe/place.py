"""Where a command acts: a deployed stack (--stack), or the offline account in MLPIPE_HOME."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .buckets import LocalBucket, S3Bucket, stack_outputs
from .home import history_dir


@dataclass
class Place:
    s3: object
    sagemaker: object
    bucket: str
    job_prefix: str
    outputs: dict[str, str]
    default_dataset: str
    session: object | None = None  # a deployed stack's boto3 session (its credentials sign function URL requests)
    cloud: object | None = None  # the offline cloud

    def reader(self) -> LocalBucket | S3Bucket:
        """Where finished runs are read: the bucket itself, or offline its copy on disk."""
        return S3Bucket(self.s3, self.bucket) if self.cloud is None else LocalBucket(history_dir())

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}" if self.cloud is None else str(Path(history_dir()) / key)


@contextmanager
def place(args: argparse.Namespace, **callbacks):
    """Yield the Place; offline, the cloud settles and keeps what the command did when it ends."""
    if getattr(args, "stack", None):
        session, outputs = stack_outputs(args.stack, args.region)
        yield Place(session.client("s3"), session.client("sagemaker"), outputs["DataBucketName"], outputs["JobNamePrefix"], outputs,
                    outputs.get("DefaultDataset", "titanic"), session=session)
        return
    from .cloud_cmd import offline_cloud

    with offline_cloud(args, **callbacks) as cloud:
        target = Place(cloud.client("s3"), cloud.client("sagemaker"), cloud.bucket, cloud.job_prefix, cloud.stack.outputs(),
                       cloud.stack.parameters["DefaultDataset"], cloud=cloud)
        try:
            yield target
        finally:
            try:
                cloud.settle(timeout=120, quiet=0.05)
            finally:
                cloud.persist()
