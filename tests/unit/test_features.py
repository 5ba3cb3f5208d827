"""The fitted transform: learned from training rows only, applied unchanged, with a home for unseen levels."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from pipeline_common.models import FittedTransform, parse_spec
from tabular import features
from tabular.csvio import read_frame
from tabular.prepare import prepare
from tabular.validate import typed_features
from tests.datasets import titanic_spec


@pytest.fixture(scope="module")
def titanic(titanic_bytes):
    return prepare(titanic_bytes, titanic_spec(), 0.2, 42)


def train_rows(titanic_bytes, prepared) -> pd.DataFrame:
    """The raw rows the transform was fitted on, found back through the labels file of the held-out rows."""
    frame = pd.read_csv(io.BytesIO(titanic_bytes))
    test_ids = set(pd.read_csv(io.BytesIO(prepared.test_labels), dtype={"row_id": str})["row_id"])
    return frame[~frame["PassengerId"].astype(str).isin(test_ids)], frame[frame["PassengerId"].astype(str).isin(test_ids)]


def fitted(prepared, name: str):
    return next(c for c in prepared.transform.columns if c.name == name)


def test_no_statistic_comes_from_the_test_rows(titanic_bytes, titanic):
    train, test = train_rows(titanic_bytes, titanic)
    assert len(train) == titanic.n_train == 713 and len(test) == 178
    assert fitted(titanic, "Age").fill == train["Age"].median()
    assert fitted(titanic, "Fare").fill == train["Fare"].median()
    assert fitted(titanic, "Embarked").fill == train["Embarked"].mode()[0]
    titles = train["Name"].str.extract(r",\s*([^.]+)\.", expand=False).value_counts()
    assert fitted(titanic, "Title").levels == [t for t, n in titles.items() if n >= 10]
    assert fitted(titanic, "FamilySize").fill == (train["SibSp"] + train["Parch"] + 1).median()
    assert titanic.transform.fitted_on_rows == 713


def test_changing_only_the_test_rows_changes_nothing_that_was_learned(titanic_bytes, titanic):
    """The split depends on the labels alone; rewrite every feature of the held-out rows and refit."""
    frame = pd.read_csv(io.BytesIO(titanic_bytes), dtype=str, keep_default_na=False)
    test_ids = set(pd.read_csv(io.BytesIO(titanic.test_labels), dtype={"row_id": str})["row_id"])
    held_out = frame["PassengerId"].isin(test_ids)
    frame.loc[held_out, "Age"] = "119"
    frame.loc[held_out, "Fare"] = "999"
    frame.loc[held_out, "Embarked"] = "Q"
    frame.loc[held_out, "Name"] = "Nobody, Capt. X"
    frame.loc[held_out, "Cabin"] = "Z99"
    rewritten = prepare(frame.to_csv(index=False).encode(), titanic_spec(), 0.2, 42)
    assert rewritten.test_labels == titanic.test_labels  # the same rows are held out
    assert rewritten.transform == titanic.transform  # and nothing learned from them
    assert rewritten.train == titanic.train
    assert rewritten.test_features != titanic.test_features


def test_the_same_transform_encodes_test_rows_with_training_values(titanic_bytes, titanic):
    _, test = train_rows(titanic_bytes, titanic)
    features_out = pd.read_csv(io.BytesIO(titanic.test_features), header=None, names=titanic.transform.features)
    labels = pd.read_csv(io.BytesIO(titanic.test_labels), dtype={"row_id": str})
    by_id = test.set_index(test["PassengerId"].astype(str)).loc[labels["row_id"]]
    missing_age = by_id["Age"].isna().to_numpy()
    assert missing_age.any()
    assert (features_out.loc[missing_age, "Age"] == fitted(titanic, "Age").fill).all()  # test rows filled with the train median
    assert np.allclose(features_out.loc[~missing_age, "Age"], by_id.loc[~missing_age, "Age"])
    assert (features_out["Sex=female"].to_numpy() == (by_id["Sex"] == "female").to_numpy()).all()


def test_unseen_and_rare_levels_go_to_other_and_missing_values_get_the_fill():
    spec = parse_spec({"name": "d", "target": "y", "columns": {
        "colour": {"type": "categorical", "max_levels": 2}, "size": {"type": "numeric", "fill": "mean"},
        "flag": {"type": "boolean"}}})
    train = read_frame("colour,size,flag,y\nred,1,yes,0\nred,3,no,1\nblue,,yes,0\nblue,5,yes,1\ngreen,7,no,0\n", spec)
    transform = features.fit(typed_features(train, spec), spec, "binary", ["0", "1"], "1", None)
    assert transform.features == ["colour=blue", "colour=red", "colour=__other__", "size", "flag"]
    later = read_frame("colour,size,flag,y\npurple,,,0\ngreen,2,no,1\n,4,true,0\n", spec)
    matrix = features.apply(typed_features(later, spec), transform)
    assert matrix[0].tolist() == [0, 0, 1, 4.0, 1]  # unseen purple -> other; size -> train mean; flag -> mode yes
    assert matrix[1].tolist() == [0, 0, 1, 2.0, 0]  # green was capped away -> other
    assert matrix[2].tolist() == [1, 0, 0, 4.0, 1]  # missing colour -> the mode (blue and red tie: first by name)


def test_the_transform_survives_json_and_applies_identically(titanic, titanic_bytes):
    again = FittedTransform.model_validate_json(titanic.transform.model_dump_json())
    spec = titanic.spec
    typed = typed_features(read_frame(titanic_bytes.decode(), spec), spec)
    typed = pd.concat([typed, features.derive(typed, spec)], axis=1)
    assert np.array_equal(features.apply(typed, again), features.apply(typed, titanic.transform), equal_nan=True)


def test_derived_features_from_the_small_vocabulary():
    spec = parse_spec({"name": "d", "target": "y", "columns": {
        "name": {"type": "text"}, "a": {"type": "numeric"}, "b": {"type": "numeric"}, "note": {"type": "text", "required": False}},
        "derived": [
            {"name": "title", "kind": "regex_extract", "column": "name", "pattern": r",\s*([^.]+)\.", "case": "lower"},
            {"name": "total", "kind": "sum", "columns": ["a", "b"], "add": 1},
            {"name": "ratio", "kind": "ratio", "numerator": "a", "denominator": "b"},
            {"name": "has_note", "kind": "is_missing", "column": "note", "present": True}]})
    frame = read_frame("name,a,b,note,y\n\"Smith, Dr. J\",2,4,x,1\nnobody,3,0,,0\n\"Doe, Ms. A\",,1,y,1\n", spec)
    derived = features.derive(typed_features(frame, spec), spec)
    assert derived["title"].tolist()[0::2] == ["dr", "ms"] and pd.isna(derived["title"][1])
    assert derived["total"].tolist()[:2] == [7.0, 4.0] and pd.isna(derived["total"][2])  # missing stays missing
    assert derived["ratio"][0] == 0.5 and pd.isna(derived["ratio"][1])  # no division by zero
    assert derived["has_note"].tolist() == [1.0, 0.0, 1.0]


def test_id_like_columns_are_dropped_from_the_features():
    n = 60
    body = "code,serial,x,y\n" + "".join(f"C{i:04d},{1000 + i},{i % 7},{i % 2}\n" for i in range(n))
    spec = parse_spec({"name": "d", "target": "y", "columns": {
        "code": {"type": "categorical"}, "serial": {"type": "numeric"}, "x": {"type": "numeric"}}})
    prepared = prepare(body.encode(), spec, 0.2, 1)
    assert prepared.transform.features == ["x"]
    kinds = {(w["kind"], w.get("column")) for w in prepared.profile["warnings"]}
    assert {("id_like_column", "code"), ("id_like_column", "serial")} <= kinds


def test_a_regular_expression_extract_is_the_first_group_stripped_and_missing_when_nothing_is_left():
    spec = parse_spec({"name": "d", "target": "y", "columns": {"code": {"type": "text"}}, "derived": [
        {"name": "prefix", "kind": "regex_extract", "column": "code", "pattern": r"^(a)?([a-z ]*)-", "case": "upper"},
        {"name": "word", "kind": "regex_extract", "column": "code", "pattern": r"([a-z ]*)-"}]})
    frame = read_frame("code,y\nab-1,0\n  -2,1\nxy,0\ncd-,1\n,0\nab-3,1\n", spec)
    derived = features.derive(typed_features(frame, spec), spec)
    assert derived["prefix"].tolist()[:1] + derived["prefix"].tolist()[5:] == ["A", "A"]  # the first group, in upper case
    assert derived["prefix"].isna().tolist() == [False, True, True, True, True, False]  # a group that took no part
    assert derived["word"].tolist()[::5] == ["ab", "ab"] and derived["word"][3] == "cd"
    assert derived["word"].isna().tolist() == [False, True, True, False, True, False]  # only spaces, no match, empty


def test_another_versions_encoding_of_the_test_rows_reuses_the_rows_read_only_when_its_spec_reads_alike(titanic_bytes):
    from tabular.score import encode_rows

    spec = titanic_spec()
    prepared = prepare(titanic_bytes, spec, 0.2, 42, keep_test_frame=True)
    assert list(prepared.test_frame.index) == list(prepared.test_rows)
    champion = prepare(titanic_bytes, spec, 0.3, 7).transform  # another version: other rows, other fill values
    reread = encode_rows(titanic_bytes, spec, champion, prepared.test_rows)
    reused = encode_rows(titanic_bytes, spec, champion, prepared.test_rows, read=(spec, prepared.test_frame))
    np.testing.assert_array_equal(reused, reread)
    # a version whose spec reads "1" as missing (Pclass, SibSp, ...) must not get the rows as this spec read them
    other = spec.model_copy(update={"missing_values": [*spec.missing_values, "1"]})
    read_its_way = encode_rows(titanic_bytes, other, champion, prepared.test_rows, read=(spec, prepared.test_frame))
    np.testing.assert_array_equal(read_its_way, encode_rows(titanic_bytes, other, champion, prepared.test_rows))
    assert not np.array_equal(read_its_way, reread, equal_nan=True)
