"""One upload to the files training needs: validate, split, fit on training rows, apply, profile.

The same function runs in the preprocess Lambda function and, for large files, in a SageMaker
Processing job; both write what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline_common.errors import InputRejected
from pipeline_common.models import DatasetSpec, FittedTransform

from . import features as feature_lib
from . import profile as profile_lib
from .csvio import decode, header_of, matrix_csv, read_frame
from .split import split_indices
from .validate import check_enough_rows, resolve_target, typed_features

ROW_ID = "row_id"


@dataclass
class Prepared:
    spec: DatasetSpec  # as used: problem type and positive class resolved
    transform: FittedTransform
    profile: dict
    train: bytes  # label first, no header (built-in XGBoost CSV)
    test_features: bytes  # no label, no header (batch transform input)
    test_labels: bytes  # header row_id,label; the label as written in the file
    n_train: int
    n_test: int
    test_rows: pd.Index  # the held-out rows' positions in the file, in the order of the test files
    train_label_counts: dict = field(default_factory=dict)
    test_label_counts: dict = field(default_factory=dict)


def row_ids(frame: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.Series, str | None]:
    """The first id column that is complete and unique, else the row's position in the file (1, 2, ...)."""
    for name in spec.row_id_columns():
        if name in frame.columns and frame[name].notna().all() and frame[name].is_unique:
            return frame[name].astype(str), name
    return pd.Series((frame.index + 1).astype(str), index=frame.index), None


def _label_text(target, positions: np.ndarray) -> pd.Series:
    values = target.values.iloc[positions]
    return values.map(lambda v: f"{v:.10g}") if target.problem_type == "regression" else values


def prepare(body: bytes, spec: DatasetSpec, test_fraction: float, seed: int) -> Prepared:
    text = decode(body)
    header = header_of(text)
    frame = read_frame(text, spec)
    rows_in = len(frame)
    if spec.target not in frame.columns:
        raise InputRejected(f"required column(s) missing: {spec.target}", missing_columns=[spec.target], columns=list(frame.columns))
    typed = typed_features(frame, spec, with_target=True)
    target = resolve_target(frame, spec)
    check_enough_rows(target, spec)
    resolved = spec.model_copy(update={"problem_type": target.problem_type, "positive_class": target.positive_class})

    typed = typed.loc[target.kept]
    typed = pd.concat([typed, feature_lib.derive(typed, resolved)], axis=1)
    ids, id_column = row_ids(typed, resolved)
    labels = target.labels
    train_idx, test_idx = split_indices(target.problem_type, labels, test_fraction, seed)

    train_rows = typed.iloc[train_idx]
    id_like = profile_lib.id_like_columns(train_rows, resolved)
    transform = feature_lib.fit(train_rows, resolved, target.problem_type, target.classes, target.positive_class,
                                id_column, dropped=id_like)
    if not transform.features:
        raise InputRejected("no feature left to learn from: the spec declares no numeric, categorical or boolean column "
                            "besides the target (or every one was dropped as id-like)", dropped=id_like)
    matrix = feature_lib.apply(typed, transform)
    used = [c.name for c in transform.columns]
    numeric = {c.name for c in transform.columns if c.kind in ("numeric", "boolean")}
    ids_aside = [c for c in frame.columns if c not in resolved.row_id_columns()]
    records = frame.loc[target.kept, ids_aside]
    profile = profile_lib.build(header, rows_in, records, typed, target.values, target.problem_type, resolved, used, numeric,
                                target.dropped, id_like, labels, train_idx, test_idx, seed)
    profile["n_train"], profile["n_test"] = len(train_idx), len(test_idx)

    label_numbers = labels.astype(float) if target.problem_type == "regression" else labels
    test_labels = pd.DataFrame({ROW_ID: ids.iloc[test_idx].to_numpy(), "label": _label_text(target, test_idx).to_numpy()})
    counts = (lambda idx: {} if target.problem_type == "regression"
              else {str(k): int(v) for k, v in target.values.iloc[idx].value_counts().sort_index().items()})
    return Prepared(
        spec=resolved, transform=transform, profile=profile,
        train=matrix_csv(matrix[train_idx], first=label_numbers[train_idx]),
        test_features=matrix_csv(matrix[test_idx]),
        test_labels=test_labels.to_csv(index=False, lineterminator="\n").encode(),
        n_train=len(train_idx), n_test=len(test_idx), test_rows=typed.index[test_idx],
        train_label_counts=counts(train_idx), test_label_counts=counts(test_idx),
    )
