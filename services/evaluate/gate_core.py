"""The quality gate: a new version is approved only if it passes the dataset's rules and is not worse than the
current approved version (the champion), scored on the same test rows, by more than the spec's tolerance."""

from __future__ import annotations

from pipeline_common.models import LOWER_IS_BETTER, Gate, GateVerdict

DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
EPSILON = 1e-12  # a tie is not "worse"


def gate_metric(gate: Gate, problem_type: str) -> str:
    return gate.metric or DEFAULT_METRIC[problem_type]


def _rule_reasons(gate: Gate, metrics: dict) -> tuple[bool, list[str]]:
    passed, reasons = True, []
    for rule in gate.rules:
        value = metrics.get(rule.metric)
        bounds = " and ".join(f"{'>=' if side == 'min' else '<='} {bound:g}" for side, bound in (("min", rule.min), ("max", rule.max))
                              if bound is not None)
        if value is None:
            passed = False
            reasons.append(f"rule {rule.metric} {bounds}: the metric is not available for this run")
            continue
        ok = (rule.min is None or value >= rule.min) and (rule.max is None or value <= rule.max)
        passed &= ok
        reasons.append(f"rule {rule.metric} {bounds}: {value:.4f} {'passes' if ok else 'fails'}")
    return passed, reasons


def _champion_reason(metric: str, challenger: float | None, champion: float | None, version: int, tolerance: float) -> tuple[bool, str]:
    if challenger is None or champion is None:
        return False, f"{metric} of the new version or of champion v{version} is not available: no comparison possible"
    lower_better = metric in LOWER_IS_BETTER
    worse_by = (challenger - champion) if lower_better else (champion - challenger)
    head = f"champion v{version} {metric} {champion:.4f}, new version {challenger:.4f} on the same test rows"
    if worse_by <= tolerance + EPSILON:
        relation = "better" if worse_by < -EPSILON else ("as good" if abs(worse_by) <= EPSILON else f"worse by {worse_by:.4f}, within")
        suffix = f" the tolerance {tolerance:g}" if relation.startswith("worse") else ""
        return True, f"{head}: {relation}{suffix}"
    return False, f"{head}: worse by {worse_by:.4f}, more than the tolerance {tolerance:g}"


def decide(gate: Gate, problem_type: str, challenger: dict, champion: dict | None, champion_version: int | None,
           champion_note: str | None, mode: str) -> GateVerdict:
    """Approved or Rejected with every reason; in manual mode the version waits for a person, with this recommendation."""
    metric = gate_metric(gate, problem_type)
    ok, reasons = _rule_reasons(gate, challenger)
    if champion is not None and champion_version is not None:
        better, reason = _champion_reason(metric, challenger.get(metric), champion.get(metric), champion_version, gate.tolerance)
        ok &= better
        reasons.append(reason)
    elif champion_note:
        reasons.append(f"not compared with a champion: {champion_note}")
    else:
        reasons.append("first version of this dataset: judged by its rules alone")
    recommendation = "Approved" if ok else "Rejected"
    return GateVerdict(
        status="PendingManualApproval" if mode == "manual" else recommendation, recommendation=recommendation, mode=mode,
        metric=metric, challenger=challenger.get(metric), champion=(champion or {}).get(metric), champion_version=champion_version,
        tolerance=gate.tolerance, reasons=reasons,
    )
