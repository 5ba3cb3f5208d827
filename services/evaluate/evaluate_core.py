"""Binary classification metrics of batch-transform predictions, in plain numpy (no scikit-learn in the package)."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

EPS = 1e-15  # log loss clips probabilities as scikit-learn does


def parse_predictions(body: bytes) -> np.ndarray:
    """One probability per line, as the built-in XGBoost writes for binary:logistic with AssembleWith Line."""
    lines = [line.strip() for line in body.decode().splitlines() if line.strip()]
    try:
        # Some versions write "p" and others "p," or a JSON-ish list: keep the first number of each line.
        values = np.array([float(line.strip("[]").split(",")[0]) for line in lines])
    except ValueError as err:
        raise ValueError(f"prediction output is not one number per line: {err}") from None
    if ((values < 0) | (values > 1)).any():
        raise ValueError("predictions are not probabilities in [0, 1]; is the objective binary:logistic?")
    return values


def parse_labels(body: bytes) -> pd.DataFrame:
    labels = pd.read_csv(io.BytesIO(body), dtype={"row_id": str})
    if list(labels.columns) != ["row_id", "label"]:
        raise ValueError(f"labels file must have columns row_id,label, got {list(labels.columns)}")
    return labels


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney U form of the area under the ROC curve, with ties counted half."""
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
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


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    if len(y) != len(p):
        raise ValueError(f"{len(p)} predictions for {len(y)} labels")
    if len(y) == 0:
        raise ValueError("no predictions to evaluate")
    y = y.astype(int)
    predicted = (p >= threshold).astype(int)
    tp = int(((predicted == 1) & (y == 1)).sum())
    fp = int(((predicted == 1) & (y == 0)).sum())
    tn = int(((predicted == 0) & (y == 0)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    clipped = np.clip(p, EPS, 1 - EPS)
    log_loss = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
    auc = roc_auc(y, p)
    return {
        "threshold": threshold,
        "n_test": int(len(y)),
        "accuracy": (tp + tn) / len(y),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0,
        "roc_auc": None if math.isnan(auc) else auc,
        "log_loss": log_loss,
        "confusion_matrix": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


def evaluate(predictions_body: bytes, labels_body: bytes, threshold: float) -> tuple[dict, pd.DataFrame]:
    """Join predictions to labels by row order (the transform keeps input order) and score them."""
    p = parse_predictions(predictions_body)
    labels = parse_labels(labels_body)
    if len(p) != len(labels):
        raise ValueError(f"{len(p)} predictions for {len(labels)} test rows: the transform output is incomplete")
    joined = labels.assign(probability=p, predicted=(p >= threshold).astype(int))
    return metrics(labels["label"].to_numpy(), p, threshold), joined
