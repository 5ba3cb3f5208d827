import numpy as np
import pytest
from sklearn import metrics as sk

import evaluate_core as core


def test_metrics_against_hand_computed_values():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.6, 0.4, 0.3, 0.7, 0.1, 0.5, 0.8])
    m = core.binary_metrics(y, p, 0.5)
    # predicted at >= 0.5: 1 1 0 0 1 0 1 1  -> tp=3 (0.9,0.6,0.8), fn=1 (0.4), fp=2 (0.7,0.5), tn=2
    assert m["confusion_matrix"] == {"tp": 3, "fp": 2, "tn": 2, "fn": 1}
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * (3 / 5) * (3 / 4) / (3 / 5 + 3 / 4))
    # AUC: of the 16 positive/negative pairs the positive ranks higher in 13
    # (0.9 and 0.8 beat all 4 negatives; 0.6 beats 3, not 0.7; 0.4 beats 0.3 and 0.1)
    assert m["roc_auc"] == pytest.approx(13 / 16)
    expected_loss = -np.mean([np.log(0.9), np.log(0.6), np.log(0.4), np.log(0.7), np.log(0.3), np.log(0.9), np.log(0.5), np.log(0.8)])
    assert m["log_loss"] == pytest.approx(expected_loss)
    assert m["n_test"] == 8 and m["threshold"] == 0.5


@pytest.mark.parametrize("seed", range(5))
def test_metrics_agree_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1).round(2)  # rounding makes ties
    m = core.binary_metrics(y, p, 0.5)
    predicted = (p >= 0.5).astype(int)
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert m["precision"] == pytest.approx(sk.precision_score(y, predicted))
    assert m["recall"] == pytest.approx(sk.recall_score(y, predicted))
    assert m["f1"] == pytest.approx(sk.f1_score(y, predicted))
    assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p))
    assert m["log_loss"] == pytest.approx(sk.log_loss(y, p))
    tn, fp, fn, tp = sk.confusion_matrix(y, predicted).ravel()
    assert m["confusion_matrix"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}


def test_roc_curve_agrees_with_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 100)
    p = rng.random(100).round(2)
    curve = core.roc_curve(y, p)
    fpr, tpr, _ = sk.roc_curve(y, p, drop_intermediate=False)
    assert np.allclose(curve["fpr"], fpr.round(6)) and np.allclose(curve["tpr"], tpr.round(6))


def test_threshold_moves_the_confusion_matrix():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.55, 0.45, 0.65, 0.35])
    assert core.binary_metrics(y, p, 0.5)["accuracy"] == 1.0
    assert core.binary_metrics(y, p, 0.6)["confusion_matrix"] == {"tp": 1, "fp": 0, "tn": 2, "fn": 1}


def test_single_class_has_no_auc_but_other_metrics():
    m = core.binary_metrics(np.array([1, 1]), np.array([0.8, 0.3]), 0.5)
    assert m["roc_auc"] is None and m["accuracy"] == 0.5


def test_predictions_parse_one_number_or_one_list_per_line():
    assert core.parse_predictions(b"0.25\n0.75\n\n", "binary").tolist() == [0.25, 0.75]
    assert core.parse_predictions(b"12.5\n-3\n", "regression").tolist() == [12.5, -3.0]
    probabilities = core.parse_predictions(b"[0.1, 0.2, 0.7]\n[0.5, 0.25, 0.25]\n", "multiclass", 3)
    assert probabilities.tolist() == [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]
    with pytest.raises(ValueError, match="one number per line"):
        core.parse_predictions(b"0.2\nabc\n", "binary")
    with pytest.raises(ValueError, match="not probabilities"):
        core.parse_predictions(b"0.2\n3.5\n", "binary")
    with pytest.raises(ValueError, match="2 probabilities per row for 3 classes"):
        core.parse_predictions(b"[0.5, 0.5]\n", "multiclass", 3)


def test_evaluate_joins_by_row_order_and_checks_counts():
    labels = b"row_id,label\n10,yes\n11,no\n12,yes\n"
    result, joined, _, _ = core.evaluate([b"0.9\n0.2\n0.4\n"], [labels], "binary", ["no", "yes"], 0.5)
    assert joined["row_id"].tolist() == ["10", "11", "12"]
    assert joined["prediction"].tolist() == ["yes", "no", "no"] and joined["actual"].tolist() == ["yes", "no", "yes"]
    assert result["confusion_matrix"] == {"tp": 1, "fp": 0, "tn": 1, "fn": 1}
    with pytest.raises(ValueError, match="2 predictions for 3 test rows"):
        core.evaluate([b"0.9\n0.2\n"], [labels], "binary", ["no", "yes"], 0.5)
    with pytest.raises(ValueError, match="not among the classes"):
        core.evaluate([b"0.9\n0.2\n0.1\n"], [labels], "binary", ["0", "1"], 0.5)


def test_parts_are_joined_each_to_its_own_labels():
    result, joined, y, _ = core.evaluate([b"0.9\n", b"0.2\n0.8\n"], [b"row_id,label\n1,1\n", b"row_id,label\n2,0\n3,1\n"],
                                         "binary", ["0", "1"], 0.5)
    assert joined["row_id"].tolist() == ["1", "2", "3"] and y.tolist() == [1, 0, 1] and result["accuracy"] == 1.0


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_metrics_agree_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 250)
    raw = rng.random((250, 4)) + np.eye(4)[y] * rng.random(250)[:, None]
    p = raw / raw.sum(axis=1, keepdims=True)
    classes = ["ant", "bee", "cat", "dog"]
    m = core.multiclass_metrics(y, p, classes)
    predicted = p.argmax(axis=1)
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert m["macro_f1"] == pytest.approx(sk.f1_score(y, predicted, average="macro"))
    assert m["weighted_f1"] == pytest.approx(sk.f1_score(y, predicted, average="weighted"))
    assert m["log_loss"] == pytest.approx(sk.log_loss(y, p))
    assert m["confusion_matrix"] == {"labels": classes, "matrix": sk.confusion_matrix(y, predicted).tolist()}
    assert m["per_class"]["bee"]["precision"] == pytest.approx(sk.precision_score(y, predicted, average=None)[1])
    assert m["per_class"]["dog"]["recall"] == pytest.approx(sk.recall_score(y, predicted, average=None)[3])


@pytest.mark.parametrize("seed", range(3))
def test_regression_metrics_agree_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, 300)
    predicted = y + rng.normal(0, 4, 300)
    m = core.regression_metrics(y, predicted)
    assert m["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, predicted)))
    assert m["mae"] == pytest.approx(sk.mean_absolute_error(y, predicted))
    assert m["r2"] == pytest.approx(sk.r2_score(y, predicted))
    assert m["residuals"]["median"] == pytest.approx(np.median(y - predicted))


def test_bootstrap_intervals_hold_the_estimate_and_narrow_with_more_rows():
    rng = np.random.default_rng(5)

    def width(n: int) -> tuple[float, dict]:
        y = rng.integers(0, 2, n)
        p = np.clip(y * 0.4 + rng.random(n) * 0.6, 0, 1)
        result, *_ = core.evaluate([("\n".join(map(str, p)) + "\n").encode()],
                                   [("row_id,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(y))).encode()],
                                   "binary", ["0", "1"], 0.5)
        low, high = result["intervals"]["accuracy"]
        assert low <= result["accuracy"] <= high
        assert set(result["intervals"]) == {"accuracy", "roc_auc", "f1", "log_loss"}
        return high - low, result

    small, _ = width(150)
    large, _ = width(5000)
    assert small > 0.08  # a 20 % split of a small file moves accuracy by several points
    assert large < small / 3
    intervals = core.bootstrap_intervals({"mean": lambda i: float(np.arange(100.0)[i].mean())}, 100, resamples=300)
    assert intervals["mean"][0] < 49.5 < intervals["mean"][1]
