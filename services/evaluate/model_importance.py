"""Feature importance (average gain per split) read straight from the trained model artifact.

The evaluate function cannot carry xgboost (with scipy it would pass Lambda's 250 MB limit),
so this reads the two formats the built-in containers write for ``xgboost-model``: the
legacy binary format of xgboost 1.x (container 1.3-1 to 1.7-1) and UBJSON or JSON (xgboost
2.1 and later, container 3.0-5). The result equals ``Booster.get_score(importance_type="gain")``.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
from collections import defaultdict

MODEL_FILE = "xgboost-model"


class UnsupportedModel(ValueError):
    pass


def model_bytes(model_tar_gz: bytes) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(model_tar_gz), mode="r:gz") as archive:
            return archive.extractfile(MODEL_FILE).read()
    except KeyError:
        raise UnsupportedModel(f"model.tar.gz holds no {MODEL_FILE}") from None
    except tarfile.TarError as err:
        raise UnsupportedModel(f"the model artifact is not a readable tar.gz: {err}") from None


# -- legacy binary (xgboost 1.x) -----------------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise UnsupportedModel("the model file ends early")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def string(self) -> str:
        (length,) = self.take("<Q")
        (text,) = self.take(f"<{length}s")
        return text.decode()


def _legacy_trees(data: bytes) -> list[list[tuple[int, float]]]:
    """Per tree, the (feature, loss change) of every split node."""
    reader = _Reader(data)
    if reader.take("<4s")[0] != b"binf":
        raise UnsupportedModel("not a legacy binary model")
    reader.take("<fIiiiIII26i")  # LearnerModelParam: base score, features, classes, flags, version, reserved
    reader.string()  # objective name
    if reader.string() != "gbtree":
        raise UnsupportedModel("only gbtree models have split gains")
    num_trees = reader.take("<ii")[0]  # GBTreeModelParam: num_trees, deprecated num_roots ...
    reader.take("<iiqii32i")  # ... num_feature, pad, num_pbuffer, num_output_group, size_leaf_vector, reserved
    trees = []
    for _ in range(num_trees):
        _, num_nodes, _, _, _, _ = reader.take("<iiiiii")  # TreeParam
        reader.take("<31i")
        nodes = [reader.take("<iiiIf") for _ in range(num_nodes)]  # parent, left, right, split index, info
        stats = [reader.take("<fffi") for _ in range(num_nodes)]  # loss change, hessian, weight, leaf children
        splits = []
        for (_, left, _, split_index, _), (loss_change, _, _, _) in zip(nodes, stats):
            if left != -1:
                splits.append((split_index & 0x7FFFFFFF, loss_change))  # top bit: default direction
        trees.append(splits)
    return trees


# -- UBJSON / JSON (xgboost 2.1 and later) ---------------------------------------------------------
_UBJ_NUMBERS = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q", b"d": ">f", b"D": ">d"}


def _ubj_value(reader: _Reader, marker: bytes):
    if marker in _UBJ_NUMBERS:
        return reader.take(_UBJ_NUMBERS[marker])[0]
    if marker == b"S":
        (length_marker,) = reader.take("c")
        length = _ubj_value(reader, length_marker)
        return reader.take(f"{length}s")[0].decode()
    if marker in (b"T", b"F"):
        return marker == b"T"
    if marker == b"Z":
        return None
    if marker == b"[":
        return _ubj_array(reader)
    if marker == b"{":
        return _ubj_object(reader)
    raise UnsupportedModel(f"unknown UBJSON marker {marker!r}")


def _ubj_array(reader: _Reader) -> list:
    (marker,) = reader.take("c")
    if marker == b"$":  # typed, counted array: the form xgboost writes for its node vectors
        (item_type,) = reader.take("c")
        (count_marker,) = reader.take("c")
        if count_marker != b"#":
            raise UnsupportedModel("typed UBJSON array without a count")
        (length_marker,) = reader.take("c")
        count = _ubj_value(reader, length_marker)
        return [_ubj_value(reader, item_type) for _ in range(count)]
    if marker == b"#":
        (length_marker,) = reader.take("c")
        count = _ubj_value(reader, length_marker)
        return [_ubj_value(reader, reader.take("c")[0]) for _ in range(count)]
    items = []
    while marker != b"]":
        items.append(_ubj_value(reader, marker))
        (marker,) = reader.take("c")
    return items


def _ubj_key(reader: _Reader, length_marker: bytes) -> str:
    length = _ubj_value(reader, length_marker)
    return reader.take(f"{length}s")[0].decode()


def _ubj_object(reader: _Reader) -> dict:
    result = {}
    (marker,) = reader.take("c")
    if marker == b"#":
        (length_marker,) = reader.take("c")
        for _ in range(_ubj_value(reader, length_marker)):
            key = _ubj_key(reader, reader.take("c")[0])
            result[key] = _ubj_value(reader, reader.take("c")[0])
        return result
    while marker != b"}":
        key = _ubj_key(reader, marker)
        result[key] = _ubj_value(reader, reader.take("c")[0])
        (marker,) = reader.take("c")
    return result


def _json_trees(document: dict) -> list[list[tuple[int, float]]]:
    booster = document["learner"]["gradient_booster"]
    if booster.get("name") != "gbtree":
        raise UnsupportedModel("only gbtree models have split gains")
    trees = []
    for tree in booster["model"]["trees"]:
        splits = [
            (feature, gain)
            for left, feature, gain in zip(tree["left_children"], tree["split_indices"], tree["loss_changes"])
            if left != -1
        ]
        trees.append(splits)
    return trees


def _trees(data: bytes) -> list[list[tuple[int, float]]]:
    if data.startswith(b"binf"):
        try:
            return _legacy_trees(data)
        except struct.error as err:
            raise UnsupportedModel(f"the legacy binary model could not be read: {err}") from None
    if data.startswith(b"{"):
        try:
            return _json_trees(json.loads(data))
        except (UnicodeDecodeError, json.JSONDecodeError):
            reader = _Reader(data)
            reader.take("c")
            return _json_trees(_ubj_object(reader))
    if data[:1] == b"\x80":
        raise UnsupportedModel("a pickled model (containers before 1.3-1) cannot be read without xgboost")
    raise UnsupportedModel("unknown model format")


def split_gains(model_tar_gz: bytes, feature_names: list[str]) -> dict[str, tuple[float, int]]:
    """Total gain and number of splits per model column; columns never split on are left out."""
    total, count = defaultdict(float), defaultdict(int)
    for tree in _trees(model_bytes(model_tar_gz)):
        for feature, gain in tree:
            total[feature] += gain
            count[feature] += 1
    return {feature_names[f] if f < len(feature_names) else f"f{f}": (total[f], count[f]) for f in total}


def average_gain(gains: dict[str, tuple[float, int]], sources: dict[str, str] | None = None) -> dict[str, float]:
    """Average gain per split, largest first: per model column, or per input column when ``sources`` maps
    model columns (one-hot levels, say) to the column they come from."""
    total, count = defaultdict(float), defaultdict(int)
    for name, (gain, splits) in gains.items():
        key = (sources or {}).get(name, name)
        total[key] += gain
        count[key] += splits
    return dict(sorted(((k, total[k] / count[k]) for k in total), key=lambda item: -item[1]))


def gain_importance(model_tar_gz: bytes, feature_names: list[str]) -> dict[str, float]:
    """Average gain of the splits on each feature, largest first (xgboost's get_score(importance_type="gain"))."""
    return average_gain(split_gains(model_tar_gz, feature_names))
