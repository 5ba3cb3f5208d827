import re

import report_html


def test_roc_svg_draws_every_point_and_the_auc():
    svg = report_html.roc_svg({"fpr": [0, 0.2, 0.5, 1.0], "tpr": [0, 0.6, 0.9, 1.0]}, 0.8125)
    (points,) = re.findall(r'<polyline points="([^"]+)"', svg)
    assert len(points.split()) == 4
    assert "AUC 0.812" in svg or "AUC 0.813" in svg


def test_histogram_draws_each_class_in_ten_bins():
    svg = report_html.histogram_svg([[2, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]], 0.5)
    assert len(re.findall(r'class="bar-0"', svg)) == 10 and len(re.findall(r'class="bar-1"', svg)) == 10
    assert "<title>2 rows</title>" in svg and svg.count("<title>1 rows</title>") == 2


def test_importance_bars_are_proportional_and_names_are_escaped():
    svg = report_html.importance_svg({"<b>x</b>": 4.0, "y": 2.0})
    widths = [float(w) for w in re.findall(r'class="importance-bar" x="[^"]+" y="[^"]+" width="([^"]+)"', svg)]
    assert widths[0] == 2 * widths[1]
    assert "<b>x</b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg


def test_unavailable_importance_is_said_not_hidden():
    page = report_html.build({
        "metrics": {"run_id": "r-0123456789", "n_test": 2, "threshold": 0.5, "accuracy": 1.0, "precision": 1.0, "recall": 1.0,
                    "f1": 1.0, "roc_auc": 1.0, "log_loss": 0.1, "confusion_matrix": {"tp": 1, "fp": 0, "tn": 1, "fn": 0}},
        "roc": {"fpr": [0, 0, 1], "tpr": [0, 1, 1]}, "probability_counts": [[1] + [0] * 9, [0] * 9 + [1]],
        "importance": "a pickled model cannot be read", "profile": {}, "lineage": {"stages": {}},
    })
    assert "Feature importance unavailable: a pickled model cannot be read" in page
    assert page.startswith("<!doctype html>")
