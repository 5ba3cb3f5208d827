"""Commit markers: the small JSON manifest each stage writes after all of its data."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone


def file_entry(key: str, body: bytes) -> dict:
    return {"key": key, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def build(run_id: str, stage: str, files: dict[str, tuple[str, bytes]], **extra) -> dict:
    """A manifest naming every file the stage wrote, with sizes and checksums so the next stage can verify them."""
    return {
        "run_id": run_id,
        "stage": stage,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "files": {name: file_entry(key, body) for name, (key, body) in files.items()},
        **extra,
    }


def verify(manifest: dict, name: str, body: bytes) -> None:
    entry = manifest["files"][name]
    digest = hashlib.sha256(body).hexdigest()
    if digest != entry["sha256"]:
        raise ValueError(f"{entry['key']} does not match its manifest (sha256 {digest} != {entry['sha256']})")
