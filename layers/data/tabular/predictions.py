"""Reading the built-in XGBoost container's answers, and turning them into the columns users read."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def parse_predictions(body: bytes, problem_type: str, n_classes: int = 0) -> np.ndarray:
    """One prediction per line: a number (binary, regression) or, for multi:softprob, the class probabilities, written
    as a list by batch transform (``[0.1, 0.2, 0.7]``) and as comma-separated values by a real-time endpoint."""
    text = body.decode().replace("[", "").replace("]", "")
    if problem_type == "multiclass":
        try:
            values = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=float)
        except ValueError as err:
            raise ValueError(f"multiclass prediction output is not one list of probabilities per line: {err}") from None
        if values.shape[1] != n_classes:
            raise ValueError(f"predictions hold {values.shape[1]} probabilities per row for {n_classes} classes; "
                             f"is the objective multi:softprob?")
        return values
    try:
        values = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=float)[:, 0]
    except ValueError as err:
        raise ValueError(f"prediction output is not one number per line: {err}") from None
    if problem_type == "binary" and ((values < 0) | (values > 1)).any():
        raise ValueError("predictions are not probabilities in [0, 1]; is the objective binary:logistic?")
    return values


def prediction_columns(problem_type: str, classes: list[str], predictions: np.ndarray, threshold: float) -> pd.DataFrame:
    """``prediction`` (the class as written in the training data, or the number) and the probabilities:
    ``probability`` of the positive class (binary) or one ``probability_<class>`` per class (multiclass)."""
    if problem_type == "regression":
        return pd.DataFrame({"prediction": predictions})
    if problem_type == "binary":
        return pd.DataFrame({"prediction": np.where(predictions >= threshold, classes[1], classes[0]), "probability": predictions})
    columns = {"prediction": np.asarray(classes, dtype=object)[predictions.argmax(axis=1)]}
    columns.update({f"probability_{c}": predictions[:, i] for i, c in enumerate(classes)})
    return pd.DataFrame(columns)
