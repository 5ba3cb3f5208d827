"""Validation from the spec, before anything is learned or any job starts.

Every rejection names the column, and the lines and values that broke the rule, so the
person who made the file can fix it. Missing values (the spec's spellings, an empty field)
are NaN from here on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline_common.errors import InputRejected
from pipeline_common.models import BOOLEAN_WORDS, ColumnSpec, DatasetSpec

from .categories import by_code, map_categories
from .csvio import line_numbers

SHOWN = 5  # offending lines listed in an error record
MAX_CLASSES = 100
MAX_INTEGER_CLASSES = 20  # an integer target with more distinct values than this is a regression target


def offenders(values: pd.Series, bad: pd.Series) -> list[dict]:
    rows = values.index[bad.to_numpy()][:SHOWN]
    return [{"line": line, "value": None if pd.isna(values.at[i]) else str(values.at[i])}
            for i, line in zip(rows, line_numbers(rows))]


def reject_rows(values: pd.Series, bad: pd.Series, column: str, reason: str) -> None:
    """InputRejected naming the first offending lines and values, when any row is bad; ``{n}`` in reason counts them."""
    if bad.any():
        raise InputRejected(reason.format(n=int(bad.sum())), column=column, offending=offenders(values, bad))


def as_text(values: pd.Series) -> pd.Series:
    """The values as a categorical of strings (missing values stay missing), the same under pandas 2 and 3."""
    return map_categories(values, str)


def normalise_case(values: pd.Series, case: str) -> pd.Series:
    """Text (a categorical) in the spec's case: lower, upper or as written."""
    change = case_change(case)
    return map_categories(values, change) if change else values


def case_change(case: str):
    """The function that puts a text in the spec's case; None for "preserve"."""
    return {"lower": str.lower, "upper": str.upper}.get(case)


def numeric_column(values: pd.Series, name: str, column: ColumnSpec) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
    else:
        numbers = pd.to_numeric(values, errors="coerce")
        reject_rows(values, values.notna() & numbers.isna(), name, f"column {name} must be numeric; {{n}} value(s) are not")
    reject_rows(values, pd.Series(np.isinf(numbers.to_numpy()), index=values.index), name,
                f"column {name} holds {{n}} non-finite number(s) (inf); use an empty field for a missing value")
    if column.min is not None:
        reject_rows(values, numbers < column.min, name, f"column {name} must be at least {column.min:g}; {{n}} value(s) are smaller")
    if column.max is not None:
        reject_rows(values, numbers > column.max, name, f"column {name} must be at most {column.max:g}; {{n}} value(s) are larger")
    return numbers


def categorical_column(values: pd.Series, name: str, column: ColumnSpec) -> pd.Series:
    text = normalise_case(as_text(values), column.case)
    if column.allowed is not None:
        change = case_change(column.case) or str
        allowed = [change(value) for value in column.allowed]
        reject_rows(values, text.notna() & ~text.isin(allowed), name,
                    f"column {name} must be one of {', '.join(column.allowed)}; {{n}} value(s) are not")
    return text


def boolean_words(values: pd.Series, name: str) -> pd.Series:
    """The values as a categorical of 1 and 0, from the words BOOLEAN_WORDS knows in any case."""
    words = normalise_case(as_text(values), "lower")
    mapped = map_categories(words, BOOLEAN_WORDS.get)
    reject_rows(values, words.notna() & mapped.isna(), name, f"column {name} must be true/false, yes/no or 1/0; {{n}} value(s) are not")
    return mapped


def boolean_column(values: pd.Series, name: str) -> pd.Series:
    return boolean_words(values, name).astype(float)


def check_columns(frame: pd.DataFrame, spec: DatasetSpec, with_target: bool) -> list[str]:
    """Reject a file without a required column; return the optional columns it lacks."""
    required = spec.required_columns(with_target)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputRejected(f"required column(s) missing: {', '.join(missing)}", missing_columns=missing, columns=list(frame.columns))
    return [c for c in spec.columns if c not in frame.columns and c != spec.target]


def empty_required(typed: pd.DataFrame | dict, spec: DatasetSpec, absent: list[str] = ()) -> list[str]:
    """Required feature columns present in the file without a single value."""
    return [n for n in spec.feature_columns() if spec.columns[n].required and n not in absent and n in typed and typed[n].isna().all()]


def typed_features(frame: pd.DataFrame, spec: DatasetSpec, with_target: bool = True, whole_file: bool = True) -> pd.DataFrame:
    """Every spec column except the target, typed and checked; optional columns the file lacks are all missing.
    ``whole_file=False``: the frame is one chunk of a file, so a required column without values is the caller's check."""
    absent = check_columns(frame, spec, with_target)
    typed = {}
    for name, column in spec.columns.items():
        if name == spec.target or column.type == "ignore":
            continue
        values = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index, dtype="object")
        if column.type == "numeric":
            typed[name] = numeric_column(values, name, column)
        elif column.type == "categorical":
            typed[name] = categorical_column(values, name, column)
        elif column.type == "boolean":
            typed[name] = boolean_column(values, name)
        elif column.type == "text":
            typed[name] = as_text(values)
        else:  # id: the strings as read
            typed[name] = values
    for name in spec.id_columns:
        if name not in typed and name in frame.columns:
            typed[name] = frame[name]
    empty = empty_required(typed, spec, absent) if whole_file else []
    if empty:
        # nothing to learn a fill value from, nor anything for the model to use
        raise InputRejected(f"required column(s) without any value: {', '.join(empty)}", empty_columns=empty)
    return pd.DataFrame(typed, index=frame.index, copy=False)  # the columns as they are, not consolidated into a copy


# -- the target -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    problem_type: str
    classes: list[str]  # classification: label i is classes[i] (binary: [negative, positive])
    positive_class: str | None
    labels: np.ndarray  # per kept row: class index, or the number for regression
    values: pd.Series  # per kept row: the target as written (classes) or as a number (regression)
    kept: pd.Index  # rows with a target
    dropped: int  # rows without one


def _as_numbers(text: pd.Series) -> pd.Series | None:
    numbers = pd.to_numeric(text, errors="coerce")
    return numbers if numbers.notna().all() else None


def _class_order(classes: list[str]) -> list[str]:
    numbers = _as_numbers(pd.Series(classes, dtype="object"))
    if numbers is not None:
        return [c for _, c in sorted(zip(numbers.tolist(), classes))]
    return sorted(classes)


def _infer_problem_type(text: pd.Series, name: str) -> str:
    distinct = text.unique().tolist()
    numbers = _as_numbers(pd.Series(distinct, dtype="object"))
    if len(distinct) == 2:
        return "binary"
    if numbers is not None:
        integral = bool(np.all(np.mod(numbers.to_numpy(), 1) == 0))
        return "multiclass" if integral and len(distinct) <= MAX_INTEGER_CLASSES else "regression"
    if len(distinct) > MAX_CLASSES:
        raise InputRejected(f"target {name} has {len(distinct)} distinct text values: too many classes; "
                            f"set problem_type in the spec if this is what you mean", classes=len(distinct))
    return "multiclass"


def _positive_class(classes: list[str], spec: DatasetSpec) -> str:
    if spec.positive_class is not None:
        chosen = [c for c in classes if c == spec.positive_class]
        if not chosen:
            numbers = _as_numbers(pd.Series(classes + [spec.positive_class], dtype="object"))
            if numbers is not None:
                chosen = [c for c, v in zip(classes, numbers[:-1]) if v == numbers.iloc[-1]]
        if not chosen:
            raise InputRejected(f"positive_class {spec.positive_class!r} is not a class of {spec.target} (classes: {', '.join(classes)})",
                                classes=classes)
        return chosen[0]
    by_word = {c.lower(): c for c in classes}
    for negative, positive in (("0", "1"), ("false", "true"), ("no", "yes"), ("0.0", "1.0"), ("n", "y"), ("f", "t")):
        if set(by_word) == {negative, positive}:
            return by_word[positive]
    raise InputRejected(f"target {spec.target} has the classes {classes[0]!r} and {classes[1]!r}: set positive_class in the spec "
                        f"to say which one the model should predict the probability of", classes=classes)


def resolve_target(frame: pd.DataFrame, spec: DatasetSpec) -> Target:
    """Drop rows without a target; decide the problem type, classes and positive class; encode the labels."""
    name = spec.target
    raw = frame[name]
    text = as_text(raw)
    declared = spec.columns.get(name)
    if declared is not None and declared.type == "categorical":
        text = categorical_column(raw, name, declared)
    if declared is not None and declared.type == "boolean":
        text = as_text(boolean_words(raw, name))
    kept_mask = text.notna().to_numpy()
    text = text[kept_mask]
    dropped = int((~kept_mask).sum())
    if len(text) == 0:
        raise InputRejected(f"target column {name} has no value in any row", column=name)
    problem = spec.problem_type or _infer_problem_type(text, name)
    if problem == "regression":
        numbers = _numbers(text)
        reject_rows(text, numbers.isna(), name, f"target {name} of a regression must be numeric; {{n}} value(s) are not")
        reject_rows(text, pd.Series(np.isinf(numbers.to_numpy()), index=text.index), name,
                    f"target {name} holds {{n}} non-finite number(s) (inf)")
        return Target(problem, [], None, numbers.to_numpy(dtype=float), numbers, text.index, dropped)
    classes = text.unique().tolist()
    values = text.astype(object)  # plain strings: their counts break ties in order of appearance, as messages show them
    if len(classes) < 2:
        raise InputRejected(f"target {name} has a single class ({classes[0]}); a classifier needs at least two",
                            class_counts={classes[0]: len(text)})
    if problem == "binary":
        if len(classes) != 2:
            raise InputRejected(f"target {name} of a binary problem must have exactly 2 classes; found {len(classes)}: "
                                f"{', '.join(sorted(classes)[:10])}", class_counts=values.value_counts().head(20).to_dict())
        positive = _positive_class(classes, spec)
        classes = [c for c in classes if c != positive] + [positive]
    else:
        positive = None
        classes = _class_order(classes)
    labels = by_code(pd.Index(classes).get_indexer(text.cat.categories), text.cat.codes.to_numpy(), -1)
    return Target(problem, classes, positive, labels.astype(np.int64), values, text.index, dropped)


def _numbers(text: pd.Series) -> pd.Series:
    """Each row's number, NaN where its text is not one: each distinct text is parsed once."""
    per_category = pd.to_numeric(pd.Series(text.cat.categories, dtype=object), errors="coerce").to_numpy(dtype=float)
    return pd.Series(by_code(per_category, text.cat.codes.to_numpy(), np.nan), index=text.index)


def check_enough_rows(target: Target, spec: DatasetSpec) -> None:
    rows = len(target.kept)
    note = f" ({target.dropped} dropped for a missing target)" if target.dropped else ""
    if rows < spec.min_rows:
        raise InputRejected(f"too few rows to split: {rows} rows with a target{note}; need at least {spec.min_rows}",
                            rows=rows, dropped_missing_target=target.dropped)
    if target.problem_type == "regression":
        return
    counts = target.values.value_counts()
    if len(counts) < 2:
        raise InputRejected(f"target {spec.target} has a single class ({counts.index[0]}){note}; a classifier needs at least two",
                            class_counts={str(k): int(v) for k, v in counts.items()})
    rare = counts[counts < 2]
    if len(rare):
        raise InputRejected(f"too few rows to split: class(es) {', '.join(map(str, rare.index))} of {spec.target} have a single row{note}; "
                            f"each class needs at least 2", rows=rows, class_counts={str(k): int(v) for k, v in counts.items()})
