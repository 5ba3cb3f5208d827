"""Titanic: the seed's feature set against the shipped spec (datasets/titanic.yaml), over 10 split seeds.

Both go through the same preparation (fitted on training rows only), the same xgboost and the same
hyperparameters; only the features differ. Reports accuracy and ROC AUC as mean and standard
deviation over the seeds, and the paired difference.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT / "layers" / "data"), str(ROOT / "services" / "evaluate")]

import evaluate_core  # noqa: E402
from mlpipe.offline import xgboost_container  # noqa: E402
from pipeline_common.models import load_spec_text  # noqa: E402
from tabular.prepare import prepare  # noqa: E402

# The seed notebook's features: Pclass, Sex, Age, SibSp, Parch, Fare and one-hot Embarked; Name, Ticket and Cabin dropped.
SEED_FEATURES = {"derived": [], "columns_changed": {"Name": {"type": "ignore"}, "Cabin": {"type": "ignore"}}}


def specs():
    shipped = load_spec_text((ROOT / "datasets" / "titanic.yaml").read_text())
    columns = {**shipped.columns, **{k: shipped.columns[k].model_validate(v) for k, v in SEED_FEATURES["columns_changed"].items()}}
    seed = shipped.model_copy(update={"derived": [], "columns": columns})
    return {"seed features": seed, "shipped spec": shipped}


def score(body: bytes, spec, split_seed: int) -> tuple[float, float]:
    prepared = prepare(body, spec, 0.2, split_seed)
    hyper = {"objective": "binary:logistic", **{k: str(v) for k, v in spec.hyperparameters.items()}}
    booster = xgboost_container.load_model(xgboost_container.train(prepared.train, hyper))
    out = xgboost_container.transform(booster, prepared.test_features)
    metrics = evaluate_core.evaluate([(io.BytesIO(out), io.BytesIO(prepared.test_labels))], "binary",
                                     prepared.transform.classes, 0.5).metrics
    return metrics["accuracy"], metrics["roc_auc"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--data", default=str(ROOT / "data" / "titanic.csv"))
    args = parser.parse_args()
    body = Path(args.data).read_bytes()
    results = {name: [score(body, spec, seed) for seed in range(args.seeds)] for name, spec in specs().items()}
    print(f"Titanic, {args.seeds} split seeds (80/20 stratified), xgboost {xgboost_container.installed_release()}")
    print(f"{'features':<15} {'accuracy mean ± sd':>20} {'ROC AUC mean ± sd':>20}")
    for name, values in results.items():
        acc, auc = [v[0] for v in values], [v[1] for v in values]
        print(f"{name:<15} {statistics.mean(acc):>11.4f} ± {statistics.stdev(acc):.4f} {statistics.mean(auc):>11.4f} ± {statistics.stdev(auc):.4f}")
    seed, shipped = results["seed features"], results["shipped spec"]
    for i, metric in enumerate(("accuracy", "ROC AUC")):
        diffs = [b[i] - a[i] for a, b in zip(seed, shipped)]
        wins = sum(d > 0 for d in diffs)
        print(f"paired {metric} difference (shipped - seed): mean {statistics.mean(diffs):+.4f}, sd {statistics.stdev(diffs):.4f}, "
              f"better on {wins} of {len(diffs)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
