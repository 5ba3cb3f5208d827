"""An offline account that outlives a command, kept under MLPIPE_HOME, as an AWS account outlives a session.

The bucket lives on disk (``bucket/<key>``) and the offline SageMaker's jobs, models, registry and
endpoints in ``sagemaker.json``. A new cloud puts back into moto what later runs read: the specs,
the models (with their frozen specs and fitted transforms) and the run records, before the bucket
sends events, so restoring starts no run. At the end of a command, the objects it wrote are added
to the disk copy, each written once; while the cloud works, what its functions wrote so far is added in the background,
so little is left for the command's end.
"""

from __future__ import annotations

import threading
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
        self._restored: dict[str, str] = {}  # key -> ETag it got when put back, or when last saved
        self._saving = threading.Lock()  # one save at a time: a background one, or the command's last
        self._background = threading.Lock()  # guards the two flags below
        self._keeping = self._keep_again = False

    def restore_objects(self, s3, bucket: str) -> int:
        files = [path for prefix in RESTORED_PREFIXES for path in (self.bucket_dir / prefix).rglob("*") if path.is_file()]

        def put(path: Path) -> None:
            key = path.relative_to(self.bucket_dir).as_posix()
            self._restored[key] = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())["ETag"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(put, files))
        return len(files)

    def save_objects(self, s3, bucket: str) -> list[str]:
        """Write the objects created or changed since the last save to the disk copy; return their keys."""
        with self._saving:
            return self._save_objects(s3, bucket)

    def _save_objects(self, s3, bucket: str) -> list[str]:
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

    def keep_soon(self, s3, bucket: str) -> None:
        """Save the objects in the background: one pass at a time, and one more if asked during a pass. A large upload,
        its parts and its predictions are then kept while the chain goes on, not all at the command's end."""
        with self._background:
            if self._keeping:
                self._keep_again = True
                return
            self._keeping = True
        threading.Thread(target=self._keep, args=(s3, bucket), name="keep-account", daemon=True).start()

    def _keep(self, s3, bucket: str) -> None:
        while True:
            try:
                self.save_objects(s3, bucket)
            except Exception:  # noqa: BLE001 - the cloud stopping under a pass; the command's own save reports errors
                pass
            with self._background:
                if not self._keep_again:
                    self._keeping = False
                    return
                self._keep_again = False

    def restore_sagemaker(self, sagemaker) -> None:
        sagemaker.load(self.sagemaker_file)

    def save_sagemaker(self, sagemaker) -> None:
        sagemaker.save(self.sagemaker_file)
