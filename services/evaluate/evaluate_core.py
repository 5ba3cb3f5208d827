"""Predictions of batch transform scored against the held-out labels, part by part and chunk by chunk.

Each part's transform output is read beside its labels file, CHUNK_ROWS rows at a time: the tally
of the problem type (``tallies.py``) takes the chunk, and the joined rows go to ``write`` as CSV.
Memory holds one chunk and the tally, whatever the number of test rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable

import numpy as np
import pandas as pd

from tabular.predictions import PredictionReader, parse_predictions, prediction_columns
from tallies import BinaryTally, MulticlassTally, RegressionTally, tally_for

__all__ = ["BinaryTally", "MulticlassTally", "RegressionTally", "Evaluation", "evaluate", "parse_predictions",
           "binary_metrics", "multiclass_metrics", "regression_metrics"]

CHUNK_ROWS = 100_000
HEADLINE = {
    "binary": ("accuracy", "roc_auc", "f1", "log_loss"),
    "multiclass": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


@dataclass
class Evaluation:
    metrics: dict  # the problem type's metrics, with "intervals"
    charts: dict  # what the report draws: bounded in size


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    return BinaryTally(threshold).add(y, p).metrics()


def multiclass_metrics(y: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    return MulticlassTally(classes).add(y, probabilities).metrics()


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict:
    return RegressionTally().add(y, predicted).metrics()


def _label_chunks(stream: BinaryIO, rows: int) -> Iterable[pd.DataFrame]:
    reader = pd.read_csv(stream, dtype={"row_id": str, "label": str}, keep_default_na=False, chunksize=rows)
    for chunk in reader:
        if list(chunk.columns) != ["row_id", "label"]:
            raise ValueError(f"labels file must have columns row_id,label, got {list(chunk.columns)}")
        yield chunk


def _numbers(labels: pd.Series, problem_type: str, index: dict[str, int]) -> np.ndarray:
    if problem_type == "regression":
        return pd.to_numeric(labels).to_numpy(dtype=float)
    codes = pd.Categorical(labels, categories=list(index)).codes  # -1: not among the classes
    if (codes < 0).any():
        unknown = sorted(set(labels[codes < 0]))
        raise ValueError(f"labels {unknown[:5]} are not among the classes {list(index)}")
    return codes.astype(np.int64)


def evaluate(parts: Iterable[tuple[BinaryIO, BinaryIO]], problem_type: str, classes: list[str], threshold: float,
             write: Callable[[bytes], None] | None = None, chunk_rows: int = CHUNK_ROWS) -> Evaluation:
    """Score each part's predictions (one per line, in the order of its labels file: the transform keeps input order)
    against its labels, (predictions stream, labels stream) per part; ``write`` receives the joined rows as CSV."""
    tally = tally_for(problem_type, classes, threshold)
    index = {c: i for i, c in enumerate(classes)}
    header = True
    for number, (predictions_stream, labels_stream) in enumerate(parts):
        predictions = PredictionReader(predictions_stream, problem_type, len(classes))
        labelled = predicted = 0
        chunks = _label_chunks(labels_stream, chunk_rows)
        for table in chunks:
            labelled += len(table)
            lines = predictions.take_lines(len(table))
            p = predictions.parse(lines)
            predicted += len(p)
            if len(p) < len(table):
                labelled += sum(len(rest) for rest in chunks)
                break
            y = _numbers(table["label"], problem_type, index)
            tally.add(y, p)
            if write is not None:
                joined = table.rename(columns={"label": "actual"}).reset_index(drop=True)
                joined = pd.concat([joined, prediction_columns(problem_type, classes, p, threshold, lines)], axis=1)
                if problem_type == "regression":
                    joined["residual"] = y - p
                buffer = io.StringIO()
                joined.to_csv(buffer, index=False, header=header)
                write(buffer.getvalue().encode())
                header = False
        predicted += predictions.count_rest()
        if predicted != labelled:
            raise ValueError(f"part {number}: {predicted} predictions for {labelled} test rows: the transform output is incomplete")
    return Evaluation({**tally.metrics(), "intervals": tally.intervals()}, tally.charts())
