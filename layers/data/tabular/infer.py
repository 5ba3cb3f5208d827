"""Draft a dataset spec from a CSV and its target: types, cardinality, missing rates, columns to drop.

The draft is a starting point a person reads, edits and keeps in git: every column carries a
comment saying what was seen in the file and why it got its type.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import yaml

from pipeline_common.errors import InputRejected
from pipeline_common.models import BOOLEAN_WORDS, DEFAULT_MISSING, DatasetSpec, parse_spec

from .csvio import decode, header_of
from .validate import _class_order, _infer_problem_type, _positive_class

MAX_CATEGORIES = 50  # a text column with more distinct values than this (and than 5% of the rows) is free text
ROW_NUMBER_HEADERS = ("", "Unnamed: 0", "X", "...1", "V1", "index", "row", "rownames")


@dataclass
class Draft:
    spec: DatasetSpec
    notes: dict[str, str]  # column -> what was seen
    rows: int

    def yaml(self, source: str) -> str:
        return render(self, source)


def _percent(share: float) -> str:
    return f"{share:.1%}" if share else "none"


def _is_row_number(name: str, values: pd.Series, position: int) -> bool:
    if position != 0 or (name not in ROW_NUMBER_HEADERS and not name.startswith("Unnamed")):
        return False
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        return False
    n = len(numbers)
    return bool((numbers.to_numpy() == np.arange(1, n + 1)).all() or (numbers.to_numpy() == np.arange(n)).all())


def _column(name: str, values: pd.Series, position: int) -> tuple[dict, str]:
    """The spec entry of one non-target column and the note that explains it."""
    rows = len(values)
    present = values.dropna()
    distinct = present.nunique()
    missing = f"missing {_percent(1 - len(present) / rows)}" if rows else ""
    if _is_row_number(name, values, position):
        return {"type": "ignore"}, "a row number (as R and pandas write them): dropped"
    if distinct <= 1:
        return {"type": "ignore"}, f"constant ({present.iloc[0] if len(present) else 'always missing'}): dropped"
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all():
        integral = bool(np.all(np.mod(numbers.to_numpy(), 1) == 0))
        if distinct == rows and integral and numbers.max() - numbers.min() + 1 == rows:
            return {"type": "id"}, "a different whole number in every row, a run of consecutive numbers: an id, dropped"
        note = f"{distinct} distinct, range {numbers.min():g} to {numbers.max():g}, {missing}"
        if not np.isfinite(numbers.to_numpy()).all():
            note += "; holds non-finite numbers, which validation will reject"
        return {"type": "numeric"}, note
    lowered = set(present.str.lower().unique())
    if lowered <= set(BOOLEAN_WORDS) and distinct == 2:
        return {"type": "boolean"}, f"two values ({', '.join(sorted(present.unique()))}), {missing}"
    if distinct == rows:
        return {"type": "id"}, "text, different in every row: identifies rows, dropped (derive features from it if it helps)"
    if distinct <= MAX_CATEGORIES or distinct <= 0.05 * rows:
        top = present.value_counts().head(5)
        return {"type": "categorical"}, f"{distinct} levels (most frequent {', '.join(map(str, top.index))}), {missing}"
    return {"type": "text"}, f"free text, {distinct} distinct values in {rows} rows: not a feature by itself, {missing}"


def infer(body: bytes, target: str, dataset: str, problem_type: str | None = None) -> Draft:
    text = decode(body)
    header = header_of(text)
    if target not in header:
        raise InputRejected(f"target {target!r} is not a column of the file (columns: {', '.join(header)})", columns=header)
    frame = pd.read_csv(io.StringIO(text), header=0, names=header, dtype=str, keep_default_na=False,
                        na_values=DEFAULT_MISSING, skipinitialspace=True)
    frame = frame.apply(lambda s: s.str.strip())
    frame = frame.where(~frame.isin(DEFAULT_MISSING))
    rows = len(frame)
    if rows == 0:
        raise InputRejected("file has a header but no data rows", columns=header)

    target_values = frame[target].dropna()
    problem = problem_type or _infer_problem_type(target_values, target)
    columns, notes, ids = {}, {}, []
    positive = None
    for position, name in enumerate(header):
        if name == target:
            continue
        entry, note = _column(name, frame[name], position)
        columns[name], notes[name] = entry, note
        if entry["type"] == "id" and not ids and frame[name].notna().all():
            ids.append(name)
    dropped = int(frame[target].isna().sum())
    target_note = f"the target; {dropped} row(s) without it will be dropped" if dropped else "the target"
    if problem == "regression":
        target_entry = {"type": "numeric"}
        numbers = pd.to_numeric(target_values, errors="coerce")
        target_note += f"; regression over {numbers.min():g} to {numbers.max():g}"
    else:
        target_entry = {"type": "categorical"}
        counts = target_values.value_counts()
        classes = _class_order(counts.index.tolist())
        target_note += f"; classes {', '.join(f'{c} ({counts[c]})' for c in classes[:12])}"
        if problem == "binary":
            try:
                positive = _positive_class(classes, parse_spec({"name": dataset, "target": target}))
            except InputRejected:
                positive = str(counts.idxmin())
                target_note += f"; positive_class chosen as the rarer class {positive}: check it"
    spec = parse_spec({
        "name": dataset, "target": target, "problem_type": problem, "positive_class": positive, "id_columns": ids,
        "columns": {target: target_entry, **columns},
    }, source="inferred spec")
    notes[target] = target_note
    ordered = {name: spec.columns[name] for name in header if name in spec.columns}
    return Draft(spec.model_copy(update={"columns": ordered}), notes, rows)


def _flow(value) -> str:
    """YAML flow text of a value; a scalar is dumped inside a list so no document marker follows it."""
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return _flow([value])[1:-1]


def render(draft: Draft, source: str) -> str:
    spec = draft.spec
    lines = [
        f"# Drafted by `mlpipe spec infer` from {source} ({draft.rows} rows). Read it, edit it and keep it in git:",
        "# check the types, add allowed values and ranges, and derive features (see datasets/titanic.yaml).",
        f"name: {_flow(spec.name)}",
        f"target: {_flow(spec.target)}",
        f"problem_type: {spec.problem_type}",
    ]
    if spec.positive_class is not None:
        lines.append(f"positive_class: {_flow(spec.positive_class)}")
    lines.append(f"id_columns: {_flow(spec.id_columns)}")
    lines.append("columns:")
    for name, column in spec.columns.items():
        entry = f"{_flow(name)}: {_flow(column.model_dump(mode='json', exclude_defaults=True))}"
        lines.append(f"  {entry}  # {draft.notes.get(name, '')}".rstrip())
    return "\n".join(lines) + "\n"
