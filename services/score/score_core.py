"""Scoring a file with a dataset's approved version: the pure parts (requests, manifests, the joined predictions)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from pipeline_common import layout
from pipeline_common.errors import InputRejected
from pipeline_common.models import FileEntry, ModelVersion, ScoringManifest

from tabular.predictions import parse_predictions, prediction_columns
from tabular.score import input_table

STAGES = ("score", "transform", "predictions")


def check_size(size: int, limit_bytes: int) -> None:
    if size > limit_bytes:
        raise InputRejected(f"file is {size} bytes, larger than the {limit_bytes}-byte limit of this function (MaxInputMegabytes)",
                            size=size, limit=limit_bytes)


def no_approved_version(dataset: str) -> InputRejected:
    return InputRejected(f"dataset {dataset!r} has no approved model version to score with: upload a training file to "
                         f"raw/{dataset}/ and let the gate approve it, or approve a version with `mlpipe approve`", dataset=dataset)


def scoring_manifest(run_id: str, dataset: str, source: dict, version: ModelVersion, problem_type: str, classes: list[str],
                     encoded: bytes, rows: int) -> ScoringManifest:
    key = layout.RunKeys(run_id).scoring_input(0)
    return ScoringManifest(
        run_id=run_id, dataset=dataset, source=source, created_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        rows=rows, model_version=version, problem_type=problem_type, classes=classes,
        files={"input-00000": FileEntry(key=key, bytes=len(encoded), sha256=hashlib.sha256(encoded).hexdigest(), rows=rows)},
    )


def joined(upload: bytes, outputs: list[bytes], manifest: ScoringManifest, threshold: float) -> pd.DataFrame:
    """Every input column in input order, then ``prediction`` and the probabilities, row by row."""
    table = input_table(upload)
    predictions = np.concatenate([parse_predictions(body, manifest.problem_type, len(manifest.classes)) for body in outputs])
    if len(predictions) != len(table):
        raise ValueError(f"{len(predictions)} predictions for {len(table)} rows: the transform output is incomplete")
    taken = [c for c in ("prediction", "probability") if c in table.columns]
    if taken:
        raise InputRejected(f"the file already has column(s) {', '.join(taken)}, which scoring adds", columns=taken)
    return pd.concat([table, prediction_columns(manifest.problem_type, manifest.classes, predictions, threshold)], axis=1)
