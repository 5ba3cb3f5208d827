"""What the CLI prints about a run: its stages as they happen, its metrics by problem type, its warnings."""

from __future__ import annotations

from .follow import RunOutcome, Step

HEADLINE = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "multiclass": ("accuracy", "macro_f1", "weighted_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


def say(text: str = "") -> None:
    print(text, flush=True)


def show_step(step: Step) -> None:
    say(f"  [{step.at:6.2f}s] {step.stage:<10} {step.text}")


def problem_type(metrics: dict) -> str:
    return metrics.get("problem_type", "binary")


def headline_metric(metrics: dict | None) -> tuple[str, float | None]:
    """The one number a listing shows: accuracy for classes, RMSE for regression."""
    if not metrics:
        return "-", None
    name = "rmse" if problem_type(metrics) == "regression" else "accuracy"
    return name, metrics.get(name)


def metric_lines(metrics: dict) -> list[str]:
    intervals = metrics.get("intervals") or {}
    lines = []
    for name in HEADLINE[problem_type(metrics)]:
        value = metrics.get(name)
        text = f"  {name:<11} {value:.4f}" if isinstance(value, float) else f"  {name:<11} {value}"
        if intervals.get(name):
            low, high = intervals[name]
            text += f"   (95% {low:.4f} to {high:.4f})"
        lines.append(text)
    cm = metrics.get("confusion_matrix") or {}
    if "tp" in cm:
        lines.append(f"  confusion   tp={cm['tp']} fp={cm['fp']} tn={cm['tn']} fn={cm['fn']}")
    elif "labels" in cm:
        width = max(len(str(c)) for c in cm["labels"]) + 2
        lines.append("  confusion   " + "".join(f"{str(c):>{width}}" for c in cm["labels"]) + "   (rows actual, columns predicted)")
        for label, row in zip(cm["labels"], cm["matrix"]):
            lines.append(f"  {str(label):>11} " + "".join(f"{n:>{width}}" for n in row))
    return lines


def print_outcome(outcome: RunOutcome) -> None:
    if outcome.succeeded:
        metrics = outcome.metrics
        kind = problem_type(metrics)
        target = f" on {metrics['target']}" if metrics.get("target") else ""
        extra = f", positive class {metrics.get('positive_class')}, threshold {metrics['threshold']}" if kind == "binary" else ""
        say(f"\nrun {outcome.run_id} succeeded: {kind}{target}, evaluated on {metrics['n_test']} held-out rows{extra}")
        for line in metric_lines(metrics):
            say(line)
        gate_lines(metrics)
    else:
        say(f"\nrun {outcome.run_id} FAILED at {outcome.reason}")
    if outcome.warnings:
        say(f"data warnings ({len(outcome.warnings)}):")
        for warning in outcome.warnings:
            say(f"  - {warning['kind']}: {warning['message']}")


def gate_lines(metrics: dict) -> None:
    """The quality gate's verdict on the run's model version, with both scores and every reason."""
    gate, package = metrics.get("gate"), metrics.get("model_package") or {}
    if not gate:
        return
    champion = f", champion v{gate['champion_version']} {gate['champion']:.4f}" if gate.get("champion_version") else ""
    challenger = "-" if gate.get("challenger") is None else f"{gate['challenger']:.4f}"
    waiting = f" (the gate recommends {gate['recommendation']})" if gate["status"] == "PendingManualApproval" else ""
    say(f"model version {package.get('version')} of {package.get('group')}: {gate['status']}{waiting} - "
        f"{gate['metric']} {challenger}{champion}")
    for reason in gate.get("reasons", []):
        say(f"  - {reason}")
