"""This function's code and packages as one archive in the bucket, for its Processing job to run.

The archive holds the function's folder and every other folder on its path except the runtime's own (on
Lambda, the layers merged in /opt/python): the job runs the very code and library releases the function
runs, not a second copy to keep in step. It is written once per code version,
under a key named by a digest of its content, and reused by every later job.
"""

from __future__ import annotations

import hashlib
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path

from botocore.exceptions import ClientError

from pipeline_common import aws, layout

OWN_PACKAGES = ("pipeline_common", "tabular")  # the pipeline's code in the layers: hashed by content
# The interpreter's own library and site-packages (on Lambda, the runtime's boto3), and Lambda's runtime client
RUNTIME = (Path(sysconfig.get_path("stdlib")), Path(sys.base_prefix, "lib"), Path(sysconfig.get_path("purelib")),
           Path(sysconfig.get_path("platlib")), Path("/var/runtime"))


def roots() -> list[Path]:
    """The function's folder, then each other path entry outside the runtime, in path order."""
    found = [Path(__file__).resolve().parent]
    runtime = [path.resolve() for path in RUNTIME]
    for entry in sys.path:
        folder = Path(entry or ".").resolve()
        if folder.is_dir() and folder not in found and not any(folder == r or r in folder.parents for r in runtime):
            found.append(folder)
    return found


def _files(root: Path, folders: list[Path]) -> list[Path]:
    """The root's files, without caches and without another root nested in it (/opt/python holds lib/.../site-packages)."""
    nested = [other for other in folders if root in other.parents]
    return sorted(path for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.relative_to(root).parts
                  and not any(other in path.parents for other in nested))


def digest(folders: list[Path]) -> str:
    """Names and sizes of every file, and the content of the pipeline's own Python files: what makes a code version."""
    sha = hashlib.sha256()
    for index, root in enumerate(folders):
        for path in _files(root, folders):
            relative = path.relative_to(root)
            sha.update(f"{index}/{relative}\0{path.stat().st_size}\0".encode())
            if path.suffix == ".py" and (index == 0 or relative.parts[0] in OWN_PACKAGES):
                sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def write_archive(folders: list[Path], target) -> None:
    """tar.gz with one top-level folder per root (root-0 first): the job puts them on its path in that order."""
    with tarfile.open(fileobj=target, mode="w:gz", compresslevel=1) as archive:
        for index, root in enumerate(folders):
            for path in _files(root, folders):
                archive.add(path, arcname=f"root-{index:02d}/{path.relative_to(root)}", recursive=False)


def ensure_uploaded(bucket: str, stage: str) -> str:
    """The archive's key, written now if this code version has none yet."""
    folders = roots()
    key = layout.job_code_key(stage, digest(folders))
    try:
        aws.client("s3").head_object(Bucket=bucket, Key=key)
        return key
    except ClientError as err:
        if aws.error_code(err) not in ("404", "NoSuchKey", "NotFound"):
            raise
    with tempfile.TemporaryFile() as spool:  # /tmp, not memory: the packages are larger than the archive
        write_archive(folders, spool)
        spool.seek(0)
        aws.client("s3").upload_fileobj(spool, bucket, key, ExtraArgs={"ContentType": "application/gzip"})
    return key
