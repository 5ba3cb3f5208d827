"""CSV in and out: strict decoding, typed reading from a spec, and the headerless numeric files XGBoost reads."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from pipeline_common.errors import InputRejected
from pipeline_common.models import DatasetSpec

HEADER_LINE = 1  # a data row's line number is its position + 2: one for the header, one for counting from 1


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


def header_of(text: str) -> list[str]:
    """The header's column names, after checking the file is comma-separated."""
    header = text.lstrip().split("\n", 1)[0].rstrip("\r")
    if "," not in header:
        for name, sep in (("semicolon", ";"), ("tab", "\t"), ("pipe", "|")):
            if sep in header:
                raise InputRejected(f"file is {name}-separated; the pipeline expects comma-separated values", header=header[:200])
        raise InputRejected("file is not comma-separated CSV (no comma in the header line)", header=header[:200])
    names = next(iter(pd.read_csv(io.StringIO(header), header=None, dtype=str, keep_default_na=False).itertuples(index=False)))
    return [str(name).strip() for name in names]


def read_frame(text: str, spec: DatasetSpec | None = None) -> pd.DataFrame:
    """The table with missing spellings as NaN: columns the spec declares numeric as floats, the rest as text.

    A numeric column holding something that is not a number comes back as text, so validation can name
    the offending lines. Columns the spec does not mention are not read.
    """
    header = header_of(text)
    missing = spec.missing_values if spec else None
    numeric = {n for n, c in spec.columns.items() if c.type == "numeric" and n != spec.target} if spec else set()
    wanted = None
    if spec is not None:
        mentioned = set(spec.columns) | {spec.target} | set(spec.id_columns)
        wanted = [n for n in header if n in mentioned]
    if len(set(header)) != len(header):
        duplicated = sorted({n for n in header if header.count(n) > 1})
        raise InputRejected(f"column name(s) appear more than once in the header: {', '.join(duplicated)}", duplicated_columns=duplicated)
    try:
        frame = pd.read_csv(
            io.StringIO(text), header=0, names=header, usecols=wanted, skipinitialspace=True,
            dtype={n: str for n in header if n not in numeric}, keep_default_na=missing is None,
            na_values=missing if missing is not None else None, skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise InputRejected(f"file is not valid CSV: {str(err).strip()}") from None
    if frame.empty:
        raise InputRejected("file has a header but no data rows", columns=header)
    for name in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            stripped = frame[name].str.strip()
            frame[name] = stripped.where(~stripped.isin(missing or [""]))
    return frame


def line_numbers(index: pd.Index) -> list[int]:
    return [int(i) + HEADER_LINE + 1 for i in index]


def matrix_csv(matrix: np.ndarray, first: np.ndarray | None = None) -> bytes:
    """Headerless CSV of a float matrix (missing as an empty field), optionally with a first column (the label)."""
    frame = pd.DataFrame(matrix)
    if first is not None:
        frame.insert(0, "first", first)
    return frame.to_csv(index=False, header=False, lineterminator="\n", float_format="%.10g").encode()
