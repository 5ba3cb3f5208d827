"""Training and test data cut into parts at row boundaries, the test features, labels and champion rows alike."""

import io
import math

import pandas as pd
import pytest

import preprocess_core
from pipeline_common.models import ShardPlan
from tabular import shards
from tabular.prepare import prepare
from tests.datasets import titanic_spec


@pytest.mark.parametrize("size, rows, instances, shard, expected", [
    (100, 10, 1, 1000, 1),       # small: one part
    (100, 10, 3, 1000, 3),       # one per instance at least
    (2500, 100, 1, 1000, 3),     # none larger than a shard
    (2500, 2, 1, 1000, 2),       # never more parts than rows
    (0, 0, 4, 1000, 1),          # an empty table is still one (empty) part
])
def test_part_count(size, rows, instances, shard, expected):
    assert shards.part_count(size, rows, instances, shard) == expected


def test_parts_differ_by_at_most_one_row_and_cover_every_row():
    for rows, parts in ((10, 3), (7, 7), (1000, 6), (5, 1)):
        bounds = shards.row_bounds(rows, parts)
        sizes = [b - a for a, b in zip(bounds, bounds[1:])]
        assert bounds[0] == 0 and bounds[-1] == rows and len(sizes) == parts and max(sizes) - min(sizes) <= 1


def test_cut_keeps_every_line_once_in_order_and_repeats_the_header():
    body = b"".join(f"{i},{i * 2}\n".encode() for i in range(10))
    parts = shards.cut(body, [0, 3, 7, 10])
    assert b"".join(parts) == body and [p.count(b"\n") for p in parts] == [3, 4, 3]
    labelled = shards.cut(b"row_id,label\n" + body, [0, 5, 10], header=True)
    assert all(p.startswith(b"row_id,label\n") for p in labelled) and [p.count(b"\n") for p in labelled] == [6, 6]
    with pytest.raises(ValueError, match="cover 9 rows"):
        shards.cut(body, [0, 9])


def test_the_test_features_labels_and_champion_rows_are_cut_at_the_same_rows(titanic_bytes):
    prepared = prepare(titanic_bytes, titanic_spec(), 0.2, 42)
    plan = ShardPlan(training_instances=2, transform_instances=3)  # the test rows: the larger of the two
    objects, manifest = preprocess_core.artifacts(prepared, "titanic-0123456789", {}, {}, 0.2, 42, None,
                                                  prepared.test_features, sharding=plan)
    by_key = {key: body for key, body, _ in objects}
    names = sorted(manifest.files)
    assert [n for n in names if n.startswith("train-")] == ["train-00000", "train-00001"]
    assert [n for n in names if n.startswith("test-")] == ["test-00000", "test-00001", "test-00002"]
    train = b"".join(by_key[manifest.files[f"train-{i:05d}"].key] for i in range(2))
    assert train == prepared.train and sum(manifest.files[f"train-{i:05d}"].rows for i in range(2)) == prepared.n_train
    labels = []
    for i in range(3):
        features = by_key[manifest.files[f"test-{i:05d}"].key]
        part_labels = pd.read_csv(io.BytesIO(by_key[manifest.files[f"labels-{i:05d}"].key]))
        champion = by_key[manifest.files[f"champion-{i:05d}"].key]
        assert features.count(b"\n") == len(part_labels) == champion.count(b"\n") == manifest.files[f"labels-{i:05d}"].rows
        assert features == champion  # the same rows, the same order
        labels.append(part_labels)
    whole = pd.read_csv(io.BytesIO(prepared.test_labels))
    pd.testing.assert_frame_equal(pd.concat(labels, ignore_index=True), whole)


def test_a_large_table_is_cut_by_shard_size(titanic_bytes):
    prepared = prepare(titanic_bytes, titanic_spec(), 0.2, 42)
    _, manifest = preprocess_core.artifacts(prepared, "titanic-0123456789", {}, {}, 0.2, 42,
                                            sharding=ShardPlan(shard_bytes=len(prepared.train) // 4))
    parts = [entry for name, entry in manifest.files.items() if name.startswith("train-")]
    assert len(parts) == math.ceil(len(prepared.train) / (len(prepared.train) // 4)) >= 4
    assert all(entry.bytes <= len(prepared.train) // 4 for entry in parts)


def test_the_test_rows_have_a_part_per_training_instance_too(titanic_bytes):
    prepared = prepare(titanic_bytes, titanic_spec(), 0.2, 42)
    _, manifest = preprocess_core.artifacts(prepared, "titanic-0123456789", {}, {}, 0.2, 42, sharding=ShardPlan(training_instances=4))
    assert sum(name.startswith("test-") for name in manifest.files) == sum(name.startswith("train-") for name in manifest.files) == 4


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])  # blocks that end inside lines, on line ends, beyond the file
def test_a_file_is_cut_as_its_bytes_are_a_block_at_a_time(tmp_path, block):
    body = b"".join(f"{i},{i * 2.5}\n".encode() for i in range(50))
    source = tmp_path / "train.csv"
    source.write_bytes(body)
    for header, bounds in ((False, [0, 17, 17, 34, 50]), (True, [0, 25, 50]), (False, [0, 50])):
        data = b"row_id,label\n" + body if header else body
        source.write_bytes(data)
        targets = [tmp_path / f"part-{i}" for i in range(len(bounds) - 1)]
        shards.cut_file(source, bounds, targets, header=header, block=block)
        assert [t.read_bytes() for t in targets] == shards.cut(data, bounds, header)
    source.write_bytes(body)
    two = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(ValueError, match="holds fewer"):
        shards.cut_file(source, [0, 30, 51], two, block=block)
    with pytest.raises(ValueError, match="holds more"):
        shards.cut_file(source, [0, 30, 49], two, block=block)
