"""Titanic-shaped CSV files of any size for the benchmarks: the bundled rows resampled, with jitter on ages and
fares and fresh passenger ids, so every file keeps the columns, the missing values and the signal of the original."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def titanic_like(rows: int, seed: int = 0) -> pd.DataFrame:
    source = pd.read_csv(ROOT / "data" / "titanic.csv")
    rng = np.random.default_rng(seed)
    frame = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    frame["PassengerId"] = np.arange(1, rows + 1)
    age = frame["Age"].to_numpy()
    frame["Age"] = np.where(np.isnan(age), np.nan, np.clip(age + rng.normal(0, 1.5, rows), 0.4, 80).round(1))
    frame["Fare"] = (frame["Fare"] * rng.uniform(0.9, 1.1, rows)).round(4)
    return frame


def write(rows: int, path: Path, seed: int = 0) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        titanic_like(rows, seed).to_csv(path, index=False)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rows", type=int)
    parser.add_argument("out")
    args = parser.parse_args()
    print(write(args.rows, Path(args.out)))
    sys.exit(0)
