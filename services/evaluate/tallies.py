"""Running tallies of predictions against labels, one per problem type: fed chunk by chunk, their size is fixed.

A tally keeps what its metrics are functions of, never the rows: for binary problems the rows per
(label, score bin), with a bin edge at the threshold so the confusion matrix is exact; for
multiclass problems the confusion matrix; for regression sums over 1,000 interleaved groups of
rows. Log losses are summed exactly, and kept per (label, loss bin) for the intervals.

The 95 % intervals are a Poisson bootstrap (each row drawn Poisson(1) times, the streaming form of
resampling with replacement). A statistic of cell counts resamples exactly by drawing each cell's
count from Poisson(count), so 1,000 resamples cost the same for a hundred rows or ten million.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-15  # log loss clips probabilities as scikit-learn does
RESAMPLES = 1000
BATCH = 100  # resamples drawn at once
BOOTSTRAP_SEED = 20241125
SCORE_BINS = 1 << 15  # per side of the threshold: the AUC counts pairs within one bin as ties
COARSE_BINS = 1 << 10  # per side, for the resampled AUC
LOSS_BINS = 512  # log-loss bins (square-root spaced up to -log(EPS)), for the resampled log loss
GROUPS = 1000  # interleaved row groups of a regression tally
SAMPLE_ROWS = 20_000  # rows a regression tally keeps for residual quantiles and charts
CHART_BINS = 10
_LOSS_EDGES = np.linspace(0.0, math.sqrt(-math.log(EPS)), LOSS_BINS + 1)[1:-1] ** 2


def _ratio(num, den):
    return np.divide(num, den, out=np.zeros_like(np.asarray(num, dtype=float)), where=np.asarray(den) > 0)


def _f1(precision, recall):
    return _ratio(2 * precision * recall, precision + recall)


def _interval(values: np.ndarray, shift: float = 0.0) -> list[float] | None:
    values = values[np.isfinite(values)]
    if len(values) < RESAMPLES // 2:
        return None
    low, high = np.percentile(values, [2.5, 97.5]) + shift
    return [float(low), float(high)]


def _poisson(rng: np.random.Generator, counts: np.ndarray, copies: int = RESAMPLES) -> np.ndarray:
    """Poisson-bootstrap copies of a table of row counts. Callers may leave out the cells that hold no row: Poisson(0)
    is 0 and draws no random number, so the other cells get the same draws, at a fraction of the work."""
    return rng.poisson(np.broadcast_to(counts, (copies, *counts.shape)))


class LossTally:
    """Log losses: their exact sum, and per loss bin the rows and the sum, which the intervals resample."""

    def __init__(self):
        self.rows, self.sums = np.zeros(LOSS_BINS, np.int64), np.zeros(LOSS_BINS)

    def add(self, losses: np.ndarray) -> None:
        bins = np.searchsorted(_LOSS_EDGES, losses)
        self.rows += np.bincount(bins, minlength=LOSS_BINS)
        self.sums += np.bincount(bins, weights=losses, minlength=LOSS_BINS)

    def mean(self) -> float:
        return float(self.sums.sum() / max(self.rows.sum(), 1))

    def interval(self, rng: np.random.Generator) -> list[float] | None:
        held = np.flatnonzero(self.rows)
        drawn = _poisson(rng, self.rows[held])
        return _interval(_ratio(drawn @ _ratio(self.sums[held], self.rows[held]), drawn.sum(axis=1)))


# -- binary --------------------------------------------------------------------------------------------------------------
def _auc(negatives: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """Area under the ROC curve from rows per score bin (last axis, ascending), ties within a bin counted half."""
    below = np.cumsum(negatives, axis=-1) - negatives  # negatives in lower bins
    wins = (positives * (below + 0.5 * negatives)).sum(axis=-1)
    pairs = positives.sum(axis=-1) * negatives.sum(axis=-1)
    return np.divide(wins, pairs, out=np.full(np.shape(wins), np.nan), where=pairs > 0)


def _binary_counts(negatives: np.ndarray, positives: np.ndarray, half: int | None = None) -> dict:
    """Confusion counts from rows per bin, the bins from ``half`` on (by default the upper half) at or above the threshold."""
    half = negatives.shape[-1] // 2 if half is None else half
    tp, fn = positives[..., half:].sum(axis=-1), positives[..., :half].sum(axis=-1)
    fp, tn = negatives[..., half:].sum(axis=-1), negatives[..., :half].sum(axis=-1)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "precision": precision, "recall": recall,
            "accuracy": _ratio(tp + tn, tp + tn + fp + fn), "f1": _f1(precision, recall)}


class BinaryTally:
    def __init__(self, threshold: float):
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"the threshold must lie between 0 and 1, got {threshold}")
        self.threshold = threshold
        self.bins = np.zeros((2, 2 * SCORE_BINS), np.int64)  # [label, score bin]
        self.chart = np.zeros((2, CHART_BINS), np.int64)
        self.loss = LossTally()

    def _bin(self, p: np.ndarray) -> np.ndarray:
        t = self.threshold
        low = np.minimum((p / t * SCORE_BINS).astype(np.int64), SCORE_BINS - 1)
        high = SCORE_BINS + np.minimum(((p - t) / (1 - t) * SCORE_BINS).astype(np.int64), SCORE_BINS - 1)
        return np.where(p >= t, high, low)

    def add(self, y: np.ndarray, p: np.ndarray) -> "BinaryTally":
        _check_lengths(y, p)
        if ((p < 0) | (p > 1)).any():
            raise ValueError("predictions are not probabilities in [0, 1]; is the objective binary:logistic?")
        y = y.astype(np.int64)
        self.bins += np.bincount(y * 2 * SCORE_BINS + self._bin(p), minlength=4 * SCORE_BINS).reshape(2, -1)
        self.chart += np.bincount(y * CHART_BINS + np.minimum((p * CHART_BINS).astype(np.int64), CHART_BINS - 1),
                                  minlength=2 * CHART_BINS).reshape(2, -1)
        clipped = np.clip(p, EPS, 1 - EPS)
        self.loss.add(-np.where(y == 1, np.log(clipped), np.log1p(-clipped)))
        return self

    @property
    def rows(self) -> int:
        return int(self.bins.sum())

    def metrics(self) -> dict:
        _check_rows(self.rows)
        counts = _binary_counts(self.bins[0], self.bins[1])
        auc = float(_auc(self.bins[0], self.bins[1]))
        return {
            "threshold": self.threshold, "n_test": self.rows,
            **{name: float(counts[name]) for name in ("accuracy", "precision", "recall", "f1")},
            "roc_auc": None if math.isnan(auc) else auc,
            "log_loss": self.loss.mean(),
            "confusion_matrix": {name: int(counts[name]) for name in ("tp", "fp", "tn", "fn")},
        }

    def intervals(self, seed: int = BOOTSTRAP_SEED) -> dict:
        rng = np.random.default_rng(seed)
        coarse = self.bins.reshape(2, 2 * COARSE_BINS, -1).sum(axis=2)
        held = np.flatnonzero(coarse.sum(axis=0))  # empty bins add nothing to any count or to the AUC
        above = int(np.searchsorted(held, COARSE_BINS))  # the first held bin at or above the threshold
        resampled: dict[str, list[np.ndarray]] = {"accuracy": [], "f1": [], "roc_auc": []}
        for _ in range(RESAMPLES // BATCH):  # a batch at a time: the draws are the same, the memory a tenth
            drawn = _poisson(rng, coarse[:, held], BATCH)
            counts = _binary_counts(drawn[:, 0], drawn[:, 1], above)
            resampled["accuracy"].append(counts["accuracy"])
            resampled["f1"].append(counts["f1"])
            resampled["roc_auc"].append(_auc(drawn[:, 0], drawn[:, 1]))
        values = {name: np.concatenate(parts) for name, parts in resampled.items()}
        # the coarse bins tie more pairs than the fine ones: the resampled AUCs are moved by the difference
        shift = float(_auc(self.bins[0], self.bins[1]) - _auc(coarse[0], coarse[1]))
        return {"accuracy": _interval(values["accuracy"]), "roc_auc": _interval(values["roc_auc"], shift),
                "f1": _interval(values["f1"]), "log_loss": self.loss.interval(rng)}

    def charts(self) -> dict:
        return {"roc": self.roc_curve(), "probability_counts": self.chart.tolist()}

    def roc_curve(self, points: int = 1000) -> dict:
        """False and true positive rates at each score bin that holds rows, highest first, thinned to ``points``."""
        held = np.flatnonzero(self.bins.sum(axis=0))[::-1]
        negatives, positives = self.bins[0][held], self.bins[1][held]
        fps, tps = np.cumsum(negatives), np.cumsum(positives)
        keep = np.unique(np.linspace(0, len(held) - 1, min(points, len(held))).round().astype(int)) if len(held) else held
        edges = self._lower_edges()[held[keep]]
        return {"fpr": [0.0, *(fps[keep] / max(fps[-1] if len(fps) else 0, 1)).round(6).tolist()],
                "tpr": [0.0, *(tps[keep] / max(tps[-1] if len(tps) else 0, 1)).round(6).tolist()],
                "thresholds": [1.0, *edges.round(6).tolist()]}

    def _lower_edges(self) -> np.ndarray:
        steps = np.arange(SCORE_BINS) / SCORE_BINS
        return np.r_[steps * self.threshold, self.threshold + steps * (1 - self.threshold)]


# -- multiclass ----------------------------------------------------------------------------------------------------------
def _f1_scores(matrix: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-class precision, recall, F1 and support of confusion matrices (the last two axes: actual, predicted)."""
    tp = np.diagonal(matrix, axis1=-2, axis2=-1).astype(float)
    predicted, support = matrix.sum(axis=-2).astype(float), matrix.sum(axis=-1).astype(float)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    return precision, recall, _f1(precision, recall), support


def _macro_f1(matrix: np.ndarray) -> np.ndarray:
    """scikit-learn's macro average: over the classes that occur."""
    _, _, f1, support = _f1_scores(matrix)
    present = support > 0
    return _ratio((f1 * present).sum(axis=-1), present.sum(axis=-1))


class MulticlassTally:
    def __init__(self, classes: list[str]):
        self.classes = list(classes)
        k = len(self.classes)
        self.matrix = np.zeros((k, k), np.int64)
        self.loss = LossTally()

    def add(self, y: np.ndarray, probabilities: np.ndarray) -> "MulticlassTally":
        _check_lengths(y, probabilities)
        k = len(self.classes)
        if probabilities.ndim != 2 or probabilities.shape[1] != k:
            raise ValueError(f"predictions hold {probabilities.shape[-1]} probabilities per row for {k} classes; "
                             f"is the objective multi:softprob?")
        y = y.astype(np.int64)
        self.matrix += np.bincount(y * k + probabilities.argmax(axis=1), minlength=k * k).reshape(k, k)
        clipped = np.clip(probabilities, EPS, 1 - EPS)
        clipped = clipped / clipped.sum(axis=1, keepdims=True)
        self.loss.add(-np.log(clipped[np.arange(len(y)), y]))
        return self

    @property
    def rows(self) -> int:
        return int(self.matrix.sum())

    def metrics(self) -> dict:
        _check_rows(self.rows)
        precision, recall, f1, support = _f1_scores(self.matrix)
        return {
            "n_test": self.rows,
            "accuracy": float(np.trace(self.matrix) / self.rows),
            "macro_f1": float(_macro_f1(self.matrix)),
            "weighted_f1": float(np.average(f1, weights=support)) if support.sum() else 0.0,
            "log_loss": self.loss.mean(),
            "classes": self.classes,
            "confusion_matrix": {"labels": self.classes, "matrix": self.matrix.tolist()},
            "per_class": {c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                              "support": int(support[i])} for i, c in enumerate(self.classes)},
        }

    def intervals(self, seed: int = BOOTSTRAP_SEED) -> dict:
        rng = np.random.default_rng(seed)
        drawn = _poisson(rng, self.matrix)
        accuracy = _ratio(np.trace(drawn, axis1=1, axis2=2), drawn.sum(axis=(1, 2)))
        return {"accuracy": _interval(accuracy), "macro_f1": _interval(_macro_f1(drawn)), "log_loss": self.loss.interval(rng)}

    def charts(self) -> dict:
        return {}


# -- regression ----------------------------------------------------------------------------------------------------------
class RegressionTally:
    """Sums of each of GROUPS groups of rows (row i in group i mod GROUPS), whose Poisson(1)-weighted totals are the
    resamples; and a uniform sample of SAMPLE_ROWS rows for the residual quantiles and the charts."""

    SUMS = ("rows", "y", "y2", "r", "r2", "abs_r")

    def __init__(self, seed: int = BOOTSTRAP_SEED):
        self.groups = np.zeros((GROUPS, len(self.SUMS)))
        self.sample = np.empty((0, 2))  # actual, predicted
        self.low, self.high = math.inf, -math.inf
        self._rng = np.random.default_rng(seed)

    def add(self, y: np.ndarray, predicted: np.ndarray) -> "RegressionTally":
        _check_lengths(y, predicted)
        seen = self.rows
        r = y - predicted
        group = (seen + np.arange(len(y))) % GROUPS
        for column, values in enumerate((np.ones_like(y), y, y * y, r, r * r, np.abs(r))):
            self.groups[:, column] += np.bincount(group, weights=values, minlength=GROUPS)
        self.low, self.high = min(self.low, float(r.min())), max(self.high, float(r.max()))
        self._keep_sample(seen, np.column_stack([y, predicted]))
        return self

    def _keep_sample(self, seen: int, rows: np.ndarray) -> None:
        """Reservoir sampling: after n rows, each is in the sample with probability SAMPLE_ROWS / n."""
        room = max(0, SAMPLE_ROWS - len(self.sample))
        self.sample = np.vstack([self.sample, rows[:room]])
        rest = rows[room:]
        if len(rest):
            slots = self._rng.integers(0, seen + room + np.arange(1, len(rest) + 1))
            taken = slots < SAMPLE_ROWS
            self.sample[slots[taken]] = rest[taken]

    @property
    def rows(self) -> int:
        return int(round(self.groups[:, 0].sum()))

    @staticmethod
    def _scores(sums: np.ndarray) -> dict[str, np.ndarray]:
        n, y, y2, _, r2, abs_r = np.moveaxis(sums, -1, 0)
        total = y2 - y * y / np.maximum(n, 1)
        unexplained = np.divide(r2, total, out=np.full(np.shape(total), np.nan), where=total > 0)
        return {"rmse": np.sqrt(_ratio(r2, n)), "mae": _ratio(abs_r, n), "r2": 1 - unexplained}

    def metrics(self) -> dict:
        n = self.rows
        _check_rows(n)
        sums = self.groups.sum(axis=0)
        scores = self._scores(sums)
        residuals = self.sample[:, 0] - self.sample[:, 1]
        quantiles = np.quantile(residuals, [0.05, 0.25, 0.5, 0.75, 0.95])
        mean = sums[3] / n
        return {
            "n_test": n,
            "rmse": float(scores["rmse"]), "mae": float(scores["mae"]),
            "r2": None if math.isnan(scores["r2"]) else float(scores["r2"]),
            "residuals": {"mean": float(mean), "std": float(math.sqrt(max(sums[4] / n - mean * mean, 0.0))),
                          "min": self.low, "p05": float(quantiles[0]), "p25": float(quantiles[1]), "median": float(quantiles[2]),
                          "p75": float(quantiles[3]), "p95": float(quantiles[4]), "max": self.high,
                          "quantiles_of_rows": len(residuals)},
        }

    def intervals(self, seed: int = BOOTSTRAP_SEED) -> dict:
        weights = np.random.default_rng(seed).poisson(1.0, (RESAMPLES, GROUPS))
        return {name: _interval(values) for name, values in self._scores(weights @ self.groups).items()}

    def charts(self, points: int = 2000) -> dict:
        shown = self.sample[:: max(1, len(self.sample) // points)]
        return {"actual": shown[:, 0].tolist(), "predicted": shown[:, 1].tolist(),
                "residuals": (self.sample[:, 0] - self.sample[:, 1]).tolist()}


# -- shared --------------------------------------------------------------------------------------------------------------
def _check_lengths(y: np.ndarray, p: np.ndarray) -> None:
    if len(y) != len(p):
        raise ValueError(f"{len(p)} predictions for {len(y)} labels")


def _check_rows(n: int) -> None:
    if n == 0:
        raise ValueError("no predictions to evaluate")


def tally_for(problem_type: str, classes: list[str], threshold: float):
    if problem_type == "binary":
        return BinaryTally(threshold)
    if problem_type == "multiclass":
        return MulticlassTally(classes)
    return RegressionTally()
