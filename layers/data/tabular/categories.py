"""Text columns as pandas categoricals: each distinct value is worked on once, and rows carry only its code.

Without pyarrow, pandas 3 keeps text in Python objects and runs every string operation (strip, lower, a
regular expression, even isna) as a Python loop over the rows. A column of a million rows holds a few
hundred distinct values, so working on those and gathering the result by code is a thousand times less work.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import pandas as pd


def categorical(values: pd.Series) -> pd.Series:
    """The values as a categorical (categories in order of first appearance; missing values have no category)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    return _from_codes(codes, uniques, values)


def by_code(per_category: np.ndarray, codes: np.ndarray, missing) -> np.ndarray:
    """Each row's entry of ``per_category``, ``missing`` where its code is -1 (no value)."""
    return np.append(per_category, missing)[codes]


def map_categories(values: pd.Series, func: Callable) -> pd.Series:
    """``func`` applied to each category once: categories it maps to equal values merge, and None means missing."""
    values = categorical(values)
    categories = values.cat.categories.tolist()
    mapped = list(map(func, categories))
    if all(map(operator.is_, mapped, categories)):
        return values  # nothing changed (str.strip and str return the very object then): the codes stand
    new_codes, uniques = pd.factorize(np.array(mapped, dtype=object))  # None is missing: code -1
    return _from_codes(by_code(new_codes, values.cat.codes.to_numpy(), -1), uniques, values)


def _from_codes(codes: np.ndarray, uniques: np.ndarray, like: pd.Series) -> pd.Series:
    # pandas 3 keeps all-string categories as its str dtype, which checks them for duplicates twice as fast
    categories = pd.Index(uniques)
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=like.index, name=like.name)


def category_counts(values: pd.Series) -> pd.Series:
    """How many rows hold each category (zero for a category no row holds), indexed by category."""
    codes = values.cat.codes.to_numpy()
    categories = values.cat.categories
    return pd.Series(np.bincount(codes[codes >= 0], minlength=len(categories)), index=categories)
