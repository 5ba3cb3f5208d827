"""Datasets the tests run on: the shipped Titanic spec, small Titanic-shaped files, and tables of each problem type
built from the data sets scikit-learn bundles (no download)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline_common.models import DatasetSpec, load_spec_text
from tests.conftest import ROOT

TITANIC_SPEC = ROOT / "datasets" / "titanic.yaml"
HEADER = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"


def titanic_spec(**changes) -> DatasetSpec:
    spec = load_spec_text(TITANIC_SPEC.read_text(), str(TITANIC_SPEC))
    return spec.model_copy(update=changes) if changes else spec


def rows(n_per_class: int = 5) -> str:
    lines = []
    for i in range(n_per_class * 2):
        label = i % 2
        lines.append(f'{i + 1},{label},{1 + i % 3},"Name, Mr. {i}",{"female" if label else "male"},{20 + i},0,0,T{i},{10.0 + i},,S')
    return "\n".join(lines) + "\n"


def small_csv(extra: str = "", n_per_class: int = 5) -> bytes:
    return (HEADER + rows(n_per_class) + extra).encode()


def iris_frame() -> pd.DataFrame:
    """Multiclass with string labels, written with the unnamed row-number column pandas and R add."""
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["species"] = data.target.map(dict(enumerate(data.target_names)))
    return frame


def diabetes_frame() -> pd.DataFrame:
    """Regression: disease progression after one year."""
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})


def cancer_frame() -> pd.DataFrame:
    """Binary with string labels (malignant / benign), so the positive class must be named."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["diagnosis"] = data.target.map(dict(enumerate(data.target_names)))
    return frame


def with_quirks(frame: pd.DataFrame, target: str, seed: int = 0) -> pd.DataFrame:
    """The same table as people send it: NA spellings in numeric columns, rows without a target, and a
    category that only a few rows carry."""
    rng = np.random.default_rng(seed)
    quirky = frame.astype(object).copy()
    numeric = [c for c in frame.columns if c != target and pd.api.types.is_numeric_dtype(frame[c])]
    for spelling, column in zip(["NA", "nan", "null", "NaN", ""], numeric):
        quirky.loc[rng.choice(len(frame), 3, replace=False), column] = spelling
    quirky.loc[rng.choice(len(frame), 4, replace=False), target] = ""
    return quirky
