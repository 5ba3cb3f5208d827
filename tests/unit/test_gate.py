"""The quality gate's decision: rules from the spec, the champion on the same rows, ties, manual mode."""

from __future__ import annotations

import pytest

import gate_core
from pipeline_common.models import Gate, GateRule

RULES = Gate(metric="roc_auc", tolerance=0.01, rules=[GateRule(metric="roc_auc", min=0.8), GateRule(metric="log_loss", max=0.6)])


def decide(challenger, champion=None, version=None, note=None, mode="auto", gate=RULES, problem="binary"):
    return gate_core.decide(gate, problem, challenger, champion, version, note, mode)


def test_the_first_version_is_approved_when_it_passes_the_rules():
    verdict = decide({"roc_auc": 0.89, "log_loss": 0.44})
    assert verdict.status == verdict.recommendation == "Approved"
    assert verdict.reasons == ["rule roc_auc >= 0.8: 0.8900 passes", "rule log_loss <= 0.6: 0.4400 passes",
                               "first version of this dataset: judged by its rules alone"]


def test_a_rule_that_fails_rejects_and_says_which():
    verdict = decide({"roc_auc": 0.52, "log_loss": 0.69})
    assert verdict.status == "Rejected"
    assert "rule roc_auc >= 0.8: 0.5200 fails" in verdict.reasons and "rule log_loss <= 0.6: 0.6900 fails" in verdict.reasons


def test_worse_than_the_champion_beyond_the_tolerance_is_rejected_with_both_scores():
    verdict = decide({"roc_auc": 0.85, "log_loss": 0.5}, {"roc_auc": 0.89}, 3)
    assert verdict.status == "Rejected" and (verdict.challenger, verdict.champion, verdict.champion_version) == (0.85, 0.89, 3)
    assert verdict.reasons[-1] == ("champion v3 roc_auc 0.8900, new version 0.8500 on the same test rows: "
                                   "worse by 0.0400, more than the tolerance 0.01")


@pytest.mark.parametrize(("challenger", "relation"), [(0.89, "as good"), (0.885, "worse by 0.0050, within the tolerance 0.01"),
                                                      (0.9, "better")])
def test_ties_and_small_losses_within_the_tolerance_are_approved(challenger, relation):
    verdict = decide({"roc_auc": challenger, "log_loss": 0.5}, {"roc_auc": 0.89}, 1)
    assert verdict.status == "Approved" and verdict.reasons[-1].endswith(relation)


def test_an_exact_tie_passes_even_with_no_tolerance():
    gate = Gate(metric="accuracy")
    assert decide({"accuracy": 0.8}, {"accuracy": 0.8}, 2, gate=gate, problem="multiclass").status == "Approved"


def test_lower_is_better_for_errors():
    gate = Gate(metric="rmse", tolerance=0.5)
    assert decide({"rmse": 10.2}, {"rmse": 10.0}, 1, gate=gate, problem="regression").status == "Approved"
    assert decide({"rmse": 11.0}, {"rmse": 10.0}, 1, gate=gate, problem="regression").status == "Rejected"
    assert gate_core.gate_metric(Gate(), "regression") == "rmse" and gate_core.gate_metric(Gate(), "binary") == "roc_auc"


def test_a_champion_that_cannot_score_these_rows_leaves_the_rules_to_decide():
    verdict = decide({"roc_auc": 0.9, "log_loss": 0.4}, None, None, note="its spec needs column Cabin, which this file lacks")
    assert verdict.status == "Approved" and verdict.champion is None
    assert verdict.reasons[-1] == "not compared with a champion: its spec needs column Cabin, which this file lacks"


def test_manual_mode_waits_for_a_person_with_the_recommendation():
    passing = decide({"roc_auc": 0.9, "log_loss": 0.4}, mode="manual")
    failing = decide({"roc_auc": 0.5, "log_loss": 0.4}, mode="manual")
    assert (passing.status, passing.recommendation) == ("PendingManualApproval", "Approved")
    assert (failing.status, failing.recommendation) == ("PendingManualApproval", "Rejected")


def test_a_missing_metric_fails_its_rule():
    verdict = decide({"roc_auc": None, "log_loss": 0.4})
    assert verdict.status == "Rejected" and "not available" in verdict.reasons[0]
