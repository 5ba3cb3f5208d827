"""CSV in and out: strict decoding, typed reading from a spec, and the headerless numeric files XGBoost reads."""

from __future__ import annotations

import codecs
import io
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from pipeline_common.errors import InputRejected
from pipeline_common.models import DatasetSpec

from .categories import categorical, map_categories

SLICE = 1 << 22  # bytes decoded at a time when a body is only checked
FILE_ROWS = 500_000  # rows parsed at a time from a file on disk (read_file_frame)
ROWS_AT_ONCE = 65536  # rows matrix_csv assembles at a time
HEADER_LINE = 1  # a data row's line number is its position + 2: one for the header, one for counting from 1


def decode(body: bytes) -> str:
    """UTF-8 (with or without a byte-order mark) only: other encodings are rejected, not guessed."""
    _check_bytes(body)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _not_utf8(body, err) from None
    if not text.strip():
        raise InputRejected("file is empty")
    return text


def check_text(body: bytes) -> None:
    """The checks of ``decode`` without the whole text in memory at once: it is decoded a slice at a time."""
    _check_bytes(body)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    view = memoryview(body)
    blank = True
    try:
        for start in range(0, len(body), SLICE):
            text = decoder.decode(view[start:start + SLICE], final=start + SLICE >= len(body))
            blank = blank and (not text or text.isspace())
    except UnicodeDecodeError:
        decode(body)  # raises the rejection naming the first bad byte, its offset counted as decode counts it
    if blank:
        raise InputRejected("file is empty")


def check_file(path: Path) -> None:
    """``check_text`` of a file on disk, a slice at a time: the whole file is never in memory."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset, lines, blank = 0, 0, True  # bytes and line ends before this slice
    with open(path, "rb") as file:
        _check_bytes(file.read(65536))
        file.seek(0)
        while True:
            data = file.read(SLICE)
            pending = decoder.getstate()[0]  # the start of a character the last slice cut in two
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as err:
                raise _not_utf8(pending + data, err, offset - len(pending), lines) from None
            blank = blank and (not text or text.isspace())
            if not data:
                break
            offset, lines = offset + len(data), lines + data.count(b"\n")
    if blank:
        raise InputRejected("file is empty")


def _check_bytes(body: bytes) -> None:
    if not body or body.isspace():  # what body.strip() finds empty, without copying the body
        raise InputRejected("file is empty")
    if b"\x00" in body[:65536]:
        raise InputRejected("file is binary, not CSV text (it contains NUL bytes)", first_nul_offset=body.index(b"\x00"))


def _not_utf8(body: bytes, err: UnicodeDecodeError, start: int = 0, lines_before: int = 0) -> InputRejected:
    """The rejection naming the first bad byte of ``body``, which starts at byte ``start`` of the file, after
    ``lines_before`` line ends."""
    line = lines_before + body[: err.start].count(b"\n") + 1
    offset = start + err.start
    return InputRejected(f"file is not UTF-8 text: byte 0x{body[err.start]:02x} at offset {offset} (line {line}); save it as UTF-8",
                         offset=offset, line=line)


def head(body: bytes) -> str:
    """The start of a UTF-8 body's text, far enough to hold the header line."""
    size = 65536
    while True:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(body[:size], final=size >= len(body))
        if "\n" in text.lstrip() or size >= len(body):
            return text
        size *= 16


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


def read_frame(source: str | bytes, spec: DatasetSpec | None = None) -> pd.DataFrame:
    """The table with missing spellings as missing: columns the spec declares numeric as floats, id columns as
    stripped strings, the rest as categoricals of stripped strings (see categories.py). Bytes are checked as
    ``decode`` checks them, and read without ever holding the whole text.

    A numeric column holding something that is not a number comes back as text, so validation can name
    the offending lines. Columns the spec does not mention are not read.
    """
    if isinstance(source, bytes):
        check_text(source)
    header = header_of(source if isinstance(source, str) else head(source))
    try:
        with warnings.catch_warnings():
            # a numeric column with text in a later slice of the parser: handled below and named by validation
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(io.StringIO(source) if isinstance(source, str) else io.BytesIO(source), **_csv_options(header, spec))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise InputRejected(f"file is not valid CSV: {str(err).strip()}") from None
    if frame.empty:
        raise InputRejected("file has a header but no data rows", columns=header)
    return _tidy(frame, spec)


def read_file_frame(path: Path, spec: DatasetSpec | None = None) -> pd.DataFrame:
    """``read_frame`` of a file on disk, FILE_ROWS rows at a time: neither the file's bytes nor the text of all its
    rows are ever in memory at once, only the frame they make (a large upload on a Processing job)."""
    check_file(path)
    with open(path, "rb") as file:
        return concat_frames(list(read_frames(file, spec, FILE_ROWS)))


def read_upload(source: bytes | Path, spec: DatasetSpec) -> tuple[pd.DataFrame, list[str]]:
    """The frame and the header's names of an upload, in memory (bytes) or on disk (a path)."""
    if isinstance(source, Path):
        with open(source, "rb") as file:
            start = file.read(1 << 20)
        return read_file_frame(source, spec), header_of(head(start))
    return read_frame(source, spec), header_of(head(source))


def concat_frames(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    """Chunks of one file (``read_frames``) as the frame ``read_frame`` reads at once: text columns stay categoricals
    with their categories in order of first appearance; the chunks are freed a column at a time."""
    if len(chunks) == 1:
        return chunks[0]
    columns = {name: _concat_column([chunk.pop(name) for chunk in chunks]) for name in list(chunks[0].columns)}
    return pd.DataFrame(columns)


def _concat_column(parts: list[pd.Series]) -> pd.Series:
    if all(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
        return pd.Series(union_categoricals([part.array for part in parts], ignore_order=True), name=parts[0].name)
    if any(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
        # a numeric column with text in some chunk: one categorical of both, as a whole read gives, for validation to name
        return categorical(pd.concat([part.astype(object) for part in parts], ignore_index=True))
    if any(part.dtype == object for part in parts) and any(pd.api.types.is_integer_dtype(part.dtype) for part in parts):
        # ids that are plain integers in some chunks only (_plain_integers): texts throughout, as a whole read gives
        parts = [part.astype(str).astype(object) if pd.api.types.is_integer_dtype(part.dtype) else part for part in parts]
    return pd.concat(parts, ignore_index=True)


class _RawStream(io.RawIOBase):
    """A stream that only has read(n), such as botocore's StreamingBody, as a raw file for io.BufferedReader."""

    def __init__(self, stream):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def buffered_stream(stream) -> io.BufferedReader:
    return io.BufferedReader(_RawStream(stream), 1 << 20)


def read_frames(stream, spec: DatasetSpec | None, rows: int) -> Iterator[pd.DataFrame]:
    """``read_frame`` of a binary stream, ``rows`` rows at a time: memory holds one chunk, whatever the file's size.
    Each chunk's index counts rows from the start of the file, so line numbers in rejections stay right."""
    buffered = buffered_stream(stream)
    start = buffered.peek(65536)
    _check_bytes(start)
    try:
        header = header_of(head(start))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            seen = 0
            for frame in pd.read_csv(buffered, encoding="utf-8-sig", chunksize=rows, **_csv_options(header, spec)):
                seen += len(frame)
                yield _tidy(frame, spec)
    except UnicodeDecodeError as err:
        raise InputRejected(f"file is not UTF-8 text: {err.reason} (byte 0x{err.object[err.start]:02x}); save it as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise InputRejected(f"file is not valid CSV: {str(err).strip()}") from None
    if not seen:
        raise InputRejected("file has a header but no data rows", columns=header)


def same_reading(a: DatasetSpec, b: DatasetSpec) -> bool:
    """Whether ``read_frame`` reads a file the same with either spec: what _csv_options and _tidy take from it."""
    def reading(spec: DatasetSpec) -> tuple:
        numeric = sorted(n for n, c in spec.columns.items() if c.type == "numeric" and n != spec.target)
        return (spec.missing_values, numeric, sorted(spec.row_id_columns()), sorted({*spec.columns, spec.target, *spec.id_columns}))

    return reading(a) == reading(b)


def _csv_options(header: list[str], spec: DatasetSpec | None) -> dict:
    """How pandas reads a file of this header for this spec: only the columns it mentions, numbers as floats."""
    missing = spec.missing_values if spec else None
    numeric = {n for n, c in spec.columns.items() if c.type == "numeric" and n != spec.target} if spec else set()
    wanted = None
    if spec is not None:
        mentioned = set(spec.columns) | {spec.target} | set(spec.id_columns)
        wanted = [n for n in header if n in mentioned]
    if len(set(header)) != len(header):
        duplicated = sorted({n for n in header if header.count(n) > 1})
        raise InputRejected(f"column name(s) appear more than once in the header: {', '.join(duplicated)}", duplicated_columns=duplicated)
    return dict(header=0, names=header, usecols=wanted, skipinitialspace=True, dtype={n: object for n in header if n not in numeric},
                keep_default_na=missing is None, na_values=missing if missing is not None else None, skip_blank_lines=True)


def _tidy(frame: pd.DataFrame, spec: DatasetSpec | None) -> pd.DataFrame:
    """Text values stripped, missing spellings as None; id columns as strings, the other text columns as categoricals."""
    blank = set((spec.missing_values if spec else None) or [""])
    ids = set(spec.row_id_columns()) if spec else set()
    for name in frame.columns:
        if name in ids:  # a different value in each row: a categorical would only hold them all a second time
            frame[name] = _plain_integers(_stripped_texts(frame[name], blank))
        elif not pd.api.types.is_numeric_dtype(frame[name]):
            frame[name] = map_categories(frame[name], lambda value: _stripped(value, blank))
    return frame


def _stripped_texts(values: pd.Series, blank: set[str]) -> pd.Series:
    """``_stripped`` of every value, vectorised when the column holds only text (as read with dtype object)."""
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return pd.Series([_stripped(value, blank) for value in values.to_numpy()], index=values.index, dtype=object)
    stripped = values.str.strip()
    return stripped.where(stripped.notna() & ~stripped.isin(blank), None).astype(object)


_POWERS_OF_TEN = 10 ** np.arange(19, dtype=np.int64)  # up to 10**18: an id of at most 18 characters fits int64
_PLAIN_INTEGER_CHARS = 18


def _plain_integers(texts: pd.Series) -> pd.Series:
    """Ids that are all whole numbers written plainly ("17"; not "017", "+17", "-0" or "1_7") as int64, which str()
    writes back as they were: 8 bytes a row instead of a string object of 50 or more, and a cheap uniqueness check.
    Anything else (a missing id, a letter, a leading zero, more than 18 characters) keeps the texts.

    All at once in C: the texts joined and parsed by numpy, then each number's digits (and sign) counted against its
    text's length, which a leading zero, a plus sign or anything numpy skips would make longer.
    """
    values = texts.to_numpy()
    if len(values) == 0 or texts.isna().any():
        return texts
    try:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        if lengths.max() > _PLAIN_INTEGER_CHARS:
            return texts
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns, and stops, where a text is not a number
            numbers = np.fromstring("\n".join(values), dtype=np.int64, sep="\n")
    except (TypeError, ValueError, DeprecationWarning):
        return texts
    if len(numbers) != len(values):
        return texts
    digits = np.maximum(np.searchsorted(_POWERS_OF_TEN, np.abs(numbers), side="right"), 1) + (numbers < 0)
    if not np.array_equal(digits, lengths) or not all(text == "0" for text in values[numbers == 0]):  # numpy reads "+" as 0
        return texts
    return pd.Series(numbers, index=texts.index, name=texts.name)


def _stripped(value, blank: set[str]):
    """A text value without surrounding spaces, None if that spells missing. A number is kept: pandas reads a
    numeric column in slices, and one slice can hold numbers where a later one holds text."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    return None if value in blank else value


def line_numbers(index: pd.Index) -> list[int]:
    return [int(i) + HEADER_LINE + 1 for i in index]


def matrix_csv(matrix: np.ndarray, first: np.ndarray | None = None) -> bytes:
    """Headerless CSV of a float matrix (missing as an empty field), optionally with a first column (the label).

    pandas formats every float cell in Python (20 s for 800,000 rows of 20 columns); here every distinct value
    of a column is formatted once and the rows are assembled with numpy, a slice of rows at a time so the padded
    bytes stay small.
    """
    first = None if first is None else np.asarray(first, dtype=float)
    out = io.BytesIO()  # grows in place, and hands its buffer over: no second copy of the whole file
    for start in range(0, len(matrix), ROWS_AT_ONCE):
        block = np.asarray(matrix[start:start + ROWS_AT_ONCE], dtype=float)
        out.write(_csv_rows(block if first is None else np.column_stack([first[start:start + ROWS_AT_ONCE], block])))
    return out.getvalue()


def _csv_rows(block: np.ndarray) -> bytes:
    if block.shape[1] == 0:
        return b""
    with np.errstate(invalid="ignore"):  # missing and out-of-range values cast to some byte; the check below drops them
        small = block.astype(np.uint8)
    # a column of single digits (one-hot columns, most counts and labels) is its bytes by arithmetic
    digits = ((small == block) & (small <= 9)).all(axis=0)
    cells = []
    for index in range(block.shape[1]):
        cells.append(small[:, index:index + 1] + ord("0") if digits[index] else _column_bytes(block[:, index]))
        cells.append(np.full((len(block), 1), ord("\n") if index == block.shape[1] - 1 else ord(","), np.uint8))
    table = np.hstack(cells)
    return table[table != 0].tobytes()  # drop the padding: what is left is the rows, commas and newlines in order


def _column_bytes(column: np.ndarray) -> np.ndarray:
    """Each value's text as a zero-padded row of bytes: each distinct value is formatted once, then gathered."""
    codes, values = pd.factorize(column)
    texts = _texts(values) + [""]  # a missing value's code is -1: the last, empty row of the table
    width = max(1, max(map(len, texts)))
    table = np.array(texts, dtype=f"S{width}").view(np.uint8).reshape(len(texts), width)
    return table[codes]


def _texts(values: np.ndarray) -> list[str]:
    """Numbers as the shortest text that reads back to them; a whole number without ".0"."""
    texts = np.array(list(map(repr, values.tolist())), dtype=object)
    whole = (values == np.trunc(values)) & (np.abs(values) < 2 ** 53)
    texts[whole] = values[whole].astype(np.int64).astype(str)
    return texts.tolist()
