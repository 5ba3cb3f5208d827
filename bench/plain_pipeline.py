"""The five steps in one process with no infrastructure: the baseline `mlpipe run` is compared with.

It runs the same pure cores the functions run (and the same xgboost release as the offline
SageMaker), reading and writing nothing but memory.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "evaluate"))
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT / "layers" / "data")]

import evaluate_core  # noqa: E402
from mlpipe.offline import xgboost_container  # noqa: E402
from pipeline_common.models import load_spec_text  # noqa: E402
from tabular.prepare import prepare  # noqa: E402

HYPERPARAMETERS = {"objective": "binary:logistic", "num_round": "100", "max_depth": "5", "eta": "0.2", "subsample": "0.8"}


def main(path: str) -> None:
    started = time.perf_counter()
    spec = load_spec_text((ROOT / "datasets" / "titanic.yaml").read_text())
    files = prepare(Path(path).read_bytes(), spec, 0.2, 42)
    model = xgboost_container.train(files.train, HYPERPARAMETERS)
    predictions = xgboost_container.transform(xgboost_container.load_model(model), files.test_features)
    metrics, *_ = evaluate_core.evaluate([predictions], [files.test_labels], "binary", files.transform.classes, 0.5)
    print(f"accuracy {metrics['accuracy']:.4f} in {time.perf_counter() - started:.2f}s after imports")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "data" / "titanic.csv"))
