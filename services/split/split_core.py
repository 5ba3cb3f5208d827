"""Seeded, stratified train/test split into the built-in XGBoost CSV format."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SplitFiles:
    train: bytes  # label first, then features; no header (built-in XGBoost CSV)
    test_features: bytes  # features only, no label, no header (batch transform input)
    test_labels: bytes  # header row_id,label, in the same row order as test_features
    n_train: int
    n_test: int
    train_label_counts: dict
    test_label_counts: dict


def stratified_indices(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle within each class and hold out ``round(n_class * test_fraction)`` rows of it (at least one).

    The result depends only on the labels, the fraction and the seed, never on the input's row order within a class.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) < 2:
            raise ValueError(f"class {cls} has {len(members)} row(s); a stratified split needs at least 2")
        members = rng.permutation(members)
        n_test = min(max(1, int(round(len(members) * test_fraction))), len(members) - 1)
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    # Shuffle across classes too, so neither file is sorted by label.
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))


def _csv(frame: pd.DataFrame, header: bool) -> bytes:
    return frame.to_csv(index=False, header=header, lineterminator="\n").encode()


def split(processed_csv: bytes, label: str, id_column: str, features: list[str], test_fraction: float, seed: int) -> SplitFiles:
    table = pd.read_csv(io.BytesIO(processed_csv), dtype={id_column: str})
    missing = [c for c in (id_column, label, *features) if c not in table.columns]
    if missing:
        raise ValueError(f"processed table lacks column(s) {missing}")
    train_idx, test_idx = stratified_indices(table[label].to_numpy(), test_fraction, seed)
    train, test = table.iloc[train_idx], table.iloc[test_idx]
    return SplitFiles(
        train=_csv(train[[label, *features]], header=False),
        test_features=_csv(test[features], header=False),
        test_labels=_csv(test[[id_column, label]].rename(columns={label: "label"}), header=True),
        n_train=len(train),
        n_test=len(test),
        train_label_counts={str(k): int(v) for k, v in train[label].value_counts().sort_index().items()},
        test_label_counts={str(k): int(v) for k, v in test[label].value_counts().sort_index().items()},
    )
