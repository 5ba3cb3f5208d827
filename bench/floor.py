"""The floor: the pipeline's five steps done the plainest way, in one process, with pandas and xgboost only.

Read and validate the CSV, derive and encode the features (fitted on the training rows), split
80/20 stratified, train the built-in XGBoost's model (same hyperparameters), predict the held-out
rows and score them. Nothing of mlpipe, no scikit-learn, no AWS: the least any tool can do for
the same result. Run it in the floor environment (`make bench` installs pandas, numpy and
xgboost-cpu alone) so xgboost does not import scikit-learn at start.

``python floor.py FILE`` prints the accuracy; ``python floor.py FILE --io`` only reads the file
and writes it back (the yardstick of the preprocess function).
"""

from __future__ import annotations

import io
import sys
import time

import numpy as np
import pandas as pd
import xgboost

PARAMS = {"objective": "binary:logistic", "max_depth": 5, "eta": 0.2, "subsample": 0.8, "tree_method": "hist"}
ROUNDS = 100


def features(frame: pd.DataFrame, train: np.ndarray) -> np.ndarray:
    title = frame["Name"].str.extract(r",\s*([^.]+)\.", expand=False).str.strip()
    table = pd.DataFrame({
        "Pclass": frame["Pclass"].astype(float), "Age": frame["Age"], "SibSp": frame["SibSp"], "Parch": frame["Parch"],
        "Fare": frame["Fare"], "FamilySize": frame["SibSp"] + frame["Parch"] + 1, "CabinKnown": frame["Cabin"].notna().astype(float),
    })
    table = table.fillna(table.iloc[train].median())
    for name, values in (("Sex", frame["Sex"]), ("Embarked", frame["Embarked"]), ("Title", title)):
        levels = values.iloc[train].value_counts().index[:20]
        for level in levels:
            table[f"{name}={level}"] = (values == level).astype(float)
    return table.to_numpy(dtype=float)


def split(labels: np.ndarray, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        n_test = round(len(members) * 0.2)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.concatenate(train), np.concatenate(test)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    ranks = pd.Series(scores).rank().to_numpy()
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pipeline(path: str) -> str:
    frame = pd.read_csv(path)
    frame = frame[frame["Survived"].notna()]
    labels = frame["Survived"].to_numpy(dtype=int)
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("Survived must be 0 or 1")
    train, test = split(labels)
    matrix = features(frame, train)
    booster = xgboost.train(PARAMS, xgboost.DMatrix(matrix[train], label=labels[train]), num_boost_round=ROUNDS)
    scores = booster.predict(xgboost.DMatrix(matrix[test]))
    accuracy = float(np.mean((scores >= 0.5) == labels[test]))
    return f"accuracy {accuracy:.4f} roc_auc {auc(labels[test], scores):.4f}"


def read_and_write(path: str) -> str:
    frame = pd.read_csv(path)
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return f"{len(frame)} rows, {out.tell()} characters"


if __name__ == "__main__":
    started = time.perf_counter()
    result = read_and_write(sys.argv[1]) if "--io" in sys.argv else pipeline(sys.argv[1])
    print(f"{result}; work {time.perf_counter() - started:.3f} s")
