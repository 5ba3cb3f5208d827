"""Where a dataset's spec comes from: specs/<dataset>.yaml in the bucket, else the specs shipped with the stack.

The stack ships the repository's datasets/ folder as the SpecsLayer, whose files Lambda puts on
the function's path (/opt/python); so a fresh stack serves its default dataset before anyone
uploads a spec, and a spec in the bucket always wins over the shipped one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from botocore.exceptions import ClientError

from . import aws, layout
from .errors import InputRejected
from .models import DatasetSpec, SpecError, load_spec_text, parse_spec


def shipped_spec_path(dataset: str) -> Path | None:
    """A spec file of the SpecsLayer (datasets/<dataset>.yaml in the repository), found on the function's path."""
    if "/" in dataset or dataset.startswith("."):
        return None
    for entry in sys.path:
        candidate = Path(entry or ".") / f"{dataset}{layout.SPEC_SUFFIX}"
        if candidate.is_file():
            return candidate
    return None


def how_to_add(bucket: str, dataset: str) -> str:
    return (f"upload its spec to s3://{bucket}/{layout.spec_key(dataset)} (draft one with `mlpipe spec infer FILE --target COLUMN`), "
            f"then upload the file again")


def load(bucket: str, dataset: str) -> tuple[DatasetSpec, dict]:
    """The dataset's spec and where it came from, or InputRejected saying what is wrong and how to fix it."""
    key = layout.spec_key(dataset)
    try:
        obj = aws.client("s3").get_object(Bucket=bucket, Key=key)
        text, origin = obj["Body"].read().decode("utf-8-sig"), {"key": key, "version_id": obj.get("VersionId")}
    except ClientError as err:
        if aws.error_code(err) not in ("NoSuchKey", "404"):
            raise
        path = shipped_spec_path(dataset)
        if path is None:
            raise InputRejected(f"dataset {dataset!r} has no spec: {how_to_add(bucket, dataset)}", dataset=dataset, spec_key=key) from None
        text, origin = path.read_text(), {"shipped": path.name}
    try:
        spec = load_spec_text(text, origin.get("key") or f"shipped spec {origin['shipped']}")
    except SpecError as err:
        raise InputRejected(f"the spec of dataset {dataset!r} is invalid: {err}", dataset=dataset, spec=origin) from None
    if spec.name != dataset:
        raise InputRejected(f"the spec at {origin.get('key') or origin['shipped']} names dataset {spec.name!r}, not {dataset!r}: "
                            f"a dataset's folder and its spec's name must agree", dataset=dataset, spec=origin)
    return spec, origin


def frozen(document: dict) -> DatasetSpec:
    """The spec a run froze (models/<run>/spec.json), without the note of where it came from."""
    return parse_spec({k: v for k, v in document.items() if k != "origin"}, "frozen spec")
