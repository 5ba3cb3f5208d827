"""Reading a body without decoding it whole, and writing the numeric CSV a slice of rows at a time."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pipeline_common.errors import InputRejected
from pipeline_common.models import parse_spec
from tabular import csvio
from tabular.validate import typed_features

SPEC = parse_spec({"name": "d", "target": "y", "id_columns": ["id"], "columns": {
    "id": {"type": "id"}, "x": {"type": "numeric"}, "colour": {"type": "categorical"}, "note": {"type": "text"}}})
BODY = ('\ufeffid,x,colour,note,y\r\n 1 ,1.5,red,"a, b",0\r\n2,NA, Red ,  ,1\r\n 3,,null,c,0\r\n4,2,red, NA ,1\r\n'
        .encode())


def test_bytes_are_read_as_their_decoded_text_is():
    from_bytes = csvio.read_frame(BODY, SPEC)
    from_text = csvio.read_frame(csvio.decode(BODY), SPEC)
    pd.testing.assert_frame_equal(from_bytes, from_text)
    # ids are never categoricals: plain integers as numbers (their text given back by str), anything else as strings
    assert from_bytes["id"].astype(str).tolist() == ["1", "2", "3", "4"] and from_bytes["id"].dtype == np.int64
    assert from_bytes["colour"].tolist()[:2] == ["red", "Red"] and pd.isna(from_bytes["colour"][2])
    assert isinstance(from_bytes["colour"].dtype, pd.CategoricalDtype)
    assert from_bytes["note"].tolist()[0] == "a, b" and from_bytes["note"].isna().tolist()[1:] == [True, False, True]
    assert from_bytes["x"].tolist()[::3] == [1.5, 2.0] and from_bytes["x"].isna().tolist()[1:3] == [True, True]


def test_a_body_is_checked_a_slice_at_a_time_with_decodes_rejections(monkeypatch):
    monkeypatch.setattr(csvio, "SLICE", 16)
    bad = b"a,b\n" + b"1,2\n" * 20 + "\u00e9,\u00e9\n".encode() + b"x,\xe9\n"
    with pytest.raises(InputRejected) as sliced:
        csvio.check_text(bad)
    with pytest.raises(InputRejected) as whole:
        csvio.decode(bad)
    assert sliced.value.reason == whole.value.reason and sliced.value.details == whole.value.details
    assert sliced.value.details["offset"] == len(bad) - 2 and sliced.value.details["line"] == 23  # in the last slice
    for blank in (b"", b" \r\n", ("\ufeff" + "\u3000\n \u2003" * 10).encode()):
        with pytest.raises(InputRejected, match="file is empty"):
            csvio.check_text(blank)
    csvio.check_text("\ufeff \u3000\n".encode() * 10 + "é,b\n1,2\n".encode())  # a multi-byte character across slices


def test_a_file_on_disk_is_checked_a_slice_at_a_time_with_decodes_rejections(monkeypatch, tmp_path):
    monkeypatch.setattr(csvio, "SLICE", 16)
    path = tmp_path / "upload.csv"
    # a two-byte character cut by a slice boundary, then a bad byte some slices later
    for bad in (b"a,b\n" + b"1,2\n" * 20 + "\u00e9,\u00e9\n".encode() + b"x,\xe9\n", b"ab,\xc3\n", b"\xff,b\n1,2\n"):
        path.write_bytes(bad)
        with pytest.raises(InputRejected) as on_disk:
            csvio.check_file(path)
        with pytest.raises(InputRejected) as whole:
            csvio.decode(bad)
        assert on_disk.value.reason == whole.value.reason and on_disk.value.details == whole.value.details
    for blank in (b"", b" \r\n", ("\ufeff" + "\u3000\n \u2003" * 10).encode()):
        path.write_bytes(blank)
        with pytest.raises(InputRejected, match="file is empty"):
            csvio.check_file(path)
    path.write_bytes("\ufeff \u3000\n".encode() * 10 + "é,b\n1,2\n".encode())
    csvio.check_file(path)  # a multi-byte character across slices


def test_a_file_read_a_slice_of_rows_at_a_time_is_the_frame_read_at_once(monkeypatch, tmp_path, titanic_bytes):
    from tests.datasets import titanic_spec

    monkeypatch.setattr(csvio, "FILE_ROWS", 100)  # nine slices; categories first seen in a later slice
    for body, spec in ((titanic_bytes, titanic_spec()), (BODY * 1, SPEC)):
        path = tmp_path / "upload.csv"
        path.write_bytes(body)
        at_once, in_slices = csvio.read_frame(body, spec), csvio.read_file_frame(path, spec)
        pd.testing.assert_frame_equal(in_slices, at_once)
        for name in at_once.columns:
            if isinstance(at_once[name].dtype, pd.CategoricalDtype):  # the same order of first appearance
                assert in_slices[name].cat.categories.tolist() == at_once[name].cat.categories.tolist(), name
    # a numeric column with text in a later slice only: read as one column, for validation to name the line
    path.write_bytes(("x,y\n" + "1.5,a\n" * 150 + "oops,b\n").encode())
    numeric = parse_spec({"name": "d", "target": "y", "columns": {"x": {"type": "numeric"}}})
    with pytest.raises(InputRejected) as rejected:
        typed_features(csvio.read_file_frame(path, numeric), numeric)
    assert rejected.value.details["offending"] == [{"line": 152, "value": "oops"}]


def test_ids_written_as_plain_integers_are_held_as_numbers_and_give_back_their_text(monkeypatch, tmp_path):
    spec = parse_spec({"name": "d", "target": "y", "id_columns": ["id"], "columns": {"x": {"type": "numeric"}}})
    frame = csvio.read_frame(b"id,x,y\n 7 ,1,a\n12,2,b\n-3,3,a\n", spec)
    assert frame["id"].dtype == np.int64 and frame["id"].astype(str).tolist() == ["7", "12", "-3"]
    for texts in (["007", "1"], ["+1", "2"], ["1_0", "2"], ["1", ""], ["a1", "2"], ["-0", "2"], ["1e3", "2"], ["7.0", "2"],
                  ["١٢", "2"], ["1 2", "3"], ["0x1A", "2"], ["+", "2"], ["-", "0"], ["9999999999999999999", "2"], ["99999999999999999999", "2"]):
        # kept as written (or missing): not plain, or past what int64 surely holds
        body = ("id,x,y\n" + "".join(f"{t},1,a\n" for t in texts)).encode()
        assert csvio.read_frame(body, spec)["id"].tolist() == [t or None for t in texts]
    # integers in one slice, texts in a later one: texts throughout, so "17" and 17 are one id, as read at once
    monkeypatch.setattr(csvio, "FILE_ROWS", 2)
    path = tmp_path / "ids.csv"
    path.write_bytes(b"id,x,y\n17,1,a\n18,2,b\n017,3,a\n17,4,b\n")
    at_once, in_slices = csvio.read_frame(path.read_bytes(), spec), csvio.read_file_frame(path, spec)
    pd.testing.assert_frame_equal(in_slices, at_once)
    assert in_slices["id"].tolist() == ["17", "18", "017", "17"] and not in_slices["id"].is_unique


def test_the_header_is_found_however_long_it_is():
    body = ("\n  \n" + ",".join(f"column_{i}_{'x' * 40}" for i in range(2_000)) + "\n" + ",".join("1" * 2_000) + "\n").encode()
    assert len(body) > 65536
    assert csvio.header_of(csvio.head(body)) == csvio.header_of(csvio.decode(body))


def test_numbers_of_a_numeric_column_survive_text_in_a_later_slice_of_the_parser():
    # pandas reads in slices: numbers in the first, text (a quoted missing spelling) in the last
    spec = parse_spec({"name": "d", "target": "y", "columns": {"x": {"type": "numeric"}}})
    body = ("x,y\n" + "1.5,a\n" * 300_000 + '" NA ",b\n').encode()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the mixed slices are handled, so pandas' advice to set a dtype is not passed on
        typed = typed_features(csvio.read_frame(body, spec), spec)
    assert typed["x"].notna().sum() == 300_000 and typed["x"].iloc[0] == 1.5 and pd.isna(typed["x"].iloc[-1])


def test_the_numeric_csv_is_the_same_whatever_the_slice_of_rows(monkeypatch):
    rng = np.random.default_rng(0)
    matrix = np.column_stack([rng.integers(0, 2, 50), rng.integers(0, 12, 50), rng.normal(size=50).round(3),
                              np.where(rng.random(50) < 0.3, np.nan, 7.0), np.full(50, -0.0)])
    labels = rng.integers(0, 3, 50)
    whole = csvio.matrix_csv(matrix, first=labels)
    monkeypatch.setattr(csvio, "ROWS_AT_ONCE", 7)
    assert csvio.matrix_csv(matrix, first=labels) == whole and whole.count(b"\n") == 50
    first = [str(labels[0]), str(int(matrix[0, 0])), str(int(matrix[0, 1])), repr(float(matrix[0, 2])),
             "" if np.isnan(matrix[0, 3]) else "7", "0"]
    assert whole.split(b"\n")[0].decode().split(",") == first


def test_digits_and_other_numbers_are_written_as_their_shortest_text():
    row = np.array([[1, 9, 10, -1, 2.5, np.nan, 3e16, 1e-7, 2.0 ** 53, 0.1 + 0.2]])
    assert csvio.matrix_csv(row) == b"1,9,10,-1,2.5,,3e+16,1e-07,9007199254740992.0,0.30000000000000004\n"
