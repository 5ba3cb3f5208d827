"""The data profile and its warnings: what a careful analyst would say before trusting the model."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from pipeline_common.models import parse_spec
from tabular import profile as profile_lib
from tabular.prepare import prepare
from tests.datasets import titanic_spec


def warnings_of(frame: pd.DataFrame, columns: dict, target: str = "y", seed: int = 42, **spec) -> dict:
    document = {"name": "d", "target": target, "columns": columns, **spec}
    prepared = prepare(frame.to_csv(index=False).encode(), parse_spec(document), 0.2, seed)
    return {(w["kind"], w.get("column")): w for w in prepared.profile["warnings"]}


def base(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x.round(6), "z": rng.normal(size=n).round(6),
                         "y": (x + rng.normal(scale=1.5, size=n) > 0).astype(int)})


NUMERIC = {"x": {"type": "numeric"}, "z": {"type": "numeric"}}


def test_a_clean_table_raises_no_warning():
    assert warnings_of(base(), NUMERIC) == {}


def test_titanic_raises_no_warning_and_its_profile_matches_pandas(titanic_bytes):
    prepared = prepare(titanic_bytes, titanic_spec(), 0.2, 42)
    profile = prepared.profile
    assert profile["warnings"] == []
    frame = pd.read_csv(pd.io.common.BytesIO(titanic_bytes))
    assert profile["describe"]["Fare"]["mean"] == pytest.approx(frame["Fare"].mean())
    assert profile["skewness"]["Fare"] == pytest.approx(frame["Fare"].skew())
    assert profile["kurtosis"]["Age"] == pytest.approx(frame["Age"].kurt())
    assert profile["missing_before_imputation"]["Age"] == 177 and profile["missing_before_imputation"]["Embarked"] == 2
    assert profile["label_counts"] == {"0": 549, "1": 342}
    assert "Ticket" not in profile["columns_used"] and "Title" in profile["columns_used"]
    text = json.dumps(profile, allow_nan=False)
    assert "NaN" not in text and not any(isinstance(v, float) and math.isnan(v) for v in profile["skewness"].values())


def test_duplicates_and_duplicates_on_both_sides_of_the_split():
    frame = base(200)
    frame = pd.concat([frame, frame.iloc[:60]], ignore_index=True)
    found = warnings_of(frame, NUMERIC)
    assert found[("duplicate_rows", None)]["count"] == 60
    assert found[("duplicates_across_split", None)]["count"] > 0


def test_constant_and_mostly_missing_columns():
    frame = base().assign(c=7.0)
    frame.loc[frame.index[:300], "z"] = None
    found = warnings_of(frame, {**NUMERIC, "c": {"type": "numeric"}})
    assert ("constant_column", "c") in found
    assert "75%" in found[("high_missing", "z")]["message"]


def test_strong_class_imbalance():
    frame = base(500)
    frame["y"] = 0
    frame.loc[frame.index[:20], "y"] = 1
    assert "4.0% of the rows" in warnings_of(frame, NUMERIC)[("class_imbalance", None)]["message"]


def test_a_column_that_alone_predicts_the_target_is_a_leakage_suspect():
    frame = base()
    frame["outcome_code"] = np.where(frame["y"] == 1, "A", "B")
    found = warnings_of(frame, {**NUMERIC, "outcome_code": {"type": "categorical"}})
    assert ("target_leakage_suspect", "outcome_code") in found
    assert ("target_leakage_suspect", "x") not in found  # merely predictive is not suspicious


def test_leakage_through_missingness_and_in_regression():
    frame = base()
    frame["refund"] = np.where(frame["y"] == 1, 10.0, None)  # filled in only after the outcome
    found = warnings_of(frame, {**NUMERIC, "refund": {"type": "numeric"}})
    assert "whether it is missing" in found[("target_leakage_suspect", "refund")]["message"]
    regression = base().assign(y=lambda f: f["x"] * 3 + 1, copy=lambda f: f["x"] * 2)
    found = warnings_of(regression, {**NUMERIC, "copy": {"type": "numeric"}}, problem_type="regression")
    assert ("target_leakage_suspect", "copy") in found and "R²" in found[("target_leakage_suspect", "copy")]["message"]


def test_correlations_from_block_sums_are_those_of_dataframe_corr():
    rng = np.random.default_rng(0)
    n = 50_000
    far = rng.normal(1e6, 1, n)  # a large mean and a small spread: naive sums would cancel
    frame = pd.DataFrame({"far": far, "follows": 3 * far + rng.normal(0, 1, n), "levels": rng.integers(0, 3, n).astype(float),
                          "constant": np.full(n, 5.0), "one value": np.r_[1.0, np.full(n - 1, np.nan)]})
    frame.loc[rng.random(n) < 0.2, "far"] = np.nan
    frame.loc[rng.random(n) < 0.5, "levels"] = np.nan  # pairs over the rows where both have a value
    ours = pd.DataFrame(profile_lib.correlations({name: frame[name] for name in frame}, block=997))
    pandas = frame.corr()
    assert (ours.isna() == pandas.isna()).all().all() and ours.loc["constant"].isna().all()
    np.testing.assert_allclose(ours.to_numpy(), pandas.to_numpy(), rtol=0, atol=1e-9)
    assert ours.loc["far", "follows"] > 0.9
