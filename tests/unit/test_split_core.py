import io

import numpy as np
import pandas as pd
import pytest

import preprocess_core
import split_core


@pytest.fixture(scope="module")
def processed(titanic_bytes) -> bytes:
    table, _ = preprocess_core.preprocess(titanic_bytes)
    return table


def do_split(processed_bytes: bytes, fraction: float = 0.2, seed: int = 42) -> split_core.SplitFiles:
    return split_core.split(processed_bytes, "Survived", "row_id", preprocess_core.FEATURES, fraction, seed)


def test_split_is_80_20_and_stratified(processed):
    files = do_split(processed)
    assert files.n_train + files.n_test == 891
    assert files.n_test == round(549 * 0.2) + round(342 * 0.2)  # per-class rounding
    assert files.test_label_counts == {"0": 110, "1": 68}
    train_rate = files.train_label_counts["1"] / files.n_train
    test_rate = files.test_label_counts["1"] / files.n_test
    assert abs(train_rate - test_rate) < 0.01


def test_training_file_is_builtin_xgboost_csv(processed):
    files = do_split(processed)
    train = np.loadtxt(io.BytesIO(files.train), delimiter=",", ndmin=2)
    assert train.shape == (files.n_train, 1 + len(preprocess_core.FEATURES))  # no header row: loadtxt would fail on one
    assert set(np.unique(train[:, 0])) == {0.0, 1.0}  # label in the first column
    test = np.loadtxt(io.BytesIO(files.test_features), delimiter=",", ndmin=2)
    assert test.shape == (files.n_test, len(preprocess_core.FEATURES))  # features only


def test_labels_join_back_to_features_by_row_order(processed):
    files = do_split(processed)
    table = pd.read_csv(io.BytesIO(processed), dtype={"row_id": str}).set_index("row_id")
    labels = pd.read_csv(io.BytesIO(files.test_labels), dtype={"row_id": str})
    features = pd.read_csv(io.BytesIO(files.test_features), header=None, names=preprocess_core.FEATURES)
    assert list(labels.columns) == ["row_id", "label"]
    original = table.loc[labels["row_id"]]
    assert (original["Survived"].to_numpy() == labels["label"].to_numpy()).all()
    assert np.allclose(original[preprocess_core.FEATURES].to_numpy(dtype=float), features.to_numpy(dtype=float))


def test_train_and_test_are_disjoint_and_cover_all_rows(processed):
    files = do_split(processed)
    train = pd.read_csv(io.BytesIO(files.train), header=None)
    test_ids = set(pd.read_csv(io.BytesIO(files.test_labels), dtype={"row_id": str})["row_id"])
    assert len(test_ids) == files.n_test and len(train) == files.n_train


def test_same_seed_same_split_other_seed_other_split(processed):
    assert do_split(processed, seed=42).test_labels == do_split(processed, seed=42).test_labels
    assert do_split(processed, seed=42).test_labels != do_split(processed, seed=7).test_labels


def test_input_sorted_by_label_is_shuffled():
    labels = np.array([0] * 50 + [1] * 50)
    train_idx, test_idx = split_core.stratified_indices(labels, 0.2, 42)
    assert sorted(np.concatenate([train_idx, test_idx]).tolist()) == list(range(100))
    assert labels[test_idx].sum() == 10
    # neither file keeps the sorted order: both classes appear in the first half of each
    assert 0 < labels[train_idx[:40]].sum() < 40
    assert 0 < labels[test_idx[:10]].sum() < 10


def test_every_class_keeps_a_row_on_both_sides():
    labels = np.array([0] * 20 + [1] * 2)
    train_idx, test_idx = split_core.stratified_indices(labels, 0.2, 1)
    assert labels[test_idx].sum() == 1 and labels[train_idx].sum() == 1


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_fraction_must_be_a_proper_share(fraction):
    with pytest.raises(ValueError, match="test fraction"):
        split_core.stratified_indices(np.array([0, 1, 0, 1]), fraction, 0)
