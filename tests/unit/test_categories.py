"""Text as categoricals: each distinct value is worked on once, and the rows follow by code."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabular.categories import by_code, categorical, category_counts, map_categories


def test_text_becomes_a_categorical_in_order_of_first_appearance_with_missing_values_left_out():
    values = pd.Series(["b", None, "a", "b", np.nan, "c"], index=[10, 11, 12, 13, 14, 15], name="colour")
    coded = categorical(values)
    assert coded.cat.categories.tolist() == ["b", "a", "c"]
    assert coded.cat.codes.tolist() == [0, -1, 1, 0, -1, 2]
    assert coded.index.tolist() == values.index.tolist() and coded.name == "colour"
    assert categorical(coded) is coded


def test_categories_that_map_to_the_same_value_merge_and_none_becomes_missing():
    values = categorical(pd.Series([" Red", "red ", "RED", "blue", " NA ", None, "blue"]))
    calls = []

    def clean(text: str):
        calls.append(text)
        text = text.strip().lower()
        return None if text == "na" else text

    cleaned = map_categories(values, clean)
    assert sorted(calls) == sorted([" Red", "red ", "RED", "blue", " NA "])  # once per category, not per row
    assert cleaned.isna().tolist() == [False, False, False, False, True, True, False]
    assert cleaned.cat.categories.tolist() == ["red", "blue"]
    assert cleaned.cat.codes.tolist() == [0, 0, 0, 1, -1, -1, 1]


def test_a_function_that_changes_nothing_keeps_the_categorical_itself():
    values = categorical(pd.Series(["x", "y", "x"]))
    assert map_categories(values, str) is values
    assert map_categories(values, str.strip) is values
    assert map_categories(values, str.upper).tolist() == ["X", "Y", "X"]


def test_numbers_map_to_text_and_back_to_numbers():
    flags = map_categories(pd.Series(["yes", "no", None, "maybe"]), {"yes": 1, "no": 0}.get)
    assert flags.astype(float).tolist()[:2] == [1.0, 0.0] and flags.isna().tolist() == [False, False, True, True]
    assert map_categories(pd.Series([1.0, np.nan, 2.5]), str).tolist()[::2] == ["1.0", "2.5"]


def test_counts_include_categories_no_row_holds_and_leave_out_missing_values():
    values = categorical(pd.Series(["a", "b", "a", None, "c"]))
    assert category_counts(values).to_dict() == {"a": 2, "b": 1, "c": 1}
    assert category_counts(values.iloc[[0, 2, 3]]).to_dict() == {"a": 2, "b": 0, "c": 0}


def test_by_code_gives_each_row_its_categorys_entry_and_the_missing_one_for_minus_one():
    assert by_code(np.array([10.0, 20.0]), np.array([1, -1, 0]), np.nan).tolist()[::2] == [20.0, 10.0]
    assert np.isnan(by_code(np.array([10.0, 20.0]), np.array([1, -1, 0]), np.nan)[1])
    assert by_code(np.array([], dtype=np.int64), np.array([-1, -1]), 7).tolist() == [7, 7]
