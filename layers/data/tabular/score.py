"""Rows to score, encoded exactly as a model version was trained: its frozen spec validates them (no target
needed; one that is present is ignored), its fitted transform encodes them."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from pipeline_common.errors import InputRejected
from pipeline_common.models import DatasetSpec, FittedTransform

from . import features as feature_lib
from .csvio import buffered_stream, read_frames, read_upload, same_reading
from .validate import empty_required, typed_features


def encode(frame: pd.DataFrame, spec: DatasetSpec, transform: FittedTransform, whole_file: bool = True) -> np.ndarray:
    """The model's input for rows read with ``spec``; InputRejected names what is wrong with them."""
    typed = typed_features(frame, spec, with_target=False, whole_file=whole_file)
    typed = pd.concat([typed, feature_lib.derive(typed, feature_lib.derived_of(transform))], axis=1)
    return feature_lib.apply(typed, transform)


def encode_chunks(stream, spec: DatasetSpec, transform: FittedTransform, rows: int) -> Iterator[np.ndarray]:
    """The encoded rows of a CSV sent for scoring, ``rows`` rows at a time: memory holds one chunk. A required
    column with no value in any chunk is rejected after the last one."""
    never_valued: set[str] | None = None
    for frame in read_frames(stream, spec, rows):
        matrix = encode(frame, spec, transform, whole_file=False)
        empty = set(empty_required(frame, spec))
        never_valued = empty if never_valued is None else never_valued & empty
        yield matrix
    if never_valued:
        empty = sorted(never_valued)
        raise InputRejected(f"required column(s) without any value: {', '.join(empty)}", empty_columns=empty)


def input_chunks(stream, rows: int) -> Iterator[pd.DataFrame]:
    """The file as it was sent, ``rows`` rows at a time: every column, in order, values as written (for joining
    predictions back)."""
    yield from pd.read_csv(buffered_stream(stream), encoding="utf-8-sig", dtype=str, keep_default_na=False,
                           skip_blank_lines=True, chunksize=rows)


def encode_rows(body: bytes | Path, spec: DatasetSpec, transform: FittedTransform, rows: pd.Index,
                read: tuple[DatasetSpec, pd.DataFrame] | None = None) -> np.ndarray:
    """Some rows of a training file (the held-out ones) encoded for another model version, read with that version's
    spec. ``read``: a spec and those rows as it read them; used instead of reading the file again when it reads the
    file as ``spec`` does."""
    if read is not None and same_reading(read[0], spec):
        return encode(read[1], spec, transform)
    frame, _ = read_upload(body, spec)
    return encode(frame.loc[rows], spec, transform)
