"""Batch transform's DataProcessing for CSV records: InputFilter, JoinSource and OutputFilter.

SageMaker does this around the container (docs: "Associate Prediction Results with Input Records"):
the container sees only the columns InputFilter picks, and each written line is the prediction, or
the input record joined with it, filtered by OutputFilter.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


class RequestError(Exception):
    """The job fails with "ClientError: <message>": the request asked for what the data cannot give."""


# -- batch transform's DataProcessing, for CSV records -------------------------------------------------------------
_PART = re.compile(r"(-?\d+)|(-?\d*):(-?\d*)")


def columns(path: str) -> Callable[[list[str]], list[str]]:
    """The columns of a CSV row (a JSON array to batch transform) that a DataProcessing JSONPath (no spaces) picks.

    For CSV only index-based paths apply: $, $[i], $[i,j], $[a:b], $[a:], $[:b] and unions such as $[0,5:]; a negative
    index counts from the end. A slice leaves out its end, as JavaScript's slice() (named by AWS's operator table)
    and Jayway JsonPath do, though the same page's prose reads $[1:4] as inclusive. An index outside the row fails.
    """
    if path == "$":
        return lambda row: row
    parts = [_PART.fullmatch(part) for part in path[2:-1].split(",")] if path.startswith("$[") and path.endswith("]") else [None]
    if not all(parts):
        raise RequestError(f"the JSONPath {path!r} does not apply to CSV: only index-based paths do, such as $[0] or $[1:]")

    def pick(row: list[str]) -> list[str]:
        picked = []
        for index, start, end in (part.groups() for part in parts):
            if index is None:
                picked += row[int(start) if start else None:int(end) if end else None]
            elif -len(row) <= int(index) < len(row):
                picked.append(row[int(index)])
            else:
                raise RequestError(f"the JSONPath {path!r} names index {index}, outside a record of {len(row)} columns")
        return picked

    return pick


def _records(path: Path) -> Iterator[list[str]]:
    """A CSV file's records (RFC 4180), blank lines skipped as the container skips them."""
    with path.open(newline="") as handle:
        yield from (row for row in csv.reader(handle) if row)


def _csv(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


@dataclass(frozen=True)
class DataProcessing:
    """InputFilter picks the columns the model gets; JoinSource "Input" puts each whole input record before its
    prediction; OutputFilter picks the columns written (of the joined record, or of the prediction alone)."""

    input_filter: str = "$"
    join_source: str = "None"
    output_filter: str = "$"

    @classmethod
    def of(cls, job: dict) -> DataProcessing:
        request = job.get("DataProcessing") or {}
        return cls(request.get("InputFilter", "$").replace(" ", ""), request.get("JoinSource", "None"),
                   request.get("OutputFilter", "$").replace(" ", ""))

    def model_input(self, source: Path, target: Path) -> Path:
        """The file the container reads: the input itself, or the columns InputFilter picks written to target."""
        if self.input_filter == "$":
            return source
        pick = columns(self.input_filter)
        target.write_bytes(_csv(pick(row) for row in _records(source)))
        return target

    def output(self, source: Path, predictions: Path) -> bytes:
        """What is written for one input file: the container's predictions, or the records joined and filtered."""
        if self.join_source == "None" and self.output_filter == "$":
            return predictions.read_bytes()
        pick = columns(self.output_filter)
        if self.join_source == "None":
            return _csv(pick(row) for row in _records(predictions))
        try:
            return _csv(pick(row + prediction) for row, prediction in zip(_records(source), _records(predictions), strict=True))
        except ValueError:
            raise RequestError(f"{source.name} has not one prediction per record: it cannot be joined") from None
