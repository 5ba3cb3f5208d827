import io

import numpy as np
import pytest
from sklearn import metrics as sk

import evaluate_core as core
import tallies


def _streams(predictions: list[bytes], labels: list[bytes]):
    return [(io.BytesIO(p), io.BytesIO(lab)) for p, lab in zip(predictions, labels)]


def _files(y, p, start: int = 0) -> tuple[bytes, bytes]:
    lines = "".join(("[" + ", ".join(repr(float(v)) for v in row) + "]" if np.ndim(row) else repr(float(row))) + "\n" for row in p)
    return lines.encode(), ("row_id,label\n" + "".join(f"{start + i},{v}\n" for i, v in enumerate(y))).encode()


def _flat(value, prefix=""):
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{prefix}{i}.").items()}
    return {prefix: value}


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


def test_auc_of_many_distinct_scores_is_within_a_bin_of_exact():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 400_000)
    p = 1 / (1 + np.exp(-(y - 0.5) * 1.5 - rng.normal(0, 1, len(y))))  # 400,000 distinct scores, many per bin
    assert core.binary_metrics(y, p, 0.3)["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p), abs=1e-5)


def test_roc_curve_agrees_with_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 100)
    p = rng.random(100).round(2)
    curve = tallies.BinaryTally(0.5).add(y, p).roc_curve()
    fpr, tpr, _ = sk.roc_curve(y, p, drop_intermediate=False)
    assert np.allclose(curve["fpr"], fpr.round(6)) and np.allclose(curve["tpr"], tpr.round(6))
    many = tallies.BinaryTally(0.5).add(rng.integers(0, 2, 50_000), rng.random(50_000)).roc_curve(points=500)
    assert len(many["fpr"]) == 501 and many["fpr"][-1] == 1.0 and many["tpr"][-1] == 1.0


def test_threshold_moves_the_confusion_matrix():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.55, 0.45, 0.65, 0.35])
    assert core.binary_metrics(y, p, 0.5)["accuracy"] == 1.0
    assert core.binary_metrics(y, p, 0.6)["confusion_matrix"] == {"tp": 1, "fp": 0, "tn": 2, "fn": 1}
    # a score a hair below the threshold is negative, one at it positive: the threshold is a bin edge
    assert core.binary_metrics(np.array([1, 1]), np.array([0.6 - 1e-12, 0.6]), 0.6)["confusion_matrix"]["tp"] == 1


def test_single_class_has_no_auc_but_other_metrics():
    m = core.binary_metrics(np.array([1, 1]), np.array([0.8, 0.3]), 0.5)
    assert m["roc_auc"] is None and m["accuracy"] == 0.5


def test_predictions_parse_one_number_or_one_list_per_line():
    assert core.parse_predictions(b"0.25\n0.75\n\n", "binary").tolist() == [0.25, 0.75]
    assert core.parse_predictions(b"12.5\n-3\n", "regression").tolist() == [12.5, -3.0]
    probabilities = core.parse_predictions(b"[0.1, 0.2, 0.7]\n[0.5, 0.25, 0.25]\n", "multiclass", 3)
    assert probabilities.tolist() == [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]
    with pytest.raises(ValueError, match="one number per line: 'abc' \\(line 2"):
        core.parse_predictions(b"0.2\nabc\n", "binary")
    with pytest.raises(ValueError, match="not probabilities"):
        core.parse_predictions(b"0.2\n3.5\n", "binary")
    with pytest.raises(ValueError, match="2 probabilities per row for 3 classes"):
        core.parse_predictions(b"[0.5, 0.5]\n", "multiclass", 3)
    with pytest.raises(ValueError, match="line 2 holds 2 values, line 1 3"):
        core.parse_predictions(b"[0.5, 0.25, 0.25]\n[0.5, 0.5]\n", "multiclass", 3)


def test_evaluate_joins_by_row_order_and_checks_counts():
    labels = b"row_id,label\n10,yes\n11,no\n12,yes\n"
    written = []
    result = core.evaluate(_streams([b"0.9\n0.2\n0.4\n"], [labels]), "binary", ["no", "yes"], 0.5, write=written.append)
    assert b"".join(written).decode().splitlines() == [
        "row_id,actual,prediction,probability", "10,yes,yes,0.9", "11,no,no,0.2", "12,yes,no,0.4"]
    assert result.metrics["confusion_matrix"] == {"tp": 1, "fp": 0, "tn": 1, "fn": 1}
    with pytest.raises(ValueError, match="part 0: 2 predictions for 3 test rows"):
        core.evaluate(_streams([b"0.9\n0.2\n"], [labels]), "binary", ["no", "yes"], 0.5)
    with pytest.raises(ValueError, match="part 0: 4 predictions for 3 test rows"):
        core.evaluate(_streams([b"0.9\n0.2\n0.1\n0.3\n"], [labels]), "binary", ["no", "yes"], 0.5, chunk_rows=2)
    with pytest.raises(ValueError, match="not among the classes"):
        core.evaluate(_streams([b"0.9\n0.2\n0.1\n"], [labels]), "binary", ["0", "1"], 0.5)


def test_joined_rows_carry_the_numbers_as_the_model_wrote_them():
    """Python's shortest text of each number, as the container writes it, is what formatting the parsed number gives:
    the joined file is the same whether the text is passed through or formatted again; a NaN is an empty field."""
    rng = np.random.default_rng(7)
    scores = rng.random(500).astype(np.float32).tolist() + [1e-05, 0.5, 1.0, 0.0, 5.960464477539063e-08]
    y = [int(v >= 0.5) for v in scores]
    for problem, classes in (("binary", ["0", "1"]), ("regression", [])):
        predictions, labels = _files(y, scores)
        written = []
        core.evaluate(_streams([predictions], [labels]), problem, classes, 0.5, write=written.append)
        column = [row.split(",")[-1 if problem == "binary" else 2] for row in b"".join(written).decode().splitlines()[1:]]
        assert column == [repr(float(v)) for v in scores]
    written = []
    core.evaluate(_streams([b"0.25\nnan\n"], [b"row_id,label\n1,1.5\n2,2.5\n"]), "regression", [], 0.5, write=written.append)
    assert b"".join(written).decode().splitlines()[1:] == ["1,1.5,0.25,1.25", "2,2.5,,"]


def test_parts_are_joined_each_to_its_own_labels():
    written = []
    result = core.evaluate(_streams([b"0.9\n", b"0.2\n0.8\n"], [b"row_id,label\n1,1\n", b"row_id,label\n2,0\n3,1\n"]),
                           "binary", ["0", "1"], 0.5, write=written.append)
    rows = b"".join(written).decode().splitlines()
    assert [row.split(",")[0] for row in rows] == ["row_id", "1", "2", "3"] and result.metrics["accuracy"] == 1.0


@pytest.mark.parametrize("problem", ["binary", "multiclass", "regression"])
def test_chunks_and_parts_change_nothing(problem):
    """Read in chunks of 7 rows over 3 parts or whole at once: the same metrics, intervals and joined rows."""
    rng = np.random.default_rng(8)
    n = 500
    if problem == "binary":
        classes, y = ["no", "yes"], rng.integers(0, 2, n)
        p = np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1).round(4)
        labels = np.array(classes)[y]
    elif problem == "multiclass":
        classes, y = ["a", "b", "c"], rng.integers(0, 3, n)
        raw = rng.random((n, 3)) + np.eye(3)[y]
        p = (raw / raw.sum(axis=1, keepdims=True)).round(4)
        labels = np.array(classes)[y]
    else:
        classes, y = [], rng.normal(10, 3, n).round(3)
        p, labels = (y + rng.normal(0, 1, n)).round(3), y
    whole, parts = [], []
    one = core.evaluate(_streams(*map(list, zip(_files(labels, p)))), problem, classes, 0.5, write=whole.append)
    cuts = [0, 120, 333, n]
    files = [_files(labels[a:b], p[a:b], a) for a, b in zip(cuts, cuts[1:])]
    many = core.evaluate(_streams([f[0] for f in files], [f[1] for f in files]), problem, classes, 0.5,
                         write=parts.append, chunk_rows=7)
    numbers = lambda d: {k: v for k, v in _flat(d).items() if isinstance(v, (int, float))}  # noqa: E731
    assert numbers(many.metrics) == pytest.approx(numbers(one.metrics), rel=1e-9)
    assert {k: v for k, v in _flat(many.metrics).items() if k not in numbers(many.metrics)} == \
        {k: v for k, v in _flat(one.metrics).items() if k not in numbers(one.metrics)}
    assert b"".join(parts) == b"".join(whole)
    assert len(b"".join(whole).splitlines()) == n + 1


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
    assert m["residuals"]["std"] == pytest.approx(np.std(y - predicted))


def test_regression_keeps_a_bounded_uniform_sample(monkeypatch):
    monkeypatch.setattr(tallies, "SAMPLE_ROWS", 2000)
    rng = np.random.default_rng(4)
    residuals = rng.exponential(2.0, 200_000)
    tally = tallies.RegressionTally()
    for start in range(0, len(residuals), 30_000):
        chunk = residuals[start:start + 30_000]
        tally.add(chunk, np.zeros_like(chunk))
    assert len(tally.sample) == 2000
    m = tally.metrics()
    assert m["residuals"]["quantiles_of_rows"] == 2000
    assert m["residuals"]["median"] == pytest.approx(np.median(residuals), rel=0.08)
    assert m["residuals"]["max"] == residuals.max() and m["rmse"] == pytest.approx(np.sqrt(np.mean(residuals ** 2)))
    # rows from every stretch of the input, not only the first ones
    kept = np.isin(tally.sample[:, 0], residuals[100_000:])
    assert 0.4 < kept.mean() < 0.6


def test_a_tally_does_not_grow_with_rows():
    rng = np.random.default_rng(2)
    small, large = tallies.BinaryTally(0.5), tallies.BinaryTally(0.5)
    small.add(rng.integers(0, 2, 10), rng.random(10))
    for _ in range(10):
        large.add(rng.integers(0, 2, 100_000), rng.random(100_000))
    size = lambda t: t.bins.nbytes + t.chart.nbytes + t.loss.rows.nbytes + t.loss.sums.nbytes  # noqa: E731
    assert size(small) == size(large) and large.rows == 1_000_000


def test_bootstrap_intervals_hold_the_estimate_and_narrow_with_more_rows():
    rng = np.random.default_rng(5)

    def width(n: int) -> float:
        y = rng.integers(0, 2, n)
        p = np.clip(y * 0.4 + rng.random(n) * 0.6, 0, 1)
        result = core.evaluate(_streams(*map(list, zip(_files(y, p)))), "binary", ["0", "1"], 0.5).metrics
        assert set(result["intervals"]) == {"accuracy", "roc_auc", "f1", "log_loss"}
        for name, (low, high) in result["intervals"].items():
            assert low <= result[name] <= high, name
        low, high = result["intervals"]["accuracy"]
        # the classical standard error of a proportion: the resamples agree with it
        se = np.sqrt(result["accuracy"] * (1 - result["accuracy"]) / n)
        assert (high - low) == pytest.approx(2 * 1.96 * se, rel=0.15)
        return high - low

    small, large = width(150), width(5000)
    assert small > 0.08  # a 20 % split of a small file moves accuracy by several points
    assert large < small / 3


def test_regression_and_multiclass_intervals_hold_their_estimates():
    rng = np.random.default_rng(9)
    y = rng.normal(0, 5, 3000)
    m = tallies.RegressionTally().add(y, y + rng.normal(0, 2, 3000))
    metrics, intervals = m.metrics(), m.intervals()
    for name in ("rmse", "mae", "r2"):
        low, high = intervals[name]
        assert low < metrics[name] < high
    assert intervals["rmse"][1] - intervals["rmse"][0] == pytest.approx(2 * 1.96 * 2 / np.sqrt(2 * 3000) , rel=0.25)
    k = rng.integers(0, 3, 2000)
    raw = rng.random((2000, 3)) + 0.5 * np.eye(3)[k]
    c = tallies.MulticlassTally(["a", "b", "c"]).add(k, raw / raw.sum(axis=1, keepdims=True))
    metrics, intervals = c.metrics(), c.intervals()
    for name in ("accuracy", "macro_f1", "log_loss"):
        low, high = intervals[name]
        assert low < metrics[name] < high
