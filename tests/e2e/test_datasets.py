"""Any tabular CSV, hands-off: `mlpipe run FILE --target COL` for each problem type, on tables as people send them."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tabular.infer import infer
from tabular.prepare import prepare
from tests.datasets import cancer_frame, diabetes_frame, iris_frame, with_quirks
from tests.e2e.test_cli import mlpipe

pytestmark = pytest.mark.e2e
HEADLINES = {"binary": {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "threshold", "positive_class"},
             "multiclass": {"accuracy", "macro_f1", "weighted_f1", "log_loss", "classes", "per_class"},
             "regression": {"rmse", "mae", "r2", "residuals"}}


def with_a_level_only_the_test_rows_have(frame: pd.DataFrame, target: str, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Add a categorical column whose level "Z" appears only in rows the split will hold out (the split depends on
    the target alone, so the library itself says which rows those are)."""
    frame = frame.copy()
    frame["site"] = np.array(["north", "south", "east"])[np.arange(len(frame)) % 3]
    draft = infer(frame.to_csv(index=False).encode(), target, name)
    held_out = pd.read_csv(io.BytesIO(prepare(frame.to_csv(index=False).encode(), draft.spec, 0.2, 42).test_labels), dtype=str)
    rows = held_out["row_id"].astype(int).to_numpy()[:3] - 1  # row ids are positions in the file, from 1
    frame.loc[frame.index[rows], "site"] = "Z"
    return frame, [str(r + 1) for r in rows]


CASES = {
    # name: (frame, target, problem type, write the row-number column)
    "iris": (iris_frame(), "species", "multiclass", True),
    "diabetes": (diabetes_frame(), "progression", "regression", False),
    "cancer": (cancer_frame(), "diagnosis", "binary", False),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.mark.parametrize("name", sorted(CASES))
def test_any_csv_runs_hands_off_to_metrics_and_a_report_of_its_type(name, tmp_path, home):
    frame, target, problem, row_numbers = CASES[name]
    quirky, z_rows = with_a_level_only_the_test_rows_have(with_quirks(frame, target), target, name)
    csv = tmp_path / f"{name}.csv"
    quirky.to_csv(csv, index=row_numbers)  # iris: with the unnamed row-number column pandas and R write
    out = tmp_path / "out"
    result = mlpipe("run", str(csv), "--target", target, "--out", str(out), home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"succeeded: {problem} on {target}" in result.stdout

    (metrics_path,) = out.glob("evaluation/*/metrics.json")
    metrics = json.loads(metrics_path.read_text())
    run_id = metrics["run_id"]
    assert metrics["problem_type"] == problem and metrics["target"] == target and metrics["dataset"] == name
    assert HEADLINES[problem] <= metrics.keys()
    assert set(metrics["intervals"]) == {"binary": {"accuracy", "roc_auc", "f1", "log_loss"},
                                         "multiclass": {"accuracy", "macro_f1", "log_loss"},
                                         "regression": {"rmse", "mae", "r2"}}[problem]
    for low_high in metrics["intervals"].values():
        assert low_high[0] < low_high[1]
    good = {"binary": ("roc_auc", 0.95), "multiclass": ("accuracy", 0.85), "regression": ("r2", 0.1)}[problem]
    assert metrics[good[0]] >= good[1], metrics

    # the spec was inferred from the file and saved with the run (and in the bucket, at the dataset's key)
    spec = yaml.safe_load((out / "specs" / f"{name}.yaml").read_text())
    frozen = json.loads((out / "models" / run_id / "spec.json").read_text())
    assert frozen["target"] == spec["target"] == target and frozen["problem_type"] == problem
    if row_numbers:
        assert frozen["columns"][""]["type"] == "ignore"  # the row-number column is not a feature
    if problem == "binary":
        assert frozen["positive_class"] == "malignant"  # the rarer class, as the draft says
        assert metrics["positive_class"] == "malignant"

    profile = json.loads((out / "processed" / run_id / "profile.json").read_text())
    kinds = {w["kind"] for w in profile["warnings"]}
    assert "rows_dropped_missing_target" in kinds  # four rows without a target
    assert profile["rows_in"] == len(frame) and profile["rows"] == len(frame) - 4
    spelled = [c for c in frame.columns if c != target and pd.api.types.is_numeric_dtype(frame[c])][:5]
    for column in spelled:  # NA, nan, null, NaN and an empty field: read as missing, the column stays numeric
        assert frozen["columns"][column]["type"] == "numeric" and profile["missing_before_imputation"][column] >= 2

    transform = json.loads((out / "models" / run_id / "transform.json").read_text())
    (site,) = [c for c in transform["columns"] if c["name"] == "site"]
    assert "Z" not in site["levels"] and site["other"]  # learned from training rows only: Z has the other level
    predictions = pd.read_csv(out / "evaluation" / run_id / "predictions.csv", dtype={"row_id": str})
    assert len(predictions) == metrics["n_test"] and set(z_rows) <= set(predictions["row_id"])  # Z rows were predicted

    page = (out / "evaluation" / run_id / "report.html").read_text()
    chart = {"binary": 'id="roc-curve"', "multiclass": 'id="per-class"', "regression": 'id="predicted-vs-actual"'}[problem]
    assert chart in page and 'id="confusion-matrix"' in page if problem != "regression" else chart in page
    assert 'class="warning"' in page and "rows dropped missing target" in page


def test_spec_infer_drafts_a_spec_a_person_edits_and_runs_with(tmp_path, home):
    csv = tmp_path / "flowers.csv"
    iris_frame().to_csv(csv, index=False)
    draft_path = tmp_path / "flowers.yaml"
    drafted = mlpipe("spec", "infer", str(csv), "--target", "species", "--out", str(draft_path))
    assert drafted.returncode == 0 and "multiclass on species" in drafted.stdout
    text = draft_path.read_text()
    assert text.startswith("# Drafted by `mlpipe spec infer`") and re.search(r"petal length \(cm\): \{type: numeric\}  # ", text)
    edited = yaml.safe_load(text)
    edited["hyperparameters"] = {"num_round": 20, "max_depth": 3}
    edited["derived"] = [{"name": "petal_area", "kind": "sum", "columns": ["petal length (cm)", "petal width (cm)"]}]
    draft_path.write_text(yaml.safe_dump(edited))
    out = tmp_path / "out"
    result = mlpipe("run", str(csv), "--spec", str(draft_path), "--out", str(out), home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = (out / "models").iterdir()
    assert json.loads((run_dir / "transform.json").read_text())["features"][-1] == "petal_area"
    status = json.loads(next((out / "runs").glob("*/status.json")).read_text())
    assert status["stages"]["train"]["hyperparameters"]["num_round"] == "20"
    missing = mlpipe("spec", "infer", str(csv), "--target", "colour")
    assert missing.returncode == 2 and "'colour' is not a column" in missing.stdout


def test_a_bad_spec_is_refused_before_anything_runs(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: d\ntarget: species\ncolumns:\n  petal: {type: numeric, min: tiny}\n")
    csv = tmp_path / "d.csv"
    iris_frame().to_csv(csv, index=False)
    result = mlpipe("run", str(csv), "--spec", str(spec), home=tmp_path)
    assert result.returncode == 2
    assert "columns.petal.min: Input should be a valid number" in result.stdout and "uploaded" not in result.stdout
