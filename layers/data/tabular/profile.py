"""The data profile and the warnings a careful analyst would raise before trusting a model.

Descriptive statistics cover every row with a target. Decisions that shape the model (which
columns are id-like and dropped) look at training rows only; the leakage check fits a
one-column rule on training rows and scores it on test rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline_common.models import DatasetSpec

HIGH_MISSING = 0.5  # share of missing values that earns a warning
IMBALANCE = 0.1  # smallest class share (binary) or smallest/largest class ratio (multiclass)
LEAKAGE_SCORE = 0.98  # balanced accuracy (classes) or R² (regression) of one column alone on the test rows
MIN_ID_ROWS = 20
SAMPLE = 100_000  # rows the leakage check looks at, at most


def warning(kind: str, message: str, column: str | None = None, **details) -> dict:
    entry = {"kind": kind, "message": message}
    if column is not None:
        entry["column"] = column
    return {**entry, **details}


def id_like_columns(train: pd.DataFrame, spec: DatasetSpec) -> list[str]:
    """Feature columns that identify rows rather than describe them: unique text per row, or distinct whole
    numbers that grow (or shrink) with the row's position, as row numbers and serial numbers do."""
    found = []
    rows = len(train)
    if rows < MIN_ID_ROWS:
        return found
    for name in spec.feature_columns():
        values = train[name].dropna()
        if len(values) < rows:
            continue
        kind = spec.columns[name].type
        if (kind == "categorical" and values.nunique() == rows) or (kind == "numeric" and _serial(values)):
            found.append(name)
    return found


def _serial(values: pd.Series) -> bool:
    """Distinct whole numbers that grow or shrink with the row's position in the file."""
    numbers = values.to_numpy(dtype=float)
    if not np.all(np.mod(numbers, 1) == 0) or np.ptp(numbers) < len(numbers) - 1:
        return False  # cheap tests first: distinct whole numbers span at least as many as there are
    steps = np.diff(values.sort_index().to_numpy(dtype=float))
    return bool(np.all(steps > 0) or np.all(steps < 0))


def _single_value(values: pd.Series) -> bool:
    """Whether the values hold one distinct value at most, missing ones aside (by min and max: no hashing)."""
    present = values.cat.codes[values.notna()] if isinstance(values.dtype, pd.CategoricalDtype) else values.dropna()
    return len(present) == 0 or present.min() == present.max()


def _clean(value):
    if isinstance(value, (float, np.floating)) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _clean_nested(mapping: dict) -> dict:
    return {str(k): (_clean_nested(v) if isinstance(v, dict) else _clean(v)) for k, v in mapping.items()}


def _keys(train_values: pd.Series, values: pd.Series, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """A one-column rule's inputs: quantile bins (edges from training rows) or levels; missing is a key of its own."""
    if numeric:
        present = train_values.dropna().to_numpy(dtype=float)
        edges = np.unique(np.quantile(present, np.linspace(0, 1, 21)[1:-1])) if len(present) else np.array([])

        def to_keys(v: pd.Series) -> np.ndarray:
            keys = np.searchsorted(edges, v.to_numpy(dtype=float), side="right").astype(np.int64)
            keys[v.isna().to_numpy()] = -1
            return keys

        return to_keys(train_values), to_keys(values)
    return train_values.cat.codes.to_numpy(), values.cat.codes.to_numpy()  # levels of a categorical: -1 is missing


def _one_column_score(train_keys, test_keys, y_train, y_test, regression: bool) -> float:
    table = pd.DataFrame({"key": train_keys, "y": y_train})
    if regression:
        means = table.groupby("key")["y"].mean()
        predicted = pd.Series(test_keys).map(means).fillna(float(np.mean(y_train))).to_numpy()
        total = float(np.sum((y_test - np.mean(y_test)) ** 2))
        return 1 - float(np.sum((y_test - predicted) ** 2)) / total if total > 0 else 0.0
    majority = table.groupby("key")["y"].agg(lambda s: s.value_counts().index[0])
    fallback = pd.Series(y_train).value_counts().index[0]
    predicted = pd.Series(test_keys).map(majority).fillna(fallback).to_numpy()
    recalls = [float(np.mean(predicted[y_test == c] == c)) for c in np.unique(y_test)]
    return float(np.mean(recalls))


def _linear_score(train_values: pd.Series, test_values: pd.Series, y_train: np.ndarray, y_test: np.ndarray) -> float:
    """R² on the test rows of a straight line fitted on the training rows (rows where the column has a value)."""
    train_ok, test_ok = train_values.notna().to_numpy(), test_values.notna().to_numpy()
    if train_ok.sum() < 3 or test_ok.sum() < 3 or np.ptp(train_values[train_ok]) == 0:
        return 0.0
    slope, intercept = np.polyfit(train_values[train_ok].to_numpy(dtype=float), y_train[train_ok], 1)
    actual = y_test[test_ok]
    predicted = slope * test_values[test_ok].to_numpy(dtype=float) + intercept
    total = float(np.sum((actual - actual.mean()) ** 2))
    return 1 - float(np.sum((actual - predicted) ** 2)) / total if total > 0 else 0.0


def leakage_suspects(frame: pd.DataFrame, columns: list[str], numeric: set[str], labels: np.ndarray,
                     train_idx: np.ndarray, test_idx: np.ndarray, regression: bool, seed: int) -> list[dict]:
    """Columns that alone predict the target almost perfectly on the test rows (including through their missingness)."""
    rng = np.random.default_rng(seed)
    train_idx = rng.choice(train_idx, SAMPLE, replace=False) if len(train_idx) > SAMPLE else train_idx
    test_idx = rng.choice(test_idx, SAMPLE // 2, replace=False) if len(test_idx) > SAMPLE // 2 else test_idx
    if len(test_idx) < 20:
        return []
    y_train, y_test = labels[train_idx], labels[test_idx]
    found = []
    for name in columns:
        values = frame[name]
        train_values, test_values = values.iloc[train_idx], values.iloc[test_idx]
        score, how = 0.0, "its values"
        if 0 < train_values.isna().sum() < len(train_values):
            score, how = _one_column_score(train_values.isna().to_numpy(), test_values.isna().to_numpy(), y_train, y_test,
                                           regression), "whether it is missing"
        if score < LEAKAGE_SCORE:
            train_keys, test_keys = _keys(train_values, test_values, name in numeric)
            score, how = _one_column_score(train_keys, test_keys, y_train, y_test, regression), "its values"
            if regression and name in numeric:
                score = max(score, _linear_score(train_values, test_values, y_train, y_test))
        if score >= LEAKAGE_SCORE:
            measure = "R²" if regression else "balanced accuracy"
            found.append(warning("target_leakage_suspect", f"{name} alone predicts the target through {how} "
                                 f"({measure} {score:.3f} on the test rows): is it known before the outcome?",
                                 column=name, score=round(score, 4)))
    return found


def class_warning(counts: pd.Series, problem_type: str) -> list[dict]:
    if problem_type == "regression" or counts.empty:
        return []
    smallest, largest, total = counts.min(), counts.max(), counts.sum()
    share = smallest / total if problem_type == "binary" else smallest / largest
    if share < IMBALANCE:
        rare = str(counts.idxmin())
        measure = f"{share:.1%} of the rows" if problem_type == "binary" else f"{share:.1%} of the largest class"
        return [warning("class_imbalance", f"class {rare} is {measure}: accuracy alone will flatter the model; "
                        f"read recall and the confusion matrix", column=None, class_counts={str(k): int(v) for k, v in counts.items()})]
    return []


def record_hashes(records: pd.DataFrame) -> np.ndarray:
    """One hash per record, of its values in every column it has: equal records, equal hashes."""
    return pd.util.hash_pandas_object(records, index=False).to_numpy()


def duplicate_warnings(hashes: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray) -> list[dict]:
    """Records that appear more than once: the same values in every column the spec reads, ids aside."""
    duplicates = int(pd.Series(hashes).duplicated().sum())
    found = []
    if duplicates:
        found.append(warning("duplicate_rows", f"{duplicates} row(s) repeat an earlier row (same values in every column, ids aside)",
                             count=duplicates))
        across = pd.Series(hashes[test_idx]).isin(hashes[train_idx]).to_numpy()  # by hashing: np.isin sorts
        if across.any():
            found.append(warning("duplicates_across_split", f"{int(across.sum())} test row(s) also appear among the training rows: "
                                 f"the test score is optimistic for them", count=int(across.sum())))
    return found


def correlations(columns: dict[str, pd.Series], block: int = 65536) -> dict[str, dict[str, float]]:
    """Pearson correlations of each pair over the rows where both have a value (as DataFrame.corr), from sums taken
    ``block`` rows at a time, each column less its mean so the sums do not cancel: no copy of the columns at once."""
    names = list(columns)
    arrays = [values.to_numpy(dtype=float) for values in columns.values()]
    means = np.array([np.nanmean(a) if np.isfinite(a).any() else 0.0 for a in arrays])
    k = len(names)
    n, s1, s2, sxy = (np.zeros((k, k)) for _ in range(4))
    for start in range(0, len(arrays[0]) if arrays else 0, block):
        x = np.column_stack([a[start:start + block] for a in arrays]) - means
        present = ~np.isnan(x)
        x[~present] = 0.0
        m = present.astype(float)
        n += m.T @ m  # rows where both i and j have a value
        s1 += x.T @ m  # [i, j]: the sum of column i over those rows
        s2 += (x * x).T @ m
        sxy += x.T @ x
    with np.errstate(divide="ignore", invalid="ignore"):
        covariance = sxy - s1 * s1.T / n
        variance = s2 - s1 * s1 / n  # [i, j]: column i's, over the rows where j has a value too
        corr = np.clip(covariance / np.sqrt(variance * variance.T), -1.0, 1.0)
    corr[(n < 2) | (variance <= 0) | (variance.T <= 0)] = np.nan
    return {b: {a: float(corr[i, j]) for i, a in enumerate(names)} for j, b in enumerate(names)}


def build(raw_columns: list[str], rows_in: int, hashes: np.ndarray, typed: pd.DataFrame, target_values: pd.Series, problem_type: str,
          spec: DatasetSpec, features: list[str], numeric: set[str], dropped_target: int, id_like: list[str],
          labels: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray, seed: int) -> dict:
    """profile.json: descriptive statistics of the rows with a target, and the warnings; ``hashes`` are the
    record hashes of those rows."""
    warnings_: list[dict] = []
    if dropped_target:
        warnings_.append(warning("rows_dropped_missing_target", f"{dropped_target} row(s) without a value of {spec.target} were dropped",
                                 column=spec.target, count=dropped_target))
    for name in id_like:
        warnings_.append(warning("id_like_column", f"{name} has a different value in every training row: it identifies rows, "
                                 f"it does not describe them, so it was dropped", column=name))
    rows = len(typed)
    missing = {name: int(typed[name].isna().sum()) for name in features}
    for name, count in missing.items():
        if rows and count / rows > HIGH_MISSING:
            warnings_.append(warning("high_missing", f"{name} is missing in {count / rows:.0%} of the rows", column=name,
                                     missing=count))
    for name in features:
        if _single_value(typed[name].iloc[train_idx]):
            warnings_.append(warning("constant_column", f"{name} takes a single value in the training rows: it cannot help",
                                     column=name))
    warnings_ += duplicate_warnings(hashes, train_idx, test_idx)
    counts = target_values.value_counts() if problem_type != "regression" else pd.Series(dtype=int)
    warnings_ += class_warning(counts, problem_type)
    warnings_ += leakage_suspects(typed, features, numeric, labels, train_idx, test_idx, problem_type == "regression", seed)

    # the numeric columns one at a time, never copied into one frame (a large file's largest transient)
    columns = {name: typed[name].astype(float) for name in features if name in numeric}
    if problem_type == "regression":
        columns[spec.target] = pd.Series(target_values.astype(float).to_numpy(), index=typed.index)
    profile = {
        "dataset": spec.name,
        "rows_in": rows_in,
        "rows": rows,
        "problem_type": problem_type,
        "target": spec.target,
        "columns_in": raw_columns,
        "columns_used": features,
        "columns_ignored": [c for c in raw_columns if c not in spec.columns and c != spec.target],
        "missing_before_imputation": missing,
        "describe": _clean_nested({name: values.describe().to_dict() for name, values in columns.items()}),
        "skewness": _clean_nested({name: values.skew() for name, values in columns.items()}),
        "kurtosis": _clean_nested({name: values.kurt() for name, values in columns.items()}),
        "correlations": _clean_nested(correlations(columns)) if len(columns) > 1 else {},
        "warnings": warnings_,
    }
    if problem_type == "regression":
        profile["target_summary"] = _clean_nested(target_values.astype(float).describe().to_dict())
    else:
        profile["label_counts"] = {str(k): int(v) for k, v in counts.sort_index().items()}
    return profile
