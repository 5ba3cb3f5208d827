"""MLPIPE_HOME: the offline account that outlives one command (default .mlpipe/), as an AWS account does.

- ``bucket/``: the bucket's objects (what `mlpipe runs` and `mlpipe show` read);
- ``sagemaker.json``: jobs, models, the model registry and endpoints of the offline SageMaker;
- ``parameters.json``: the offline stack's Parameter overrides, kept like a deployed stack's (`--param` changes them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

CLOUD_RECORD = "cloud.json"  # published by a running `mlpipe cloud` (offline/served.py)


def home() -> Path:
    return Path(os.environ.get("MLPIPE_HOME", ".mlpipe"))


def history_dir() -> Path:
    """The offline bucket on disk, read by `mlpipe runs` and `mlpipe show`."""
    return home() / "bucket"


def stack_parameters(changes: dict[str, str]) -> dict[str, str]:
    """The offline stack's Parameter overrides after applying ``changes``; saved for the next command."""
    path = home() / "parameters.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}
    if changes:
        saved.update(changes)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2, sort_keys=True))
    return saved
