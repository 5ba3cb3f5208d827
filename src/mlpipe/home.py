"""MLPIPE_HOME: where the offline cloud keeps what outlives one command (default .mlpipe/)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("MLPIPE_HOME", ".mlpipe"))


def history_dir() -> Path:
    """A copy of the offline bucket after each run, read by `mlpipe runs` and `mlpipe show`."""
    return home() / "bucket"
