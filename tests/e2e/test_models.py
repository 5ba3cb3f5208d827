"""Models people can use, through the CLI, in separate `mlpipe` processes that share one MLPIPE_HOME:
registry, quality gate, scoring new files, manual approval and the real-time endpoint."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATA
from tests.e2e.test_cli import mlpipe

pytestmark = pytest.mark.e2e
FRAME = pd.read_csv(DATA)


@pytest.fixture(scope="module")
def account(tmp_path_factory) -> dict:
    """One offline account: a good Titanic run (approved) and a run of the same dataset with shuffled labels."""
    home = tmp_path_factory.mktemp("home")
    files = tmp_path_factory.mktemp("files")
    shuffled = files / "shuffled.csv"
    FRAME.assign(Survived=np.random.default_rng(7).permutation(FRAME["Survived"].to_numpy())).to_csv(shuffled, index=False)
    good = mlpipe("run", str(DATA), home=home)
    bad = mlpipe("run", str(shuffled), home=home)
    return {"home": home, "files": files, "good": good, "bad": bad}


def models(account) -> list[dict]:
    listed = mlpipe("models", "--json", home=account["home"])
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return json.loads(listed.stdout)


def test_a_good_run_is_approved_and_a_shuffled_one_rejected_with_reasons_and_both_scores(account):
    assert account["good"].returncode == 0, account["good"].stdout + account["good"].stderr
    assert "model version 1 of mlpipe-titanic: Approved - roc_auc" in account["good"].stdout
    assert "first version of this dataset: judged by its rules alone" in account["good"].stdout
    out = account["bad"].stdout
    assert account["bad"].returncode == 0, out  # the run succeeded; its model was rejected
    assert "model version 2 of mlpipe-titanic: Rejected - roc_auc" in out and ", champion v1 " in out
    assert "rule roc_auc >= 0.8:" in out and "fails" in out
    assert "champion v1 roc_auc" in out and "more than the tolerance 0.01" in out
    (bad_metrics,) = [json.loads(p.read_text()) for p in (account["home"] / "bucket" / "evaluation").glob("shuffled-*/metrics.json")]
    gate = bad_metrics["gate"]
    assert gate["status"] == "Rejected" and gate["champion_version"] == 1 and gate["champion"] > gate["challenger"]


def test_models_lists_versions_with_status_gate_metric_and_run(account):
    listed = models(account)
    assert [(m["version"], m["status"], m["serving"]) for m in listed] == [(2, "Rejected", False), (1, "Approved", True)]
    for m in listed:
        assert {"version", "status", "run_id", "metrics", "created_at"} <= m.keys() and m["metrics"]["roc_auc"] is not None
    assert listed[1]["run_id"].startswith("titanic-") and listed[0]["run_id"].startswith("shuffled-")
    table = mlpipe("models", home=account["home"]).stdout
    assert "Approved (serving)" in table and "Rejected" in table


def test_a_file_without_the_target_is_scored_by_the_approved_version_not_the_newer_rejected_one(account, tmp_path):
    passengers = tmp_path / "passengers.csv"
    FRAME.drop(columns="Survived").head(60).to_csv(passengers, index=False)
    out = tmp_path / "out"
    result = mlpipe("score", str(passengers), "--out", str(out), home=account["home"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "60 rows predicted by version 1 of dataset titanic" in result.stdout
    (predictions,) = out.glob("predictions/titanic/*/passengers.csv")
    table = pd.read_csv(predictions, dtype=str, keep_default_na=False)
    original = pd.read_csv(passengers, dtype=str, keep_default_na=False)
    assert list(table.columns) == [*original.columns, "prediction", "probability"] and len(table) == 60
    assert table[original.columns].equals(original)
    manifest = json.loads((predictions.parent / "manifest.json").read_text())
    assert manifest["model_version"]["version"] == 1 and manifest["model_version"]["run_id"].startswith("titanic-")
    # the survival rate predicted for women is far above that for men: a real model, not a constant
    women = table.loc[table["Sex"] == "female", "probability"].astype(float).mean()
    men = table.loc[table["Sex"] == "male", "probability"].astype(float).mean()
    assert women > men + 0.3
    account["batch"] = table


def test_a_file_lacking_a_required_column_is_refused(account, tmp_path):
    broken = tmp_path / "no-sex.csv"
    FRAME.drop(columns=["Survived", "Sex"]).head(10).to_csv(broken, index=False)
    result = mlpipe("score", str(broken), home=account["home"])
    assert result.returncode == 1
    assert "FAILED at score: required column(s) missing: Sex" in result.stdout
    (error,) = (account["home"] / "bucket" / "errors").glob("no-sex-*/error.json")
    assert json.loads(error.read_text())["details"]["missing_columns"] == ["Sex"]


def test_duplicate_events_on_a_scoring_upload_give_one_predictions_file(account, tmp_path):
    passengers = tmp_path / "twice.csv"
    FRAME.drop(columns="Survived").tail(30).to_csv(passengers, index=False)
    result = mlpipe("score", str(passengers), "--duplicate-events", home=account["home"])
    assert result.returncode == 0, result.stdout + result.stderr
    written = list((account["home"] / "bucket" / "predictions" / "titanic").glob("twice-*/twice.csv"))
    assert len(written) == 1 and len(pd.read_csv(written[0])) == 30


def test_manual_mode_waits_for_a_person(account, tmp_path):
    result = mlpipe("run", str(DATA), "--param", "ApprovalMode=manual", home=account["home"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model version 3 of mlpipe-titanic: PendingManualApproval (the gate recommends Approved)" in result.stdout
    assert [m["status"] for m in models(account)][:2] == ["PendingManualApproval", "Rejected"]
    approved = mlpipe("approve", "3", "--note", "checked the report", "--param", "ApprovalMode=auto", home=account["home"])
    assert approved.returncode == 0 and "PendingManualApproval -> Approved" in approved.stdout and "serving now: version 3" in approved.stdout
    listed = models(account)
    assert (listed[0]["version"], listed[0]["status"], listed[0]["serving"]) == (3, "Approved", True)
    assert listed[0]["approval_description"] == "checked the report"
    status = json.loads((account["home"] / "bucket" / "runs" / listed[0]["run_id"] / "status.json").read_text())
    assert status["gate"]["status"] == "Approved"  # the approval function recorded the person's decision
    rejected = mlpipe("reject", "3", home=account["home"])
    assert "serving now: version 1" in rejected.stdout  # rolled back to the newest approved one


def test_the_endpoint_answers_with_the_same_predictions_as_the_batch_file(account):
    rows = FRAME.drop(columns="Survived").head(5)
    records = json.loads(rows.to_json(orient="records"))
    no_endpoint = mlpipe("predict", json.dumps(records), home=account["home"])
    assert no_endpoint.returncode == 2 and "EnableEndpoint=true" in no_endpoint.stdout
    enabled = mlpipe("approve", "1", "--param", "EnableEndpoint=true", home=account["home"])
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    answer = mlpipe("predict", json.dumps(records), home=account["home"])
    assert answer.returncode == 0, answer.stdout + answer.stderr
    document = json.loads(answer.stdout[answer.stdout.index("{"):])
    assert document["model_version"] == 1
    batch = account["batch"].head(5)
    for row, (_, expected) in zip(document["predictions"], batch.iterrows()):
        assert list(row) == list(batch.columns)  # the same columns as the batch file
        assert str(row["prediction"]) == expected["prediction"]
        assert abs(float(row["probability"]) - float(expected["probability"])) < 1e-6


def test_reset_forgets_the_account_after_asking(tmp_path):
    home = tmp_path / "home"
    (home / "bucket").mkdir(parents=True)
    assert mlpipe("reset", home=home).returncode == 1 and home.exists()  # no answer on stdin: nothing deleted
    assert mlpipe("reset", "--yes", home=home).returncode == 0 and not home.exists()


def test_the_batch_file_order_follows_the_upload(account):
    batch = account.get("batch")
    assert batch is not None and list(batch["PassengerId"]) == [str(i) for i in range(1, 61)]
