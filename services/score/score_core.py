"""Scoring a file with a dataset's approved version: the pure parts (requests, manifests, the joined predictions)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Iterable, Iterator

import numpy as np
import pandas as pd

from pipeline_common import layout
from pipeline_common.errors import InputRejected
from pipeline_common.models import FileEntry, ModelVersion, ScoringManifest

from tabular.predictions import PredictionReader, prediction_columns
from tabular.score import input_chunks

STAGES = ("score", "transform", "predictions")
CHUNK_ROWS = 50_000  # rows held at once while encoding an upload or joining its predictions back


def check_size(size: int, limit_bytes: int) -> None:
    if size > limit_bytes:
        raise InputRejected(f"file is {size} bytes, larger than the {limit_bytes}-byte limit of the score function (MaxScoringMegabytes)",
                            size=size, limit=limit_bytes)


def no_approved_version(dataset: str) -> InputRejected:
    return InputRejected(f"dataset {dataset!r} has no approved model version to score with: upload a training file to "
                         f"raw/{dataset}/ and let the gate approve it, or approve a version with `mlpipe approve`", dataset=dataset)


@dataclass
class EncodedInput:
    """What was written of the transform's input so far: bytes, rows and their digest."""

    size: int = 0
    rows: int = 0
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)

    def add(self, encoded: bytes, rows: int) -> None:
        self.size, self.rows = self.size + len(encoded), self.rows + rows
        self.digest.update(encoded)


def scoring_manifest(run_id: str, dataset: str, source: dict, version: ModelVersion, problem_type: str, classes: list[str],
                     encoded: EncodedInput) -> ScoringManifest:
    key = layout.RunKeys(run_id).scoring_input(0)
    return ScoringManifest(
        run_id=run_id, dataset=dataset, source=source, created_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        rows=encoded.rows, model_version=version, problem_type=problem_type, classes=classes,
        files={"input-00000": FileEntry(key=key, bytes=encoded.size, sha256=encoded.digest.hexdigest(), rows=encoded.rows)},
    )


class Answers:
    """The transform's answer files read one after the other, as one sequence of predictions."""

    def __init__(self, outputs: Iterable[BinaryIO], problem_type: str, n_classes: int):
        self._readers = (PredictionReader(stream, problem_type, n_classes) for stream in outputs)
        self._reader = next(self._readers, None)

    def take(self, rows: int) -> tuple[list[bytes], list[np.ndarray]]:
        """The next ``rows`` predictions: their lines as the model wrote them, and the numbers, one array per file."""
        lines, parts, wanted = [], [], rows
        while wanted and self._reader is not None:
            taken = self._reader.take_lines(wanted)
            lines += taken
            parts.append(self._reader.parse(taken))
            wanted -= len(taken)
            if wanted:
                self._reader = next(self._readers, None)  # this file is used up: the next one continues
        return lines, parts

    def count_rest(self) -> int:
        rest = 0
        while self._reader is not None:
            rest += self._reader.count_rest()
            self._reader = next(self._readers, None)
        return rest


def joined(upload: BinaryIO, outputs: Iterable[BinaryIO], manifest: ScoringManifest, threshold: float,
           rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Every input column in input order, then ``prediction`` and the probabilities (a binary probability as the
    answer's text), ``rows`` rows at a time; ``outputs`` are the transform's answers, in the order of its input files."""
    answers = Answers(outputs, manifest.problem_type, len(manifest.classes))
    chunks = input_chunks(upload, rows)
    counted = predicted = 0
    for table in chunks:
        if not counted:
            taken = [c for c in ("prediction", "probability") if c in table.columns]
            if taken:
                raise InputRejected(f"the file already has column(s) {', '.join(taken)}, which scoring adds", columns=taken)
        counted += len(table)
        lines, parts = answers.take(len(table))
        predictions = np.concatenate(parts) if parts else np.empty(0)
        predicted += len(predictions)
        if len(predictions) < len(table):
            counted += sum(len(rest) for rest in chunks)
            break
        yield pd.concat([table.reset_index(drop=True),
                         prediction_columns(manifest.problem_type, manifest.classes, predictions, threshold, lines)], axis=1)
    predicted += answers.count_rest()
    if predicted != counted:
        raise ValueError(f"{predicted} predictions for {counted} rows: the transform output does not match the file")
