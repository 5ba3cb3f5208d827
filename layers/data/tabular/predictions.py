"""Reading the built-in XGBoost container's answers, and turning them into the columns users read."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import pandas as pd

READ_BYTES = 1 << 20


def _parse_lines(lines: list[bytes], problem_type: str, n_classes: int) -> np.ndarray:
    if problem_type == "multiclass" and not lines:
        return np.empty((0, n_classes))
    if problem_type == "multiclass":
        rows = np.array([line.replace(b"[", b"").replace(b"]", b"") for line in lines], dtype=bytes)
        widths = np.char.count(rows, b",") + 1 if len(rows) else np.zeros(0, int)
        if len(rows) and (widths != widths[0]).any():
            line = int(np.flatnonzero(widths != widths[0])[0]) + 1
            raise ValueError(f"multiclass prediction output is not one list of probabilities per line: line {line} "
                             f"holds {widths[line - 1]} values, line 1 {widths[0]}")
        if len(rows) and widths[0] != n_classes:
            raise ValueError(f"predictions hold {widths[0]} probabilities per row for {n_classes} classes; "
                             f"is the objective multi:softprob?")
        try:
            return np.array(b",".join(rows).split(b","), dtype=float).reshape(len(rows), n_classes)
        except ValueError as err:
            raise ValueError(f"multiclass prediction output is not one list of probabilities per line: {err}") from None
    try:
        values = np.array(lines, dtype=bytes).astype(float)
    except ValueError:
        line = next(i for i, text in enumerate(lines) if not _is_number(text))
        raise ValueError(f"prediction output is not one number per line: {lines[line][:40].decode(errors='replace')!r} "
                         f"(line {line + 1} of the chunk)") from None
    if problem_type == "binary" and ((values < 0) | (values > 1)).any():
        raise ValueError("predictions are not probabilities in [0, 1]; is the objective binary:logistic?")
    return values


def _is_number(text: bytes) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_predictions(body: bytes, problem_type: str, n_classes: int = 0) -> np.ndarray:
    """One prediction per line: a number (binary, regression) or, for multi:softprob, the class probabilities, written
    as a list by batch transform (``[0.1, 0.2, 0.7]``) and as comma-separated values by a real-time endpoint."""
    lines = [line.strip() for line in body.split(b"\n") if line.strip()]
    return _parse_lines(lines, problem_type, n_classes)


class PredictionReader:
    """A transform output read a given number of predictions at a time, never whole: memory stays at one chunk."""

    def __init__(self, stream: BinaryIO, problem_type: str, n_classes: int = 0):
        self._stream, self._problem_type, self._n_classes = stream, problem_type, n_classes
        self._lines: list[bytes] = []
        self._tail, self._ended = b"", False

    def _fill(self, wanted: int) -> None:
        while len(self._lines) < wanted and not self._ended:
            block = self._stream.read(READ_BYTES)
            if not block:
                self._ended, block = True, b"\n"
            *complete, self._tail = (self._tail + block).split(b"\n")
            self._lines += [line.strip() for line in complete if line.strip()]

    def take_lines(self, rows: int) -> list[bytes]:
        """The next ``rows`` predictions as the model wrote them (one line each), or fewer at the end of the output."""
        self._fill(rows)
        taken, self._lines = self._lines[:rows], self._lines[rows:]
        return taken

    def parse(self, lines: list[bytes]) -> np.ndarray:
        return _parse_lines(lines, self._problem_type, self._n_classes)

    def take(self, rows: int) -> np.ndarray:
        """The next ``rows`` predictions, or fewer at the end of the output."""
        return self.parse(self.take_lines(rows))

    def count_rest(self) -> int:
        """How many predictions remain (read through, not kept)."""
        rest = 0
        while True:
            rest += len(self._lines)
            self._lines = []
            if self._ended:
                return rest
            self._fill(1)


def prediction_columns(problem_type: str, classes: list[str], predictions: np.ndarray, threshold: float,
                       lines: list[bytes] | None = None) -> pd.DataFrame:
    """``prediction`` (the class as written in the training data, or the number) and the probabilities:
    ``probability`` of the positive class (binary) or one ``probability_<class>`` per class (multiclass).

    ``lines``: the predictions as the model wrote them, one number a line (binary, regression). Those numbers are then
    written as they came, not formatted again (the container writes Python's shortest text, which is what formatting
    would give, at a third of the time); unless one is not finite, which a CSV writes as an empty field."""
    numbers = predictions
    if lines is not None and problem_type != "multiclass" and np.isfinite(predictions).all():
        numbers = np.array([line.decode() for line in lines], dtype=object)
    if problem_type == "regression":
        return pd.DataFrame({"prediction": numbers})
    if problem_type == "binary":
        return pd.DataFrame({"prediction": np.where(predictions >= threshold, classes[1], classes[0]), "probability": numbers})
    columns = {"prediction": np.asarray(classes, dtype=object)[predictions.argmax(axis=1)]}
    columns.update({f"probability_{c}": predictions[:, i] for i, c in enumerate(classes)})
    return pd.DataFrame(columns)
