"""evaluation/<run>/report.html: one self-contained page (inline CSS and SVG, no scripts, no network).

It adapts to the problem type: a confusion matrix for classes, the ROC curve and probabilities
for binary problems, per-class precision and recall for multiclass, predicted against actual and
residuals for regression. Every headline metric shows its 95 % bootstrap interval.
"""

from __future__ import annotations

from html import escape

from report_charts import fmt, histogram_svg, importance_svg, residual_histogram_svg, roc_svg, scatter_svg

HEADLINE = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "multiclass": ("accuracy", "macro_f1", "weighted_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


def _color(value: float | None) -> str:
    if value is None:
        return "#eee"
    value = max(-1.0, min(1.0, value))
    # blue for negative, orange for positive, white at zero
    r, g, b = (255, int(255 - 120 * value), int(255 - 230 * value)) if value >= 0 else (int(255 + 200 * value), int(255 + 120 * value), 255)
    return f"rgb({r},{g},{b})"


def confusion_table(cm: dict) -> str:
    total = max(1, sum(cm.values()))
    cell = lambda n, name: f'<td style="background:{_color(n / total * 2)}"><b>{n}</b><br><small>{name}</small></td>'  # noqa: E731
    return ('<table id="confusion-matrix" class="matrix"><tr><th></th><th>predicted positive</th><th>predicted negative</th></tr>'
            f'<tr><th>actual positive</th>{cell(cm["tp"], "true positive")}{cell(cm["fn"], "false negative")}</tr>'
            f'<tr><th>actual negative</th>{cell(cm["fp"], "false positive")}{cell(cm["tn"], "true negative")}</tr></table>')


def class_confusion_table(confusion: dict) -> str:
    labels, matrix = confusion["labels"], confusion["matrix"]
    head = "".join(f"<th>predicted {escape(str(c))}</th>" for c in labels)
    rows = []
    for label, row in zip(labels, matrix):
        total = max(1, sum(row))
        cells = "".join(f'<td style="background:{_color(n / total)}">{n}</td>' for n in row)
        rows.append(f"<tr><th>actual {escape(str(label))}</th>{cells}</tr>")
    return f'<table id="confusion-matrix" class="matrix"><tr><th></th>{head}</tr>{"".join(rows)}</table>'


def per_class_table(per_class: dict) -> str:
    rows = "".join(f"<tr><th>{escape(str(c))}</th><td>{fmt(v['precision'], 3)}</td><td>{fmt(v['recall'], 3)}</td>"
                   f"<td>{fmt(v['f1'], 3)}</td><td>{v['support']}</td></tr>" for c, v in per_class.items())
    return f'<table id="per-class"><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>rows</th></tr>{rows}</table>'


def correlation_table(correlations: dict) -> str:
    names = list(correlations)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><th>{escape(a)}</th>"
        + "".join(f'<td style="background:{_color(correlations[a].get(b))}">{fmt(correlations[a].get(b), 2)}</td>' for b in names)
        + "</tr>"
        for a in names
    )
    return f'<table id="correlations" class="matrix small"><tr><th></th>{head}</tr>{rows}</table>'


def profile_table(profile: dict) -> str:
    describe, missing = profile.get("describe", {}), profile.get("missing_before_imputation", {})
    rows = []
    for column in [*describe, *(c for c in missing if c not in describe)]:
        stats = describe.get(column, {})
        rows.append(
            f"<tr><th>{escape(column)}</th><td>{missing.get(column, '-')}</td><td>{fmt(stats.get('mean'), 3)}</td>"
            f"<td>{fmt(stats.get('std'), 3)}</td><td>{fmt(stats.get('min'), 2)}</td><td>{fmt(stats.get('50%'), 2)}</td>"
            f"<td>{fmt(stats.get('max'), 2)}</td><td>{fmt(profile.get('skewness', {}).get(column), 2)}</td>"
            f"<td>{fmt(profile.get('kurtosis', {}).get(column), 2)}</td></tr>"
        )
    return ('<table id="profile"><tr><th>column</th><th>missing</th><th>mean</th><th>std</th><th>min</th>'
            f'<th>median</th><th>max</th><th>skewness</th><th>kurtosis</th></tr>{"".join(rows)}</table>')


def warnings_list(warnings: list[dict]) -> str:
    if not warnings:
        return '<p id="warnings" class="note">No data warnings.</p>'
    items = "".join(f'<li class="warning"><b>{escape(w["kind"].replace("_", " "))}</b>: {escape(w["message"])}</li>' for w in warnings)
    return f'<ul id="warnings">{items}</ul>'


def _pairs(rows: list[tuple[str, object]], table_id: str) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{fmt(v)}</td></tr>" for k, v in rows)
    return f'<table id="{table_id}">{body}</table>'


def kpis(metrics: dict) -> str:
    intervals = metrics.get("intervals") or {}
    spans = []
    for name in HEADLINE[metrics.get("problem_type", "binary")]:
        interval = intervals.get(name)
        band = f'<small class="interval">95% {interval[0]:.3f} to {interval[1]:.3f}</small>' if interval else ""
        spans.append(f'<span class="kpi">{name.replace("_", " ")}<b>{fmt(metrics.get(name), 3)}</b>{band}</span>')
    return "".join(spans)


def _importance_html(importance) -> str:
    if isinstance(importance, dict):
        return importance_svg(importance.get("by_column", importance))
    return f'<p class="note failed">Feature importance unavailable: {escape(str(importance))}</p>'


def gate_html(metrics: dict) -> str:
    """The quality gate's verdict, its reasons and both scores, and the model version it applies to."""
    gate, package = metrics.get("gate"), metrics.get("model_package") or {}
    if not gate:
        return '<p class="note">No gate verdict recorded.</p>'
    colour = {"Approved": "#2ca02c", "Rejected": "#d62728"}.get(gate["status"], "#b8860b")
    scores = [("gate metric", gate["metric"]), ("this version", gate.get("challenger")),
              ("champion", f"v{gate['champion_version']}: {fmt(gate.get('champion'))}" if gate.get("champion_version") else "none"),
              ("tolerance", gate.get("tolerance")), ("mode", gate.get("mode")), ("recommendation", gate.get("recommendation")),
              ("model package", f"{package.get('group', '-')} version {package.get('version', '-')}")]
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in gate.get("reasons", []))
    return (f'<div id="gate"><p class="verdict" style="color:{colour}"><b>{escape(gate["status"])}</b></p>'
            f'{_pairs(scores, "gate-scores")}<ul class="reasons">{reasons}</ul></div>')


def result_cards(report: dict) -> str:
    """The charts and tables of the problem type."""
    metrics = report["metrics"]
    kind = metrics.get("problem_type", "binary")
    cards = []
    if kind == "binary":
        cards += [("Confusion matrix", confusion_table(metrics["confusion_matrix"])),
                  ("ROC curve", roc_svg(report["roc"], metrics.get("roc_auc"))),
                  ("Predicted probability by true class", histogram_svg(report["probability_counts"], metrics["threshold"]))]
    elif kind == "multiclass":
        cards += [("Confusion matrix", class_confusion_table(metrics["confusion_matrix"])),
                  ("Precision and recall per class", per_class_table(metrics["per_class"]))]
    else:
        residuals = metrics.get("residuals", {})
        cards += [("Predicted against actual", scatter_svg(report["actual"], report["predicted"])),
                  ("Residuals", residual_histogram_svg(report["residuals"])),
                  ("Residual summary", _pairs([(k, v) for k, v in residuals.items()], "residual-summary"))]
    cards.append(("Feature importance by column (average gain per split)", _importance_html(report.get("importance"))))
    return "".join(f'<div class="card"><h2>{escape(title)}</h2>{body}</div>' for title, body in cards)


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;background:#fff}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.grid{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start} .card{flex:1 1 320px}
table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:right} th{background:#f6f6f6;text-align:left}
table.matrix td{text-align:center;min-width:90px} table.small td{min-width:44px;font-size:11px}
.kpi{display:inline-block;margin:6px 14px 6px 0;padding:8px 14px;border:1px solid #ddd;border-radius:6px}
.kpi b{display:block;font-size:20px} .kpi small{display:block;color:#666} .note{color:#666;font-size:13px} .failed{color:#b00}
li.warning{margin:4px 0;font-size:14px} .verdict{font-size:20px;margin:6px 0}
"""


def _subtitle(metrics: dict, lineage: dict) -> str:
    parts = [f"dataset {escape(str(metrics.get('dataset', lineage.get('dataset', '-'))))}",
             f"{escape(str(metrics.get('problem_type', 'binary')))} on {escape(str(metrics.get('target', '-')))}",
             escape(str(lineage.get("source_key", ""))), f"{metrics['n_test']} held-out rows"]
    if metrics.get("problem_type", "binary") == "binary":
        parts.append(f"positive class {escape(str(metrics.get('positive_class', '1')))}, threshold {metrics['threshold']}")
    return " &middot; ".join(parts)


def build(report: dict) -> str:
    """The whole page from plain data: metrics, charts of the problem type, importance, profile, warnings and lineage."""
    metrics = report["metrics"]
    lineage = report["lineage"]
    timings = "".join(
        f"<tr><th>{escape(stage)}</th><td>{escape(str(t.get('status', '-')))}</td><td>{escape(str(t.get('started_at', '-')))}</td>"
        f"<td>{fmt(t.get('seconds'), 2)}</td></tr>"
        for stage, t in lineage.get("stages", {}).items()
    )
    hyper = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in sorted(lineage.get("hyperparameters", {}).items()))
    profile = report.get("profile") or {}
    summary = profile.get("target_summary")
    counts = (", ".join(f"{k} {v}" for k, v in profile["label_counts"].items()) if profile.get("label_counts")
              else f"mean {fmt(summary.get('mean'), 3)}, std {fmt(summary.get('std'), 3)}, range {fmt(summary.get('min'), 3)} to "
                   f"{fmt(summary.get('max'), 3)}" if summary else "-")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlpipe run {escape(metrics['run_id'])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>Evaluation of run {escape(metrics['run_id'])}</h1>
<p class="note">{_subtitle(metrics, lineage)}</p>
<div id="metrics">{kpis(metrics)}</div>
<h2>Quality gate</h2>
{gate_html(metrics)}
<div class="grid">{result_cards(report)}</div>
<h2>Data warnings</h2>
{warnings_list(profile.get('warnings', []))}
<h2>Data profile</h2>
<p class="note">{profile.get('rows', '-')} rows with a target ({profile.get('rows_in', '-')} in the file);
{profile.get('n_train', '-')} for training, {profile.get('n_test', '-')} held out; target {escape(str(counts))};
missing values counted before filling. Fill values and category levels were learned from the training rows only.</p>
{profile_table(profile)}
<h2>Correlations</h2>
{correlation_table(profile.get('correlations', {}))}
<h2>Lineage</h2>
<div class="grid">
<div class="card">{_pairs([("run id", metrics['run_id']), ("dataset", lineage.get('dataset')), ("input key", lineage.get('source_key')),
                            ("input version", lineage.get('source_version')), ("frozen spec", lineage.get('spec')),
                            ("fitted transform", lineage.get('transform')), ("training job", lineage.get('training_job')),
                            ("model", lineage.get('model')), ("transform job", lineage.get('transform_job')),
                            ("image", lineage.get('image')), ("instance type", lineage.get('instance_type'))], "lineage")}</div>
<div class="card"><table id="hyperparameters"><tr><th colspan="2">hyperparameters</th></tr>{hyper}</table></div>
<div class="card"><table id="timings"><tr><th>stage</th><th>status</th><th>started (UTC)</th><th>seconds</th></tr>{timings}</table></div>
</div>
</body></html>
"""
