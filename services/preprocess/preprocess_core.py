"""Validation and feature preparation of a Titanic-style CSV, on plain bytes and DataFrames."""

from __future__ import annotations

import io
import math

import pandas as pd

from pipeline_common.errors import InputRejected

LABEL = "Survived"
ID_COLUMN = "row_id"
NUMERIC = ["Pclass", "Age", "SibSp", "Parch", "Fare"]
CATEGORICAL = ["Sex", "Embarked"]
REQUIRED = [LABEL, *NUMERIC, *CATEGORICAL]
SEX_CODES = {"male": 0, "female": 1}
EMBARKED_VALUES = ("C", "Q", "S")  # C is the base level of the one-hot encoding
FEATURES = ["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked_Q", "Embarked_S"]
MIN_ROWS = 10
MIN_ROWS_PER_CLASS = 2
_SHOWN = 5  # offending values listed in an error record


def check_size(size: int, limit_bytes: int) -> None:
    if size > limit_bytes:
        raise InputRejected(
            f"file is {size} bytes, larger than the {limit_bytes}-byte limit of this function (MaxInputMegabytes)",
            size=size,
            limit=limit_bytes,
        )


def decode(body: bytes) -> str:
    """UTF-8 (with or without a byte-order mark) only: other encodings are rejected, not guessed."""
    if not body.strip():
        raise InputRejected("file is empty")
    if b"\x00" in body[:65536]:
        raise InputRejected("file is binary, not CSV text (it contains NUL bytes)", first_nul_offset=body.index(b"\x00"))
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = body[: err.start].count(b"\n") + 1
        raise InputRejected(
            f"file is not UTF-8 text: byte 0x{body[err.start]:02x} at offset {err.start} (line {line}); save it as UTF-8",
            offset=err.start,
            line=line,
        ) from None
    if not text.strip():
        raise InputRejected("file is empty")
    return text


def parse_csv(text: str) -> pd.DataFrame:
    header = text.lstrip().splitlines()[0]
    if "," not in header:
        for name, sep in (("semicolon", ";"), ("tab", "\t"), ("pipe", "|")):
            if sep in header:
                raise InputRejected(f"file is {name}-separated; the pipeline expects comma-separated values", header=header[:200])
        raise InputRejected("file is not comma-separated CSV (no comma in the header line)", header=header[:200])
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputRejected(f"file is not valid CSV: {err}".strip()) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InputRejected("file has a header but no data rows", columns=list(frame.columns))
    return frame


def _offenders(frame: pd.DataFrame, mask: pd.Series, column: str) -> list[dict]:
    rows = frame.index[mask][:_SHOWN]
    # +2: one for the header line, one because line numbers start at 1
    return [{"line": int(i) + 2, "value": frame.at[i, column]} for i in rows]


def _reject_rows(typed: pd.DataFrame, bad: pd.Series, column: str, reason: str) -> None:
    """InputRejected naming the first offending lines and values, when any row is bad; ``{n}`` in reason counts them."""
    if bad.any():
        raise InputRejected(reason.format(n=int(bad.sum())), column=column, offending=_offenders(typed, bad, column))


def _categorical(typed: pd.DataFrame, column: str, normalised: pd.Series, allowed, wording: str) -> pd.Series:
    """The column with missing values as NaN, or InputRejected naming the values outside ``allowed``."""
    _reject_rows(typed, (normalised != "") & ~normalised.isin(list(allowed)), column, f"column {column} must be {wording}")
    return normalised.where(normalised != "")


def validate(frame: pd.DataFrame) -> pd.DataFrame:
    """Check the schema and values; return the typed frame (missing values as NaN), or raise InputRejected."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputRejected(f"required column(s) missing: {', '.join(missing)}", missing_columns=missing, columns=list(frame.columns))
    typed = frame.copy()
    for column in frame.columns:
        typed[column] = frame[column].str.strip()
    empty = [c for c in REQUIRED if (typed[c] == "").all()]
    if empty:
        # nothing to impute from: a median or mode of no values does not exist
        raise InputRejected(f"required column(s) without any value: {', '.join(empty)}", empty_columns=empty)

    label = typed[LABEL]
    _reject_rows(typed, ~label.isin(["0", "1"]), LABEL, f"column {LABEL} must hold only 0 or 1; {{n}} row(s) do not")
    typed[LABEL] = label.astype(int)

    for column in NUMERIC:
        text = typed[column]
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        _reject_rows(typed, (text != "") & numbers.isna(), column, f"column {column} must be numeric; {{n}} value(s) are not")
        typed[column] = numbers.astype(float)

    typed["Sex"] = _categorical(typed, "Sex", typed["Sex"].str.lower(), SEX_CODES, "male or female")
    typed["Embarked"] = _categorical(typed, "Embarked", typed["Embarked"].str.upper(), EMBARKED_VALUES, "C, Q or S")

    counts = typed[LABEL].value_counts().to_dict()
    if len(counts) < 2:
        raise InputRejected(f"column {LABEL} has a single class ({next(iter(counts))}); a classifier needs both 0 and 1", class_counts=counts)
    if len(typed) < MIN_ROWS or min(counts.values()) < MIN_ROWS_PER_CLASS:
        raise InputRejected(
            f"too few rows to split: {len(typed)} rows, class counts {counts}; need at least {MIN_ROWS} rows "
            f"and {MIN_ROWS_PER_CLASS} of each class",
            rows=len(typed),
            class_counts={str(k): v for k, v in counts.items()},
        )
    return typed


def _clean(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def _clean_nested(mapping: dict) -> dict:
    return {str(k): (_clean_nested(v) if isinstance(v, dict) else _clean(v)) for k, v in mapping.items()}


def transform(typed: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Impute, encode and profile a validated frame. Returns the processed table and the data profile."""
    missing_before = {c: int(n) for c, n in typed[REQUIRED].isna().sum().items()}
    imputed_with: dict[str, object] = {}
    out = pd.DataFrame(index=typed.index)
    if "PassengerId" in typed.columns and typed["PassengerId"].ne("").all() and typed["PassengerId"].is_unique:
        out[ID_COLUMN] = typed["PassengerId"]
    else:
        out[ID_COLUMN] = [str(i + 1) for i in range(len(typed))]
    out[LABEL] = typed[LABEL]

    for column in NUMERIC:
        median = float(typed[column].median())
        imputed_with[column] = median
        out[column] = typed[column].fillna(median)
    for column in CATEGORICAL:
        mode = str(typed[column].mode(dropna=True).sort_values().iloc[0])
        imputed_with[column] = mode
        typed_column = typed[column].fillna(mode)
        if column == "Sex":
            out["Sex"] = typed_column.map(SEX_CODES).astype(int)
        else:
            for level in EMBARKED_VALUES[1:]:
                out[f"Embarked_{level}"] = (typed_column == level).astype(int)

    out = out[[ID_COLUMN, LABEL, *FEATURES]]
    numeric = out[[LABEL, *FEATURES]].astype(float)
    profile = {
        "rows": len(out),
        "columns_in": list(typed.columns),
        "columns_dropped": [c for c in typed.columns if c not in REQUIRED],
        "missing_before_imputation": missing_before,
        "imputed_with": imputed_with,
        "label_counts": {str(k): int(v) for k, v in out[LABEL].value_counts().sort_index().items()},
        "describe": _clean_nested(numeric.describe().to_dict()),
        "skewness": _clean_nested(numeric.skew().to_dict()),
        "kurtosis": _clean_nested(numeric.kurt().to_dict()),
        "correlations": _clean_nested(numeric.corr().to_dict()),
    }
    return out, profile


def preprocess(body: bytes) -> tuple[bytes, dict]:
    """Raw CSV bytes in; processed CSV bytes (header, row_id, label, features) and the profile out."""
    frame = parse_csv(decode(body))
    table, profile = transform(validate(frame))
    return table.to_csv(index=False).encode(), profile
