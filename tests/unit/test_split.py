"""Seeded, stratified splits and the files the built-in XGBoost reads."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from tabular.prepare import prepare
from tabular.split import quantile_strata, split_indices, stratified_indices
from tests.datasets import titanic_spec


@pytest.fixture(scope="module")
def titanic(titanic_bytes):
    return prepare(titanic_bytes, titanic_spec(), 0.2, 42)


def test_split_is_80_20_and_stratified(titanic):
    assert titanic.n_train + titanic.n_test == 891
    assert titanic.n_test == round(549 * 0.2) + round(342 * 0.2)  # per-class rounding
    assert titanic.test_label_counts == {"0": 110, "1": 68}
    train_rate = titanic.train_label_counts["1"] / titanic.n_train
    test_rate = titanic.test_label_counts["1"] / titanic.n_test
    assert abs(train_rate - test_rate) < 0.01


def test_training_file_is_builtin_xgboost_csv(titanic):
    train = np.loadtxt(io.BytesIO(titanic.train), delimiter=",", ndmin=2)
    n_features = len(titanic.transform.features)
    assert train.shape == (titanic.n_train, 1 + n_features)  # no header row: loadtxt would fail on one
    assert set(np.unique(train[:, 0])) == {0.0, 1.0}  # label in the first column
    test = np.loadtxt(io.BytesIO(titanic.test_features), delimiter=",", ndmin=2)
    assert test.shape == (titanic.n_test, n_features)  # features only


def test_labels_join_back_to_the_file_by_row_order(titanic_bytes, titanic):
    frame = pd.read_csv(io.BytesIO(titanic_bytes), dtype={"PassengerId": str}).set_index("PassengerId")
    labels = pd.read_csv(io.BytesIO(titanic.test_labels), dtype={"row_id": str, "label": str})
    features = pd.read_csv(io.BytesIO(titanic.test_features), header=None, names=titanic.transform.features)
    assert list(labels.columns) == ["row_id", "label"]
    original = frame.loc[labels["row_id"]]
    assert (original["Survived"].astype(str).to_numpy() == labels["label"].to_numpy()).all()
    assert np.allclose(original["Pclass"].to_numpy(dtype=float), features["Pclass"].to_numpy())
    assert np.allclose(original["Fare"].to_numpy(dtype=float), features["Fare"].to_numpy())


def test_same_seed_same_split_other_seed_other_split(titanic_bytes, titanic):
    assert prepare(titanic_bytes, titanic_spec(), 0.2, 42).test_labels == titanic.test_labels
    assert prepare(titanic_bytes, titanic_spec(), 0.2, 7).test_labels != titanic.test_labels


def test_input_sorted_by_label_is_shuffled():
    labels = np.array([0] * 50 + [1] * 50)
    train_idx, test_idx = stratified_indices(labels, 0.2, 42)
    assert sorted(np.concatenate([train_idx, test_idx]).tolist()) == list(range(100))
    assert labels[test_idx].sum() == 10
    # neither file keeps the sorted order: both classes appear in the first half of each
    assert 0 < labels[train_idx[:40]].sum() < 40
    assert 0 < labels[test_idx[:10]].sum() < 10


def test_every_class_keeps_a_row_on_both_sides():
    labels = np.array([0] * 20 + [1] * 2)
    train_idx, test_idx = stratified_indices(labels, 0.2, 1)
    assert labels[test_idx].sum() == 1 and labels[train_idx].sum() == 1


def test_a_regression_split_covers_the_whole_range_of_the_target():
    values = np.random.default_rng(0).lognormal(size=1000)
    strata = quantile_strata(values)
    assert sorted(np.bincount(strata).tolist()) == [100] * 10  # equal-frequency bins
    train_idx, test_idx = split_indices("regression", values, 0.2, 3)
    assert len(test_idx) == 200
    deciles = np.quantile(values, np.linspace(0, 1, 11))
    assert (np.histogram(values[test_idx], deciles)[0] == 20).all()  # 20 held-out rows from every decile


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_fraction_must_be_a_proper_share(fraction):
    with pytest.raises(ValueError, match="test fraction"):
        stratified_indices(np.array([0, 1, 0, 1]), fraction, 0)


def test_the_numeric_csv_reads_back_to_exactly_the_same_numbers():
    from tabular.csvio import matrix_csv

    rng = np.random.default_rng(3)
    matrix = np.column_stack([rng.integers(0, 3, 500), rng.normal(size=500), rng.uniform(-1e9, 1e9, 500).round(2),
                              np.full(500, 0.1), rng.integers(-5, 5, 500) * 1e16])
    matrix[rng.integers(0, 500, 40), 1] = np.nan
    labels = rng.integers(0, 2, 500)
    text = matrix_csv(matrix, labels)
    back = pd.read_csv(io.BytesIO(text), header=None, dtype=float).to_numpy()
    assert back.shape == (500, 6) and np.array_equal(back[:, 0], labels)
    assert np.array_equal(back[:, 1:], matrix, equal_nan=True)  # exact: shortest round-trip text, missing as empty
    assert text.startswith(f"{labels[0]},{int(matrix[0, 0])},".encode()) and b".0," not in text.split(b"\n")[0][:4]
    assert matrix_csv(np.zeros((0, 3))) == b""
