"""An offline account that outlives a command, kept under MLPIPE_HOME, as an AWS account outlives a session.

The bucket lives on disk (``bucket/<key>``) and the offline SageMaker's jobs, models, registry and
endpoints in ``sagemaker.json``. A new cloud puts back into moto what later runs read: the specs,
the models (with their frozen specs and fitted transforms) and the run records, before the bucket
sends events, so restoring starts no run. At the end of a command, the objects it wrote are added
to the disk copy, each written once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline_common import layout
from pipeline_common.s3_streams import get_file

RESTORED_PREFIXES = (layout.SPECS, layout.MODELS, layout.RUNS)


class SavedAccount:
    def __init__(self, home: Path):
        self.home = home
        self.bucket_dir = home / "bucket"
        self.sagemaker_file = home / "sagemaker.json"
        self._restored: dict[str, str] = {}  # key -> ETag it got when put back

    def restore_objects(self, s3, bucket: str) -> int:
        files = [path for prefix in RESTORED_PREFIXES for path in (self.bucket_dir / prefix).rglob("*") if path.is_file()]

        def put(path: Path) -> None:
            key = path.relative_to(self.bucket_dir).as_posix()
            self._restored[key] = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())["ETag"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(put, files))
        return len(files)

    def save_objects(self, s3, bucket: str) -> list[str]:
        """Write the objects this command created or changed to the disk copy; return their keys."""
        written = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                if self._restored.get(obj["Key"]) == obj["ETag"]:
                    continue  # put back from the disk copy and unchanged since
                target = self.bucket_dir / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                get_file(s3, bucket, obj["Key"], target)  # a slice at a time: an upload may be larger than memory
                self._restored[obj["Key"]] = obj["ETag"]
                written.append(obj["Key"])
        return written

    def restore_sagemaker(self, sagemaker) -> None:
        sagemaker.load(self.sagemaker_file)

    def save_sagemaker(self, sagemaker) -> None:
        sagemaker.save(self.sagemaker_file)
