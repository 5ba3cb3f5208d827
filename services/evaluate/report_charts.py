"""The report's charts as SVG, each a pure function of plain data.

Drawn here rather than with a plotting library, which would not fit the function's package next
to pandas.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 360, 280, 40
POSITIVE, NEGATIVE, ACCENT = "#d95f02", "#1b9e77", "#3b5bdb"


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _scale(low: float, high: float, length: float, start: float, flip: bool = False):
    span = (high - low) or 1.0
    return (lambda v: start + length - (v - low) / span * length) if flip else (lambda v: start + (v - low) / span * length)


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
        f'<text x="{_x(0.95)}" y="{_y(0.08)}" text-anchor="end" font-size="13">AUC {fmt(auc, 3)}</text></svg>'
    )


def histogram_svg(counts: list[list[int]], threshold: float) -> str:
    """Rows per predicted-probability bin (equal bins over [0, 1]), for actual class 0 and class 1."""
    bins = len(counts[0])
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
    row = 24
    label_width = min(220, max(60, 7 * max(len(name) for name in importance) + 12))
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


def scatter_svg(actual: list[float], predicted: list[float]) -> str:
    """Predicted against actual, with the diagonal where they are equal."""
    low, high = min(actual + predicted), max(actual + predicted)
    x, y = _scale(low, high, WIDTH - PAD - 10, PAD), _scale(low, high, HEIGHT - PAD - 10, 10, flip=True)
    dots = "".join(f'<circle class="point" cx="{x(a):.1f}" cy="{y(p):.1f}" r="2" fill="{ACCENT}" fill-opacity="0.5"/>'
                   for a, p in zip(actual, predicted))
    ticks = "".join(f'<text x="{x(v):.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle" font-size="10">{v:.3g}</text>'
                    f'<text x="{PAD - 4}" y="{y(v) + 3:.1f}" text-anchor="end" font-size="10">{v:.3g}</text>' for v in (low, high))
    return (f'<svg id="predicted-vs-actual" class="chart" role="img" aria-label="predicted against actual" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">{_axes("actual", "predicted")}{ticks}'
            f'<line x1="{x(low):.1f}" y1="{y(low):.1f}" x2="{x(high):.1f}" y2="{y(high):.1f}" stroke="#aaa" stroke-dasharray="4 4"/>'
            f"{dots}</svg>")


def residual_histogram_svg(residuals: list[float], bins: int = 20) -> str:
    low, high = min(residuals), max(residuals)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for r in residuals:
        counts[min(int((r - low) / width), bins - 1)] += 1
    peak, slot = max(1, *counts), (WIDTH - PAD - 10) / bins
    bars = "".join(f'<rect class="residual-bar" x="{PAD + i * slot:.1f}" y="{HEIGHT - PAD - n / peak * (HEIGHT - PAD - 10):.1f}" '
                   f'width="{slot * 0.9:.1f}" height="{n / peak * (HEIGHT - PAD - 10):.1f}" fill="{NEGATIVE}"><title>{n} rows</title></rect>'
                   for i, n in enumerate(counts))
    ticks = "".join(f'<text x="{PAD + (v - low) / (high - low or 1) * (WIDTH - PAD - 10):.1f}" y="{HEIGHT - PAD + 14}" '
                    f'text-anchor="middle" font-size="10">{v:.3g}</text>' for v in (low, 0.0, high) if low <= v <= high)
    return (f'<svg id="residual-histogram" class="chart" role="img" aria-label="residuals" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}">{_axes("actual - predicted", "rows")}{ticks}{bars}</svg>')
