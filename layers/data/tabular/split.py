"""Seeded, stratified train/test split: by class for classification, by target quantile for regression."""

from __future__ import annotations

import numpy as np


def stratified_indices(strata: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle within each stratum and hold out ``round(n * test_fraction)`` rows of it (at least one).

    The result depends only on the strata, the fraction and the seed, never on the input's row order within a stratum.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        if len(members) < 2:
            raise ValueError(f"stratum {stratum} has {len(members)} row(s); a stratified split needs at least 2")
        members = rng.permutation(members)
        n_test = min(max(1, int(round(len(members) * test_fraction))), len(members) - 1)
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    # Shuffle across strata too, so neither file is sorted by label.
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))


def quantile_strata(values: np.ndarray, max_bins: int = 10, min_per_bin: int = 5) -> np.ndarray:
    """Equal-frequency bins of a numeric target, so both sides of a regression split cover its whole range."""
    n = len(values)
    bins = max(1, min(max_bins, n // min_per_bin))
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(values, kind="mergesort")] = np.arange(n)
    return ranks * bins // n


def split_indices(problem_type: str, labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    strata = quantile_strata(labels) if problem_type == "regression" else labels
    return stratified_indices(strata, test_fraction, seed)
