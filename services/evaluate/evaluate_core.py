"""Metrics of batch-transform predictions for binary, multiclass and regression problems, in plain numpy.

Every headline metric comes with a 95 % bootstrap interval: on a few hundred test rows a model's
accuracy moves by several points from one split to the next, and the interval says so.
"""

from __future__ import annotations

import io
import math
from typing import Callable

import numpy as np
import pandas as pd

from tabular.predictions import parse_predictions, prediction_columns

EPS = 1e-15  # log loss clips probabilities as scikit-learn does
HEADLINE = {
    "binary": ("accuracy", "roc_auc", "f1", "log_loss"),
    "multiclass": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
BOOTSTRAP_SEED = 20241125
BOOTSTRAP_BUDGET = 2_000_000  # resampled rows in all; fewer resamples for large test sets


# -- reading the transform output ------------------------------------------------------------------
def parse_labels(body: bytes) -> pd.DataFrame:
    labels = pd.read_csv(io.BytesIO(body), dtype={"row_id": str, "label": str}, keep_default_na=False)
    if list(labels.columns) != ["row_id", "label"]:
        raise ValueError(f"labels file must have columns row_id,label, got {list(labels.columns)}")
    return labels


# -- binary ------------------------------------------------------------------------------------------
def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney U form of the area under the ROC curve, with ties counted half."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(y: np.ndarray, p: np.ndarray) -> dict:
    """False and true positive rates at every distinct threshold, highest first."""
    order = np.argsort(-p, kind="mergesort")
    y_sorted, p_sorted = y[order], p[order]
    distinct = np.r_[np.flatnonzero(np.diff(p_sorted)), len(p_sorted) - 1]
    tps = np.cumsum(y_sorted)[distinct]
    fps = (distinct + 1) - tps
    n_pos, n_neg = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    return {
        "fpr": [0.0, *(fps / n_neg).round(6).tolist()],
        "tpr": [0.0, *(tps / n_pos).round(6).tolist()],
        "thresholds": [1.0, *p_sorted[distinct].round(6).tolist()],
    }


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def _binary_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    clipped = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    _check_lengths(y, p)
    y = y.astype(int)
    predicted = (p >= threshold).astype(int)
    tp = int(((predicted == 1) & (y == 1)).sum())
    fp = int(((predicted == 1) & (y == 0)).sum())
    tn = int(((predicted == 0) & (y == 0)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    auc = roc_auc(y, p)
    return {
        "threshold": threshold,
        "n_test": int(len(y)),
        "accuracy": (tp + tn) / len(y),
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "roc_auc": None if math.isnan(auc) else auc,
        "log_loss": _binary_log_loss(y, p),
        "confusion_matrix": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


# -- multiclass --------------------------------------------------------------------------------------
def _confusion(y: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y * k + predicted, minlength=k * k).reshape(k, k)


def _f1_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(matrix).astype(float)
    predicted, support = matrix.sum(axis=0).astype(float), matrix.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    return precision, recall, f1, support


def _multiclass_log_loss(y: np.ndarray, probabilities: np.ndarray) -> float:
    clipped = np.clip(probabilities, EPS, 1 - EPS)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(clipped[np.arange(len(y)), y])))


def multiclass_metrics(y: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    _check_lengths(y, probabilities)
    k = len(classes)
    predicted = probabilities.argmax(axis=1)
    matrix = _confusion(y, predicted, k)
    precision, recall, f1, support = _f1_scores(matrix)
    present = support > 0  # scikit-learn's macro average over the labels that occur
    return {
        "n_test": int(len(y)),
        "accuracy": float(np.mean(predicted == y)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float(np.average(f1, weights=support)) if support.sum() else 0.0,
        "log_loss": _multiclass_log_loss(y, probabilities),
        "classes": list(classes),
        "confusion_matrix": {"labels": list(classes), "matrix": matrix.tolist()},
        "per_class": {c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                          "support": int(support[i])} for i, c in enumerate(classes)},
    }


# -- regression --------------------------------------------------------------------------------------
def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict:
    _check_lengths(y, predicted)
    residuals = y - predicted
    total = float(np.sum((y - y.mean()) ** 2))
    quantiles = np.quantile(residuals, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "n_test": int(len(y)),
        "rmse": float(np.sqrt(np.mean(residuals ** 2))),
        "mae": float(np.mean(np.abs(residuals))),
        "r2": 1 - float(np.sum(residuals ** 2)) / total if total > 0 else None,
        "residuals": {"mean": float(residuals.mean()), "std": float(residuals.std()), "min": float(residuals.min()),
                      "p05": float(quantiles[0]), "p25": float(quantiles[1]), "median": float(quantiles[2]),
                      "p75": float(quantiles[3]), "p95": float(quantiles[4]), "max": float(residuals.max())},
    }


def _check_lengths(y: np.ndarray, p: np.ndarray) -> None:
    if len(y) != len(p):
        raise ValueError(f"{len(p)} predictions for {len(y)} labels")
    if len(y) == 0:
        raise ValueError("no predictions to evaluate")


# -- intervals ---------------------------------------------------------------------------------------
def headline_functions(problem_type: str, y: np.ndarray, predictions: np.ndarray, threshold: float) -> dict[str, Callable]:
    """Each headline metric as a function of a resample's row indices."""
    if problem_type == "binary":
        return {
            "accuracy": lambda i: float(np.mean((predictions[i] >= threshold) == (y[i] == 1))),
            "roc_auc": lambda i: roc_auc(y[i], predictions[i]),
            "f1": lambda i: _binary_f1(y[i], predictions[i] >= threshold),
            "log_loss": lambda i: _binary_log_loss(y[i], predictions[i]),
        }
    if problem_type == "multiclass":
        k = predictions.shape[1]
        predicted = predictions.argmax(axis=1)

        def macro_f1(i):
            _, _, f1, support = _f1_scores(_confusion(y[i], predicted[i], k))
            return float(f1[support > 0].mean())

        return {
            "accuracy": lambda i: float(np.mean(predicted[i] == y[i])),
            "macro_f1": macro_f1,
            "log_loss": lambda i: _multiclass_log_loss(y[i], predictions[i]),
        }
    residuals = y - predictions

    def r2(i):
        total = float(np.sum((y[i] - y[i].mean()) ** 2))
        return 1 - float(np.sum(residuals[i] ** 2)) / total if total > 0 else float("nan")

    return {
        "rmse": lambda i: float(np.sqrt(np.mean(residuals[i] ** 2))),
        "mae": lambda i: float(np.mean(np.abs(residuals[i]))),
        "r2": r2,
    }


def _binary_f1(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(predicted & (y == 1)))
    return _f1(_ratio(tp, predicted.sum()), _ratio(tp, (y == 1).sum()))


def bootstrap_intervals(functions: dict[str, Callable], n: int, resamples: int | None = None,
                        seed: int = BOOTSTRAP_SEED) -> dict[str, list[float] | None]:
    """95 % percentile intervals over resamples of the test rows (seeded, so a report reads the same twice)."""
    resamples = resamples or int(min(1000, max(100, BOOTSTRAP_BUDGET // max(n, 1))))
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(resamples):
        index = rng.integers(0, n, n)
        for name, fn in functions.items():
            value = fn(index)
            if value is not None and not math.isnan(value):
                values[name].append(value)
    return {name: ([float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if len(v) >= resamples // 2 else None)
            for name, v in values.items()}


# -- one run -------------------------------------------------------------------------------------------
def evaluate(prediction_parts: list[bytes], label_parts: list[bytes], problem_type: str, classes: list[str],
             threshold: float) -> tuple[dict, pd.DataFrame, np.ndarray, np.ndarray]:
    """Join each part's predictions to its labels by row order (the transform keeps input order) and score them.

    Returns the metrics, the joined predictions table, the labels as numbers and the raw predictions.
    """
    if len(prediction_parts) != len(label_parts):
        raise ValueError(f"{len(prediction_parts)} prediction files for {len(label_parts)} label files")
    predictions, labels = [], []
    for index, (out, lab) in enumerate(zip(prediction_parts, label_parts)):
        p, table = parse_predictions(out, problem_type, len(classes)), parse_labels(lab)
        if len(p) != len(table):
            raise ValueError(f"part {index}: {len(p)} predictions for {len(table)} test rows: the transform output is incomplete")
        predictions.append(p)
        labels.append(table)
    p = np.concatenate(predictions)
    table = pd.concat(labels, ignore_index=True)
    if problem_type == "regression":
        y = pd.to_numeric(table["label"]).to_numpy(dtype=float)
        result = regression_metrics(y, p)
        joined = table.assign(prediction=p, residual=y - p)
    else:
        index = {c: i for i, c in enumerate(classes)}
        unknown = sorted(set(table["label"]) - set(index))
        if unknown:
            raise ValueError(f"labels {unknown[:5]} are not among the classes {classes}")
        y = table["label"].map(index).to_numpy(dtype=np.int64)
        result = binary_metrics(y, p, threshold) if problem_type == "binary" else multiclass_metrics(y, p, classes)
        joined = pd.concat([table, prediction_columns(problem_type, classes, p, threshold)], axis=1)
    result["intervals"] = bootstrap_intervals(headline_functions(problem_type, y, p, threshold), len(y))
    return result, joined.rename(columns={"label": "actual"}), y, p
