"""One upload to the files training needs: validate, split, fit on training rows, apply, profile.

The same function runs in the preprocess Lambda function and, for large files, in a SageMaker
Processing job; both write what it returns.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import pandas as pd

from pipeline_common.errors import InputRejected
from pipeline_common.models import DatasetSpec, FittedTransform

from . import features as feature_lib
from . import profile as profile_lib
from .csvio import ROWS_AT_ONCE, matrix_csv, read_frame, read_upload
from .split import split_indices
from .validate import Target, check_columns, check_enough_rows, resolve_target, typed_features

ROW_ID = "row_id"


@dataclass
class Prepared:
    spec: DatasetSpec  # as used: problem type and positive class resolved
    transform: FittedTransform
    profile: dict
    # each in memory, or in a file of the scratch folder when prepare was given one
    train: bytes | Path  # label first, no header (built-in XGBoost CSV)
    test_features: bytes | Path  # no label, no header (batch transform input)
    test_labels: bytes | Path  # header row_id,label; the label as written in the file
    n_train: int
    n_test: int
    test_rows: pd.Index  # the held-out rows' positions in the file, in the order of the test files
    train_label_counts: dict = field(default_factory=dict)
    test_label_counts: dict = field(default_factory=dict)
    test_frame: pd.DataFrame | None = None  # the held-out rows as read, in test order (when asked for: keep_test_frame)


class RowView:
    """Some rows of a frame, a column at a time: what fitting reads (``view[name]``, ``len(view)``) without a copy of
    every column of those rows at once."""

    def __init__(self, frame: pd.DataFrame, positions: np.ndarray):
        self.frame, self.positions = frame, positions

    def __getitem__(self, name: str) -> pd.Series:
        return self.frame[name].iloc[self.positions]

    def __len__(self) -> int:
        return len(self.positions)


def row_ids(frame: pd.DataFrame, spec: DatasetSpec, positions: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The ids of the rows at ``positions``: from the first id column that is complete and unique, else the row's
    position in the file (1, 2, ...)."""
    for name in spec.row_id_columns():
        if name in frame.columns and frame[name].notna().all() and _unique(frame[name]):
            return frame[name].iloc[positions].astype(str).to_numpy(), name
    return (frame.index[positions] + 1).astype(str).to_numpy(), None


def _unique(values: pd.Series) -> bool:
    """Whether no value repeats; integer ids (csvio reads plain integers as numbers) by sorting a copy, which takes a
    fraction of the memory of the hash table ``is_unique`` builds."""
    if pd.api.types.is_integer_dtype(values.dtype):
        ordered = np.sort(values.to_numpy())
        return not bool((ordered[1:] == ordered[:-1]).any())
    return values.is_unique


def _label_text(target, positions: np.ndarray) -> pd.Series:
    values = target.values.iloc[positions]
    return values.map(lambda v: f"{v:.10g}") if target.problem_type == "regression" else values


def _labels_csv(ids: np.ndarray, labels: pd.Series, out: BinaryIO) -> None:
    """The held-out rows' ids and labels as CSV with a header, written as pandas' to_csv writes them (with the csv
    module, without its conversions of every cell), a slice of rows at a time."""
    for start in range(0, max(len(ids), 1), ROWS_AT_ONCE):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        if start == 0:
            writer.writerow([ROW_ID, "label"])
        writer.writerows(zip(ids[start:start + ROWS_AT_ONCE].tolist(), labels.iloc[start:start + ROWS_AT_ONCE].tolist()))
        out.write(text.getvalue().encode())


def _written(scratch: Path | None, name: str, write: Callable[[BinaryIO], None]) -> bytes | Path:
    """What ``write`` writes: its bytes, or with a scratch folder the file it went to (memory never holds it whole)."""
    if scratch is None:
        buffer = io.BytesIO()
        write(buffer)
        return buffer.getvalue()
    path = scratch / name
    with open(path, "wb") as out:
        write(out)
    return path


def _label_counts(target: Target, positions: np.ndarray) -> dict:
    """Rows of each class among those at ``positions``, by class name (none for a regression)."""
    if target.problem_type == "regression":
        return {}
    counts = np.bincount(target.labels[positions], minlength=len(target.classes))
    return {str(name): int(count) for name, count in sorted(zip(target.classes, counts)) if count}


def _encoded_csv(typed: pd.DataFrame, transform: FittedTransform, positions: np.ndarray, out: BinaryIO,
                 first: np.ndarray | None = None) -> None:
    """The model's input for the rows at ``positions`` as headerless CSV (``first``, the label, in front), encoded a
    slice of rows at a time: the float matrix of every row never sits in memory at once."""
    for start in range(0, len(positions), ROWS_AT_ONCE):
        chunk = positions[start:start + ROWS_AT_ONCE]
        rows = typed.iloc[chunk]
        out.write(matrix_csv(feature_lib.apply(rows, transform), first=None if first is None else first[chunk]))


def check_header(head: bytes, spec: DatasetSpec, complete: bool) -> None:
    """What the start of a file can prove wrong (encoding, separator, header, required columns), from its first rows:
    ``head`` is the whole file if ``complete``, else its first bytes, read up to the last full line."""
    if not complete:
        head = head[: head.rfind(b"\n") + 1] or head
    check_columns(read_frame(head, spec), spec, with_target=True)


def prepare(body: bytes | Path, spec: DatasetSpec, test_fraction: float, seed: int, keep_test_frame: bool = False,
            scratch: Path | None = None) -> Prepared:
    """``body``: the upload's bytes, or its path (a large upload on a Processing job: read a slice of rows at a time).
    ``keep_test_frame``: also return the held-out rows as read, so another version's transform can encode them
    without reading the file again. ``scratch``: a folder to write the training and test files to, instead of
    returning their bytes."""
    frame, header = read_upload(body, spec)
    rows_in = len(frame)
    if spec.target not in frame.columns:
        raise InputRejected(f"required column(s) missing: {spec.target}", missing_columns=[spec.target], columns=list(frame.columns))
    typed = typed_features(frame, spec, with_target=True)
    target = resolve_target(frame, spec)
    check_enough_rows(target, spec)
    resolved = spec.model_copy(update={"problem_type": target.problem_type, "positive_class": target.positive_class})
    ids_aside = [c for c in frame.columns if c not in resolved.row_id_columns()]
    hashes = profile_lib.record_hashes(frame[ids_aside])[frame.index.get_indexer(target.kept)]
    if not keep_test_frame:
        del frame  # the file as read: everything below works on the typed rows, and a large file's copy is worth freeing

    if target.dropped:
        typed = typed.loc[target.kept]
    typed = pd.concat([typed, feature_lib.derive(typed, resolved)], axis=1)
    labels = target.labels
    train_idx, test_idx = split_indices(target.problem_type, labels, test_fraction, seed)
    test_frame = frame.loc[typed.index[test_idx]] if keep_test_frame else None
    frame = None
    test_ids, id_column = row_ids(typed, resolved, test_idx)
    typed = typed[[*resolved.feature_columns(), *(feature.name for feature in resolved.derived)]]  # features only from here on
    transform, id_like = _fit(typed, train_idx, resolved, target, id_column)
    used = [c.name for c in transform.columns]
    numeric = {c.name for c in transform.columns if c.kind in ("numeric", "boolean")}
    profile = profile_lib.build(header, rows_in, hashes, typed, target.values, target.problem_type, resolved, used, numeric,
                                target.dropped, id_like, labels, train_idx, test_idx, seed)
    profile["n_train"], profile["n_test"] = len(train_idx), len(test_idx)

    label_numbers = labels.astype(float) if target.problem_type == "regression" else labels
    return Prepared(
        spec=resolved, transform=transform, profile=profile,
        train=_written(scratch, "train.csv", lambda out: _encoded_csv(typed, transform, train_idx, out, first=label_numbers)),
        test_features=_written(scratch, "test.csv", lambda out: _encoded_csv(typed, transform, test_idx, out)),
        test_labels=_written(scratch, "labels.csv", lambda out: _labels_csv(test_ids, _label_text(target, test_idx), out)),
        n_train=len(train_idx), n_test=len(test_idx), test_rows=typed.index[test_idx],
        train_label_counts=_label_counts(target, train_idx), test_label_counts=_label_counts(target, test_idx),
        test_frame=test_frame,
    )


def _fit(typed: pd.DataFrame, train_idx: np.ndarray, spec: DatasetSpec, target: Target,
         id_column: str | None) -> tuple[FittedTransform, list[str]]:
    """The transform fitted on the training rows, and the id-like columns it leaves out."""
    train_rows = RowView(typed, train_idx)
    id_like = profile_lib.id_like_columns(train_rows, spec)
    transform = feature_lib.fit(train_rows, spec, target.problem_type, target.classes, target.positive_class, id_column,
                                dropped=id_like)
    if not transform.features:
        raise InputRejected("no feature left to learn from: the spec declares no numeric, categorical or boolean column "
                            "besides the target (or every one was dropped as id-like)", dropped=id_like)
    return transform, id_like
