"""`mlpipe run` as a user runs it: a subprocess, its output, its exit code and the mirrored bucket."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA

pytestmark = pytest.mark.e2e
MLPIPE = Path(sys.executable).parent / "mlpipe"


def mlpipe(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(MLPIPE), *args], capture_output=True, text=True, timeout=timeout)


def test_run_shows_every_stage_prints_metrics_and_mirrors_the_bucket(tmp_path):
    result = mlpipe("run", str(DATA), "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for stage in ("preprocess", "split", "train", "infer", "evaluate"):
        assert f"] {stage}" in out
    assert out.index("] preprocess") < out.index("] split") < out.index("] train") < out.index("] infer") < out.index("] evaluate")
    (metrics_path,) = tmp_path.glob("evaluation/*/metrics.json")
    metrics = json.loads(metrics_path.read_text())
    assert {"run_id", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "threshold", "n_test"} <= metrics.keys()
    assert set(metrics["confusion_matrix"]) == {"tp", "fp", "tn", "fn"}
    assert metrics["accuracy"] >= 0.78
    assert f"accuracy   {metrics['accuracy']:.4f}" in out
    run_id = metrics["run_id"]
    assert (tmp_path / "raw" / "titanic.csv").read_bytes() == DATA.read_bytes()
    for prefix in ("processed", "splitData", "models", "inference-output", "evaluation"):
        assert any((tmp_path / prefix / run_id).rglob("*")), prefix


def test_run_exits_non_zero_when_the_run_does_not_reach_evaluation(tmp_path):
    bad = tmp_path / "header_only.csv"
    bad.write_text(DATA.read_text().splitlines()[0] + "\n")
    result = mlpipe("run", str(bad), "--timeout", "60")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout and "no data rows" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_run_on_a_missing_file_says_so():
    result = mlpipe("run", "/nonexistent.csv")
    assert result.returncode == 2 and "is not a file" in result.stdout
