"""evaluation/<run>/report.html: one self-contained page (inline CSS and SVG, no scripts, no network).

Charts are drawn as SVG here rather than with a plotting library, which would not fit the
function's package next to pandas; each chart is a pure function of plain data.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 360, 280, 40
POSITIVE, NEGATIVE, ACCENT = "#d95f02", "#1b9e77", "#3b5bdb"


def _num(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _axes(x_label: str, y_label: str) -> str:
    return (
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}" stroke="#444"/>'
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#444"/>'
        f'<text x="{(WIDTH + PAD) / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="12">{escape(x_label)}</text>'
        f'<text x="12" y="{(HEIGHT - PAD) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 12 {(HEIGHT - PAD) / 2})">'
        f"{escape(y_label)}</text>"
    )


def _x(value: float) -> float:
    return PAD + value * (WIDTH - PAD - 10)


def _y(value: float) -> float:
    return HEIGHT - PAD - value * (HEIGHT - PAD - 10)


def roc_svg(curve: dict, auc: float | None) -> str:
    points = " ".join(f"{_x(f):.1f},{_y(t):.1f}" for f, t in zip(curve["fpr"], curve["tpr"]))
    ticks = "".join(
        f'<text x="{_x(v)}" y="{HEIGHT - PAD + 14}" text-anchor="middle" font-size="10">{v:g}</text>'
        f'<text x="{PAD - 4}" y="{_y(v) + 3}" text-anchor="end" font-size="10">{v:g}</text>'
        for v in (0, 0.5, 1)
    )
    return (
        f'<svg id="roc-curve" class="chart" role="img" aria-label="ROC curve" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">'
        f"{_axes('false positive rate', 'true positive rate')}{ticks}"
        f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}" stroke="#aaa" stroke-dasharray="4 4"/>'
        f'<polyline points="{points}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>'
        f'<text x="{_x(0.95)}" y="{_y(0.08)}" text-anchor="end" font-size="13">AUC {_num(auc, 3)}</text></svg>'
    )


def histogram_svg(probabilities: list[float], labels: list[int], threshold: float, bins: int = 10) -> str:
    counts = {cls: [0] * bins for cls in (0, 1)}
    for p, y in zip(probabilities, labels):
        counts[int(y)][min(int(p * bins), bins - 1)] += 1
    peak = max(1, *counts[0], *counts[1])
    slot = (WIDTH - PAD - 10) / bins
    bars = []
    for cls, color, offset in ((0, NEGATIVE, 0.1), (1, POSITIVE, 0.5)):
        for i, n in enumerate(counts[cls]):
            height = n / peak * (HEIGHT - PAD - 10)
            bars.append(f'<rect class="bar-{cls}" x="{PAD + i * slot + offset * slot:.1f}" y="{HEIGHT - PAD - height:.1f}" '
                        f'width="{slot * 0.4:.1f}" height="{height:.1f}" fill="{color}"><title>{n} rows</title></rect>')
    legend = (f'<rect x="{WIDTH - 150}" y="14" width="10" height="10" fill="{NEGATIVE}"/><text x="{WIDTH - 135}" y="23" font-size="11">actual 0</text>'
              f'<rect x="{WIDTH - 80}" y="14" width="10" height="10" fill="{POSITIVE}"/><text x="{WIDTH - 65}" y="23" font-size="11">actual 1</text>')
    cut = f'<line x1="{_x(threshold)}" y1="10" x2="{_x(threshold)}" y2="{HEIGHT - PAD}" stroke="#333" stroke-dasharray="3 3"/>'
    ticks = "".join(f'<text x="{_x(v)}" y="{HEIGHT - PAD + 14}" text-anchor="middle" font-size="10">{v:g}</text>' for v in (0, 0.5, 1))
    return (f'<svg id="probability-histogram" class="chart" role="img" aria-label="predicted probability by true class" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">{_axes("predicted probability of class 1", "rows")}{ticks}'
            f'{"".join(bars)}{cut}{legend}</svg>')


def importance_svg(importance: dict[str, float]) -> str:
    if not importance:
        return '<p class="note">No split in the model: every tree is a single leaf.</p>'
    row, label_width = 24, 110
    height = row * len(importance) + 20
    peak = max(importance.values())
    bars = []
    for i, (name, gain) in enumerate(importance.items()):
        width = gain / peak * (WIDTH - label_width - 60)
        y = 10 + i * row
        bars.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(name)}</text>'
                    f'<rect class="importance-bar" x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row - 8}" fill="{ACCENT}"/>'
                    f'<text x="{label_width + width + 4:.1f}" y="{y + 15}" font-size="11">{gain:.2f}</text>')
    return (f'<svg id="feature-importance" class="chart" role="img" aria-label="feature importance by gain" width="{WIDTH}" '
            f'height="{height}" viewBox="0 0 {WIDTH} {height}">{"".join(bars)}</svg>')


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
    return ('<table id="confusion-matrix" class="matrix"><tr><th></th><th>predicted 1</th><th>predicted 0</th></tr>'
            f'<tr><th>actual 1</th>{cell(cm["tp"], "true positive")}{cell(cm["fn"], "false negative")}</tr>'
            f'<tr><th>actual 0</th>{cell(cm["fp"], "false positive")}{cell(cm["tn"], "true negative")}</tr></table>')


def correlation_table(correlations: dict) -> str:
    names = list(correlations)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><th>{escape(a)}</th>"
        + "".join(f'<td style="background:{_color(correlations[a].get(b))}">{_num(correlations[a].get(b), 2)}</td>' for b in names)
        + "</tr>"
        for a in names
    )
    return f'<table id="correlations" class="matrix small"><tr><th></th>{head}</tr>{rows}</table>'


def profile_table(profile: dict) -> str:
    describe, missing = profile.get("describe", {}), profile.get("missing_before_imputation", {})
    rows = []
    for column, stats in describe.items():
        source = "Embarked" if column.startswith("Embarked_") else column
        rows.append(
            f"<tr><th>{escape(column)}</th><td>{missing.get(source, '-')}</td><td>{_num(stats.get('mean'), 3)}</td>"
            f"<td>{_num(stats.get('std'), 3)}</td><td>{_num(stats.get('min'), 2)}</td><td>{_num(stats.get('50%'), 2)}</td>"
            f"<td>{_num(stats.get('max'), 2)}</td><td>{_num(profile.get('skewness', {}).get(column), 2)}</td>"
            f"<td>{_num(profile.get('kurtosis', {}).get(column), 2)}</td></tr>"
        )
    return ('<table id="profile"><tr><th>column</th><th>missing before imputation</th><th>mean</th><th>std</th><th>min</th>'
            f'<th>median</th><th>max</th><th>skewness</th><th>kurtosis</th></tr>{"".join(rows)}</table>')


def _pairs(rows: list[tuple[str, object]], table_id: str) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{_num(v)}</td></tr>" for k, v in rows)
    return f'<table id="{table_id}">{body}</table>'


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;background:#fff}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.grid{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start} .card{flex:1 1 320px}
table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:right} th{background:#f6f6f6;text-align:left}
table.matrix td{text-align:center;min-width:90px} table.small td{min-width:44px;font-size:11px}
.kpi{display:inline-block;margin:6px 14px 6px 0;padding:8px 14px;border:1px solid #ddd;border-radius:6px}
.kpi b{display:block;font-size:20px} .note{color:#666;font-size:13px} .failed{color:#b00}
"""


def build(report: dict) -> str:
    """The whole page from plain data: metrics, predictions, ROC curve, importance, profile and lineage."""
    metrics = report["metrics"]
    importance = report.get("importance")
    importance_html = (importance_svg(importance) if isinstance(importance, dict)
                       else f'<p class="note failed">Feature importance unavailable: {escape(str(importance))}</p>')
    kpis = "".join(f'<span class="kpi">{name.replace("_", " ")}<b>{_num(metrics.get(name), 3)}</b></span>'
                   for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"))
    lineage = report["lineage"]
    timings = "".join(
        f"<tr><th>{escape(stage)}</th><td>{escape(str(t.get('status', '-')))}</td><td>{escape(str(t.get('started_at', '-')))}</td>"
        f"<td>{_num(t.get('seconds'), 2)}</td></tr>"
        for stage, t in lineage.get("stages", {}).items()
    )
    hyper = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in sorted(lineage.get("hyperparameters", {}).items()))
    profile = report.get("profile") or {}
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlpipe run {escape(metrics['run_id'])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>Evaluation of run {escape(metrics['run_id'])}</h1>
<p class="note">{escape(str(lineage.get('source_key', '')))} &middot; {metrics['n_test']} held-out rows &middot; threshold {metrics['threshold']}</p>
<div id="metrics">{kpis}</div>
<div class="grid">
<div class="card"><h2>Confusion matrix</h2>{confusion_table(metrics['confusion_matrix'])}</div>
<div class="card"><h2>ROC curve</h2>{roc_svg(report['roc'], metrics.get('roc_auc'))}</div>
<div class="card"><h2>Predicted probability by true class</h2>{histogram_svg(report['probabilities'], report['labels'], metrics['threshold'])}</div>
<div class="card"><h2>Feature importance (average gain per split)</h2>{importance_html}</div>
</div>
<h2>Data profile</h2>
<p class="note">{profile.get('rows', '-')} rows after preprocessing; label counts {escape(str(profile.get('label_counts', '-')))};
missing values counted before imputation.</p>
{profile_table(profile)}
<h2>Correlations</h2>
{correlation_table(profile.get('correlations', {}))}
<h2>Lineage</h2>
<div class="grid">
<div class="card">{_pairs([("run id", metrics['run_id']), ("input key", lineage.get('source_key')), ("input version", lineage.get('source_version')),
                            ("training job", lineage.get('training_job')), ("model", lineage.get('model')),
                            ("transform job", lineage.get('transform_job')), ("image", lineage.get('image')),
                            ("instance type", lineage.get('instance_type'))], "lineage")}</div>
<div class="card"><table id="hyperparameters"><tr><th colspan="2">hyperparameters</th></tr>{hyper}</table></div>
<div class="card"><table id="timings"><tr><th>stage</th><th>status</th><th>started (UTC)</th><th>seconds</th></tr>{timings}</table></div>
</div>
</body></html>
"""
