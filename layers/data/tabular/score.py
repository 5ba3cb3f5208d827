"""Rows to score, encoded exactly as a model version was trained: its frozen spec validates them (no target
needed; one that is present is ignored), its fitted transform encodes them."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from pipeline_common.models import DatasetSpec, FittedTransform

from . import features as feature_lib
from .csvio import decode, read_frame
from .validate import typed_features


def encode(frame: pd.DataFrame, spec: DatasetSpec, transform: FittedTransform) -> np.ndarray:
    """The model's input for rows read with ``spec``; InputRejected names what is wrong with them."""
    typed = typed_features(frame, spec, with_target=False)
    typed = pd.concat([typed, feature_lib.derive(typed, feature_lib.derived_of(transform))], axis=1)
    return feature_lib.apply(typed, transform)


def encode_file(body: bytes, spec: DatasetSpec, transform: FittedTransform) -> tuple[np.ndarray, int]:
    """The encoded rows of a CSV sent for scoring, and how many there are."""
    frame = read_frame(body, spec)
    return encode(frame, spec, transform), len(frame)


def input_table(body: bytes) -> pd.DataFrame:
    """The file as it was sent: every column, in order, values as written (for joining predictions back)."""
    return pd.read_csv(io.StringIO(decode(body)), dtype=str, keep_default_na=False, skip_blank_lines=True)


def encode_rows(body: bytes, spec: DatasetSpec, transform: FittedTransform, rows: pd.Index) -> np.ndarray:
    """Some rows of a training file (the held-out ones) encoded for another model version, read with that version's spec."""
    frame = read_frame(body, spec)
    return encode(frame.loc[rows], spec, transform)
