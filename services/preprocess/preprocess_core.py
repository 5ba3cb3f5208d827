"""What preprocessing writes for a run, as plain keys and bytes: the pure part of the preprocess function."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from pipeline_common import layout
from pipeline_common.errors import InputRejected
from pipeline_common.models import (Champion, DatasetSpec, FileEntry, FittedTransform, ModelVersion, PreprocessTask, ShardPlan,
                                    SplitManifest, parse_spec)
from pipeline_common.specs import frozen

from tabular.csvio import matrix_csv
from tabular import shards
from tabular.prepare import Prepared, prepare
from tabular.score import encode_rows

STAGE = "preprocess"


def check_size(size: int, limit_bytes: int) -> None:
    if size > limit_bytes:
        raise InputRejected(
            f"file is {size} bytes, larger than the {limit_bytes}-byte limit of this function (MaxInputMegabytes)",
            size=size,
            limit=limit_bytes,
        )


def _json(value) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode()


def _size(body: bytes | Path) -> int:
    return body.stat().st_size if isinstance(body, Path) else len(body)


def _entry(key: str, body: bytes | Path, rows: int | None = None) -> FileEntry:
    if isinstance(body, Path):
        with open(body, "rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
    else:
        digest = hashlib.sha256(body).hexdigest()
    return FileEntry(key=key, bytes=_size(body), sha256=digest, rows=rows)


def champion_rows(version: ModelVersion, spec: DatasetSpec, transform: FittedTransform, body: bytes | Path,
                  prepared: Prepared, run_spec: DatasetSpec | None = None) -> tuple[Champion, bytes | None]:
    """The approved version and this run's test rows encoded its way, so the gate compares both on the same rows.

    A champion that cannot read these rows, or predicts other classes, is recorded as not comparable, with why;
    it never rejects the upload.
    """
    if (transform.problem_type, transform.classes) != (prepared.transform.problem_type, prepared.transform.classes):
        why = (f"it is a {transform.problem_type} model of classes {transform.classes}; this run is "
               f"{prepared.transform.problem_type} of classes {prepared.transform.classes}")
        return Champion(version=version, comparable=False, reason=why), None
    try:
        read = (run_spec, prepared.test_frame) if run_spec is not None and prepared.test_frame is not None else None
        matrix = encode_rows(body, spec, transform, prepared.test_rows, read)
    except InputRejected as rejected:
        return Champion(version=version, comparable=False, reason=f"it cannot read these rows: {rejected.reason}"), None
    return Champion(version=version, comparable=True), matrix_csv(matrix)


def _parts(keys_of, body: bytes | Path, bounds: list[int], role: str, header: bool = False) -> list[tuple[str, str, bytes | Path, int]]:
    """(manifest name, key, bytes, rows) of each part of ``body``; of a file, the part's file beside it (the file is
    removed once cut)."""
    names = [f"{role}-{index:05d}" for index in range(len(bounds) - 1)]
    if isinstance(body, Path):
        cut = [body.with_name(name) for name in names]
        shards.cut_file(body, bounds, cut, header)
        body.unlink()
    else:
        cut = shards.cut(body, bounds, header)
    return [(name, keys_of(index), part, b - a) for index, (name, part, a, b) in enumerate(zip(names, cut, bounds, bounds[1:]))]


def artifacts(prepared: Prepared, run_id: str, source: dict, spec_origin: dict, test_fraction: float, seed: int,
              champion: Champion | None = None, champion_test: bytes | None = None,
              sharding: ShardPlan = ShardPlan()) -> tuple[list[tuple[str, bytes | Path, str]], SplitManifest]:
    """The objects to write (their bytes, or files when prepared into a scratch folder), data first, and the manifest
    to write after them (it starts training).

    The training rows are cut into at least one part per training instance, the test rows into at least one per
    transform or training instance; the labels and the champion's rows are cut where the test features are.
    """
    keys = layout.RunKeys(run_id)
    spec_doc = {**prepared.spec.model_dump(mode="json"), "origin": spec_origin}
    objects = [
        (keys.frozen_spec, _json(spec_doc), "application/json"),
        (keys.transform, _json(prepared.transform.model_dump(mode="json")), "application/json"),
        (keys.profile, _json(prepared.profile), "application/json"),
    ]
    train_bounds = shards.row_bounds(prepared.n_train, shards.part_count(
        _size(prepared.train), prepared.n_train, sharding.training_instances, sharding.shard_bytes))
    # the test rows in as many parts as either job has instances: a larger training cluster means a larger file
    test_bounds = shards.row_bounds(prepared.n_test, shards.part_count(
        _size(prepared.test_features), prepared.n_test, max(sharding.transform_instances, sharding.training_instances),
        sharding.shard_bytes))
    parts = (_parts(keys.train_part, prepared.train, train_bounds, "train")
             + _parts(keys.test_part, prepared.test_features, test_bounds, "test")
             + _parts(keys.labels_part, prepared.test_labels, test_bounds, "labels", header=True))
    if champion_test is not None:
        parts += _parts(keys.champion_test_part, champion_test, test_bounds, "champion")
    objects += [(key, body, "text/csv") for _, key, body, _ in parts]
    files = {name: _entry(key, body, rows) for name, key, body, rows in parts}
    spec, transform = prepared.spec, prepared.transform
    manifest = SplitManifest(
        run_id=run_id, stage=STAGE, created_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        dataset=spec.name, source=source, problem_type=transform.problem_type, target=spec.target, objective=spec.objective(),
        classes=transform.classes, positive_class=transform.positive_class, features=transform.features,
        feature_sources=transform.feature_sources, hyperparameters={k: str(v) for k, v in spec.hyperparameters.items()},
        n_train=prepared.n_train, n_test=prepared.n_test, train_label_counts=prepared.train_label_counts,
        test_label_counts=prepared.test_label_counts, test_fraction=test_fraction, seed=seed,
        spec_key=keys.frozen_spec, transform_key=keys.transform, profile_key=keys.profile, files=files, champion=champion,
    )
    return objects, manifest


def prepare_upload(body: bytes | Path, task: PreprocessTask,
                   scratch: Path | None = None) -> tuple[Prepared, list[tuple[str, bytes | Path, str]], SplitManifest]:
    """Everything the stage writes for one upload: the same call in the function (its bytes) and on its Processing job
    (its path: read a slice of rows at a time; the data files written to ``scratch``, never held whole)."""
    spec = parse_spec(task.spec, "the run's spec")
    prepared = prepare(body, spec, task.test_fraction, task.seed, keep_test_frame=task.champion is not None, scratch=scratch)
    champion, champion_test = None, None
    if task.champion is not None:
        champion, champion_test = champion_rows(task.champion, frozen(task.champion_spec),
                                                FittedTransform.model_validate(task.champion_transform), body, prepared, spec)
    objects, manifest = artifacts(prepared, task.run_id, task.source, task.spec_origin, task.test_fraction, task.seed,
                                  champion, champion_test, task.sharding)
    return prepared, objects, manifest
