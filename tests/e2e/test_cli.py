"""`mlpipe run` as a user runs it: a subprocess, its output, its exit code and the mirrored bucket."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA

pytestmark = pytest.mark.e2e
MLPIPE = Path(sys.executable).parent / "mlpipe"


def mlpipe(*args: str, home: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLPIPE_HOME": str(home)} if home else None
    return subprocess.run([str(MLPIPE), *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_run_shows_every_stage_prints_metrics_and_mirrors_the_bucket(tmp_path):
    result = mlpipe("run", str(DATA), "--out", str(tmp_path), home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for stage in ("preprocess", "train", "infer", "evaluate"):
        assert f"] {stage}" in out
    assert out.index("] preprocess") < out.index("] train") < out.index("] infer") < out.index("] evaluate")
    assert "713 train / 178 test" in out
    (metrics_path,) = tmp_path.glob("evaluation/*/metrics.json")
    metrics = json.loads(metrics_path.read_text())
    assert {"run_id", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "threshold", "n_test"} <= metrics.keys()
    assert set(metrics["confusion_matrix"]) == {"tp", "fp", "tn", "fn"}
    assert metrics["accuracy"] >= 0.78
    assert f"accuracy    {metrics['accuracy']:.4f}   (95% {metrics['intervals']['accuracy'][0]:.4f}" in out
    run_id = metrics["run_id"]
    assert (tmp_path / "raw" / "titanic.csv").read_bytes() == DATA.read_bytes()
    for prefix in ("processed", "splitData", "models", "inference-output", "evaluation"):
        assert any((tmp_path / prefix / run_id).rglob("*")), prefix


def test_bad_input_exits_non_zero_with_a_one_line_reason_and_an_error_record(tmp_path):
    bad = tmp_path / "no_label.csv"
    bad.write_text("\n".join(",".join(line.split(",")[:1] + line.split(",")[2:]) for line in DATA.read_text().splitlines()[:30]))
    out = tmp_path / "out"
    result = mlpipe("run", str(bad), "--out", str(out), home=tmp_path / "home")
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "FAILED at" in line]
    assert line.endswith("FAILED at preprocess: required column(s) missing: Survived")
    assert "Traceback" not in result.stdout + result.stderr
    (error_path,) = out.glob("errors/*/error.json")
    assert json.loads(error_path.read_text())["reason"] == "required column(s) missing: Survived"
    assert (out / "raw" / "no_label.csv").read_bytes() == bad.read_bytes()


def test_failed_training_exits_non_zero_with_stage_and_reason(tmp_path):
    result = mlpipe("run", str(DATA), "--fail", "train", home=tmp_path)
    assert result.returncode == 1
    assert "FAILED at train: training job mlpipe-titanic-" in result.stdout
    assert "injected failure" in result.stdout


def test_duplicate_events_give_one_model_one_output_one_evaluation_and_the_same_accuracy(tmp_path):
    normal = mlpipe("run", str(DATA), "--out", str(tmp_path / "normal"), home=tmp_path / "home")
    doubled = mlpipe("run", str(DATA), "--duplicate-events", "--out", str(tmp_path / "dup"), home=tmp_path / "home")
    assert normal.returncode == 0 and doubled.returncode == 0, doubled.stdout + doubled.stderr
    dup = tmp_path / "dup"
    assert len(list(dup.glob("models/*/*/output/model.tar.gz"))) == 1
    assert len(list(dup.glob("inference-output/*/*.out"))) == 1
    (metrics_path,) = dup.glob("evaluation/*/metrics.json")
    (normal_path,) = (tmp_path / "normal").glob("evaluation/*/metrics.json")
    assert json.loads(metrics_path.read_text())["accuracy"] == json.loads(normal_path.read_text())["accuracy"]


def test_runs_and_show_read_the_recorded_history(tmp_path):
    header_only = tmp_path / "header_only.csv"
    header_only.write_text(DATA.read_text().splitlines()[0] + "\n")
    assert mlpipe("run", str(DATA), home=tmp_path).returncode == 0
    assert mlpipe("run", str(header_only), home=tmp_path).returncode == 1
    listing = mlpipe("runs", home=tmp_path)
    assert listing.returncode == 0
    rows = listing.stdout.splitlines()[1:]
    assert len(rows) == 2
    good = next(r for r in rows if r.startswith("titanic-"))
    bad = next(r for r in rows if r.startswith("header-only-"))
    metrics = json.loads(next((tmp_path / "bucket" / "evaluation").glob("*/metrics.json")).read_text())
    assert "succeeded" in good and f" accuracy {metrics['accuracy']:.4f} " in good and " titanic " in good
    assert "failed" in bad and "preprocess: file has a header but no data rows" in bad
    shown = mlpipe("show", bad.split()[0], home=tmp_path)
    assert shown.returncode == 0
    assert "failed at preprocess: file has a header but no data rows" in shown.stdout
    assert "error record:" in shown.stdout
    shown = mlpipe("show", good.split()[0], home=tmp_path)
    for stage in ("preprocess", "train", "infer", "evaluate"):
        assert f"  {stage:<10} succeeded" in shown.stdout
    assert f"accuracy    {metrics['accuracy']:.4f}" in shown.stdout
    assert mlpipe("show", "no-such-run-0123456789", home=tmp_path).returncode == 2


def test_run_on_a_missing_file_says_so():
    result = mlpipe("run", "/nonexistent.csv")
    assert result.returncode == 2 and "is not a file" in result.stdout
