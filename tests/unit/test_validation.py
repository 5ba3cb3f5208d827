"""Validation from the spec before anything is learned: every rejection names the column, lines and values."""

from __future__ import annotations

import pytest

from pipeline_common.errors import InputRejected
from tabular.prepare import prepare
from tests.datasets import HEADER, rows, small_csv, titanic_spec


def run(body: bytes, **spec_changes):
    return prepare(body, titanic_spec(**spec_changes), 0.2, 42)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "file is empty"),
        (b"   \n", "file is empty"),
        (HEADER.encode(), "header but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (HEADER.replace(",", ";").encode() + rows().replace(",", ";").encode(), "semicolon-separated"),
        (HEADER.replace(",", "\t").encode() + rows().replace(",", "\t").encode(), "tab-separated"),
        (HEADER.replace("Survived,", "").encode() + b'1,3,"a, Mr. b",male,1,0,0,t,1,,S\n', "missing: Survived"),
        (small_csv('99,2,1,"x, Mr. y",male,1,0,0,t,1,,S\n'), "Survived must be one of 0, 1"),
        (small_csv('99,1,1,"x, Mr. y",male,young,0,0,t,1,,S\n'), "column Age must be numeric"),
        (small_csv('99,1,1,"x, Mr. y",robot,1,0,0,t,1,,S\n'), "Sex must be one of male, female"),
        (small_csv('99,1,1,"x, Mr. y",male,1,0,0,t,1,,X\n'), "Embarked must be one of C, Q, S"),
        (small_csv('99,1,1,"x, Mr. y",male,150,0,0,t,1,,S\n'), "Age must be at most 120"),
        (small_csv('99,1,1,"x, Mr. y",male,1,-1,0,t,1,,S\n'), "SibSp must be at least 0"),
        (small_csv('99,1,1,"x, Mr. y",male,1,0,0,t,inf,,S\n'), "Fare holds 1 non-finite"),
        (small_csv('99,1,1,"x, Mr. y",male,1,0,0,t,-Infinity,,S\n'), "Fare holds 1 non-finite"),
        ((HEADER + "".join(f'{i},1,1,"n, Mr. a",male,1,0,0,t,1,,S\n' for i in range(20))).encode(), "single class"),
        (small_csv(n_per_class=1), "too few rows to split"),
        ("Survived,Pclass,Sex,Age,SibSp,Parch,Fare,Embarked\n1,1,femme,30,0,0,5,S\n".encode("utf-16"), "binary"),
        (HEADER.encode() + '1,1,1,"Zoë, Mrs. a",female,1,0,0,t,1,,S\n'.encode("latin-1"), "not UTF-8"),
        (b"\xef\xbb\xbf \n", "file is empty"),
        (small_csv().replace(b",S\n", b",\n"), "without any value: Embarked"),
        ((HEADER + "".join(f'{i},{i % 2},1,"n, Mr. a",male,,0,0,t,1,,S\n' for i in range(12))).encode(), "without any value: Age"),
        (small_csv().replace(b"PassengerId,Survived,Pclass", b"Pclass,Survived,Pclass"), "more than once"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(body, message):
    with pytest.raises(InputRejected, match=message):
        run(body)


def test_rejection_names_the_offending_lines_and_values():
    with pytest.raises(InputRejected) as caught:
        run(small_csv('99,1,1,"x, Mr. y",male,1,0,0,t,1e400,,S\n98,1,1,"x, Mr. z",male,1,0,0,t,-inf,,S\n'))
    assert caught.value.details["column"] == "Fare"
    assert caught.value.details["offending"] == [{"line": 12, "value": "inf"}, {"line": 13, "value": "-inf"}]


def test_missing_columns_are_all_listed():
    with pytest.raises(InputRejected) as caught:
        run(b"Survived,Pclass\n1,1\n")
    missing = caught.value.details["missing_columns"]
    assert {"PassengerId", "Name", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked", "Cabin"} == set(missing)
    assert ", ".join(missing) in caught.value.reason


@pytest.mark.parametrize("spelling", ["", "NA", "NaN", "nan", "null", " NA "])
def test_na_spellings_in_a_numeric_column_mean_missing(spelling):
    prepared = run(small_csv(f'99,1,1,"x, Mr. y",male,{spelling},0,0,t,1,,S\n'))
    assert prepared.profile["missing_before_imputation"]["Age"] == 1


def test_rows_without_a_target_are_dropped_and_counted_as_a_warning():
    extra = "".join(f'{90 + i},{spelling},1,"x, Mr. y",male,3,0,0,t,1,,S\n' for i, spelling in enumerate(["", "NA", "null"]))
    prepared = run(small_csv(extra, n_per_class=10))
    assert prepared.profile["rows_in"] == 23 and prepared.profile["rows"] == 20
    (warning,) = [w for w in prepared.profile["warnings"] if w["kind"] == "rows_dropped_missing_target"]
    assert warning["count"] == 3 and warning["column"] == "Survived"
    assert prepared.n_train + prepared.n_test == 20


def test_too_few_rows_left_after_dropping_missing_targets_is_fatal_and_says_why():
    extra = "".join(f'{90 + i},,1,"x, Mr. y",male,3,0,0,t,1,,S\n' for i in range(8))
    with pytest.raises(InputRejected, match=r"too few rows to split: 6 rows with a target \(8 dropped for a missing target\)"):
        run(small_csv(extra, n_per_class=3))


def test_utf8_with_bom_case_and_spaces_are_accepted():
    body = ("\ufeff" + HEADER + rows().replace('"Name, Mr. 0"', '"Zoë, Mrs. 0"').replace(",male,", ", MALE ,")).encode("utf-8")
    prepared = run(body)
    assert prepared.profile["rows"] == 10
    assert prepared.profile["columns_in"][0] == "PassengerId"


def test_string_classes_need_a_positive_class_unless_it_is_obvious():
    body = small_csv().replace(b"\n1,0,", b"\n1,no,")
    with pytest.raises(InputRejected, match="must be one of 0, 1"):
        run(body)
    lines = small_csv().decode().splitlines()
    named = {"0": "died", "1": "lived"}
    words = "\n".join([lines[0]] + [",".join([line.split(",")[0], named[line.split(",")[1]], *line.split(",")[2:]])
                                     for line in lines[1:]]).encode()
    survived = titanic_spec().columns["Survived"].model_copy(update={"allowed": None})
    columns = {**titanic_spec().columns, "Survived": survived}
    with pytest.raises(InputRejected, match="set positive_class"):
        run(words, positive_class=None, columns=columns)
    prepared = run(words, positive_class="lived", columns=columns)
    assert prepared.transform.classes == ["died", "lived"] and prepared.transform.positive_class == "lived"
    yes_no = words.replace(b",died,", b",no,").replace(b",lived,", b",yes,")
    assert run(yes_no, positive_class=None, columns=columns).transform.positive_class == "yes"


def test_a_positive_class_that_is_not_a_class_is_named():
    with pytest.raises(InputRejected, match="positive_class '2' is not a class of Survived"):
        run(small_csv(), positive_class="2")
