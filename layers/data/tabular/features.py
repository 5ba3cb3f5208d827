"""Derived features, and the transform fitted on training rows only and applied unchanged everywhere else.

``fit`` sees only the training rows: fill values, category levels (and their cap), the levels of
regular-expression extracts. ``apply`` uses nothing but the fitted transform, so test rows and
files sent for scoring are encoded exactly as the model was trained.
"""

from __future__ import annotations

import heapq
import re

import numpy as np
import pandas as pd

from pipeline_common.models import (
    ColumnSpec, DatasetSpec, FittedColumn, FittedTransform, IsMissing, RatioOf, RegexExtract, SumOf,
)

from .categories import by_code, category_counts, map_categories
from .validate import as_text, case_change

OTHER = "__other__"
MISSING_LEVEL = "__missing__"
TEXT_LIMIT = 1000  # characters of a text value a regular expression looks at


def derive(typed: pd.DataFrame, spec_or_features) -> pd.DataFrame:
    """The derived features of the spec (or of a fitted transform's derived columns), computed row by row (a regular
    expression once per distinct text)."""
    features = spec_or_features.derived if isinstance(spec_or_features, DatasetSpec) else spec_or_features
    out = {}
    for feature in features:
        if isinstance(feature, RegexExtract):
            out[feature.name] = map_categories(as_text(typed[feature.column]), _extractor(feature))
        elif isinstance(feature, SumOf):
            out[feature.name] = typed[feature.columns].sum(axis=1, min_count=len(feature.columns)) + feature.add
        elif isinstance(feature, RatioOf):
            denominator = typed[feature.denominator]
            out[feature.name] = (typed[feature.numerator] / denominator.where(denominator != 0)).astype(float)
        elif isinstance(feature, IsMissing):
            flag = typed[feature.column].isna()
            out[feature.name] = (~flag if feature.present else flag).astype(float)
    return pd.DataFrame(out, index=typed.index)


def _extractor(feature: RegexExtract):
    """The extract of one text: the pattern's first group in its first TEXT_LIMIT characters, stripped, in the
    feature's case; None (missing) where nothing or only spaces matched."""
    pattern = re.compile(feature.pattern)
    change = case_change(feature.case)

    def extract(text: str) -> str | None:
        found = pattern.search(text[:TEXT_LIMIT])
        value = (found.group(1) or "").strip() if found else ""  # a group that took no part is None
        if not value:
            return None
        return change(value) if change else value

    return extract


# -- fit on training rows -------------------------------------------------------------------------------
def _numeric_fill(values: pd.Series, rule) -> float | None:
    if isinstance(rule, (int, float)):
        return float(rule)
    if rule == "none":
        return None
    if rule == "zero" or values.notna().sum() == 0:
        return 0.0
    return float(values.mean() if rule == "mean" else values.median())


def _mode(counts: pd.Series):
    """The most frequent value (the first by name among ties) of counts by value; None when nothing was counted."""
    counts = counts[counts > 0]
    if counts.empty:
        return None
    top = counts[counts == counts.max()].index
    return sorted(top, key=str)[0]


def _fit_categorical(name: str, values: pd.Series, fill, max_levels: int, min_count: int) -> FittedColumn:
    counts = category_counts(values)
    present = int(counts.sum())
    rule = fill if fill is not None else "mode"
    missing_level = rule == "missing" or (rule == "mode" and present == 0)
    fill_value = MISSING_LEVEL if missing_level else (_mode(counts) if rule == "mode" else str(rule))
    totals = dict(zip(counts.index, counts.to_numpy().tolist()))
    if len(values) > present:  # missing values count for the level they are filled with
        totals[fill_value] = totals.get(fill_value, 0) + len(values) - present
    kept = ((level, count) for level, count in totals.items() if count >= min_count)
    ordered = heapq.nsmallest(max_levels, kept, key=lambda item: (-item[1], str(item[0])))
    return FittedColumn(name=name, kind="categorical", fill=fill_value, levels=[str(level) for level, _ in ordered],
                        other=True, missing_level=missing_level)


def _fit_boolean(name: str, values: pd.Series, fill) -> FittedColumn:
    if fill is None or fill == "mode":
        mode = _mode(values.value_counts())
        value = float(mode) if mode is not None else 0.0
    elif isinstance(fill, (int, float)):
        value = float(fill)
    else:
        value = float({"true": 1, "false": 0, "yes": 1, "no": 0, "1": 1, "0": 0}.get(str(fill).lower(), 0))
    return FittedColumn(name=name, kind="boolean", fill=value)


def _fit_column(name: str, column: ColumnSpec, values: pd.Series, spec: DatasetSpec) -> FittedColumn:
    if column.type == "numeric":
        return FittedColumn(name=name, kind="numeric", fill=_numeric_fill(values, column.fill if column.fill is not None else "median"))
    if column.type == "boolean":
        return _fit_boolean(name, values, column.fill)
    return _fit_categorical(name, values, column.fill, column.max_levels or spec.max_levels, column.min_count)


def _fit_derived(feature, values: pd.Series, spec: DatasetSpec) -> FittedColumn:
    if isinstance(feature, RegexExtract):
        fitted = _fit_categorical(feature.name, values, None, feature.max_levels or spec.max_levels, feature.min_count)
    elif isinstance(feature, IsMissing):
        fitted = FittedColumn(name=feature.name, kind="boolean", fill=0.0)
    else:
        fitted = FittedColumn(name=feature.name, kind="numeric", fill=_numeric_fill(values, "median"))
    return fitted.model_copy(update={"derived": feature})


def output_names(column: FittedColumn) -> list[str]:
    if column.kind != "categorical":
        return [column.name]
    return [f"{column.name}={level}" for level in column.levels] + ([f"{column.name}={OTHER}"] if column.other else [])


def fit(train: pd.DataFrame, spec: DatasetSpec, problem_type: str, classes: list[str], positive_class: str | None,
        row_id: str | None, dropped: list[str] = ()) -> FittedTransform:
    """Learn the transform from the training rows of the typed frame (input columns and derived features); ``train``
    is read a column at a time (``train[name]``, ``len(train)``), so a view of those rows does (prepare.RowView)."""
    columns = [_fit_column(name, spec.columns[name], train[name], spec)
               for name in spec.feature_columns() if name not in dropped]
    columns += [_fit_derived(feature, train[feature.name], spec) for feature in spec.derived if feature.name not in dropped]
    features, sources = [], {}
    for column in columns:
        for output in output_names(column):
            features.append(output)
            sources[output] = column.name
    return FittedTransform(dataset=spec.name, target=spec.target, problem_type=problem_type, classes=classes,
                           positive_class=positive_class, row_id=row_id, columns=columns, features=features,
                           feature_sources=sources, fitted_on_rows=len(train))


# -- apply anywhere ---------------------------------------------------------------------------------------
def apply(frame: pd.DataFrame, transform: FittedTransform) -> np.ndarray:
    """The model's input matrix (float64, NaN where a value stays missing) for typed rows with derived features."""
    widths = [len(output_names(column)) for column in transform.columns]
    matrix = np.empty((len(frame), sum(widths)))
    start = 0
    for column, width in zip(transform.columns, widths):
        block = matrix[:, start:start + width]  # filled in place: no second copy of the matrix
        if column.kind == "categorical":
            _one_hot(frame[column.name], column, block)
        else:
            numbers = pd.to_numeric(frame[column.name], errors="coerce").astype(float)
            block[:, 0] = (numbers.fillna(column.fill) if column.fill is not None else numbers).to_numpy()
        start += width
    return matrix


def _one_hot(values: pd.Series, column: FittedColumn, block: np.ndarray) -> None:
    """A 1 in each row's level (a missing value's is the fill's), or in "other" for a level that was not kept."""
    text = as_text(values)
    levels = pd.Index(column.levels, dtype=object)
    fill = levels.get_indexer([column.fill])[0] if column.fill is not None else -1
    codes = by_code(levels.get_indexer(text.cat.categories), text.cat.codes.to_numpy(), fill)  # -1: rare, unseen
    rows = np.eye(len(levels) + 1, block.shape[1])  # the row of each level; the last, for -1, is "other" (if kept)
    block[:] = rows[codes]


def derived_of(transform: FittedTransform) -> list:
    return [column.derived for column in transform.columns if column.derived is not None]
