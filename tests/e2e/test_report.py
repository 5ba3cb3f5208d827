"""The evaluation report in a real browser, and what a run leaves in its logs and metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from PIL import Image

from mlpipe.offline.cloud import OfflineCloud
from pipeline_common import layout
from tests.conftest import REPORT
from tests.e2e.conftest import read_json, run_file

pytestmark = pytest.mark.e2e
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def finished_run(titanic_bytes):
    with OfflineCloud() as cloud:
        run_id = run_file(cloud, titanic_bytes, "raw/titanic.csv")
        s3 = cloud.client("s3")
        html = s3.get_object(Bucket=cloud.bucket, Key=layout.RunKeys(run_id).report)["Body"].read()
        yield {"run_id": run_id, "html": html, "logs": list(cloud.logs), "cloud": cloud,
               "status": read_json(cloud, layout.RunKeys(run_id).status)}


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is missing: run `make tools`"
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_report_is_self_contained(finished_run):
    html = finished_run["html"].decode()
    assert "<script" not in html  # nothing to run
    assert not re.search(r"""(src|href)\s*=""", html)  # nothing to fetch: no images, styles or links
    assert "@import" not in html and "url(" not in html


def test_report_renders_in_chromium_with_its_charts(finished_run, tmp_path):
    page = tmp_path / "report.html"
    page.write_bytes(finished_run["html"])
    shot = tmp_path / "report.png"
    result = chromium(tmp_path, "--window-size=1200,2200", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    colors = image.getcolors(maxcolors=1 << 20) or []
    non_white = sum(n for n, rgb in colors if sum(rgb) < 720)
    assert len(colors) > 100, "the screenshot is nearly uniform: blank page?"
    assert non_white / (image.width * image.height) > 0.03
    # the chart colours are really painted: ROC line blue, class bars green and orange
    painted = {rgb for _, rgb in colors}
    for rgb in ((0x3B, 0x5B, 0xDB), (0x1B, 0x9E, 0x77), (0xD9, 0x5F, 0x02)):
        assert rgb in painted, f"colour {rgb} of a chart is not on screen"

    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert re.search(r'<svg id="roc-curve"[^>]*>.*<polyline points="([^"]+ ){20,}', dom, re.S)
    assert len(re.findall(r'class="bar-[01]"', dom)) == 20  # ten bins for each class
    assert len(re.findall(r'class="importance-bar"', dom)) >= 5
    for table in ("confusion-matrix", "profile", "correlations", "lineage", "hyperparameters", "timings"):
        assert f'id="{table}"' in dom
    assert finished_run["run_id"] in dom
    REPORT.append(f"report.html {len(finished_run['html']) / 1024:.1f} KiB, screenshot {image.width}x{image.height}, "
                  f"{len(colors)} colours, {non_white / (image.width * image.height):.0%} non-white")


def test_report_content_matches_the_run(finished_run):
    html = finished_run["html"].decode()
    status = finished_run["status"]
    assert status["stages"]["train"]["image"] in html
    assert f"{status['metrics']['accuracy']:.3f}" in html
    assert ">Sex<" in html and ">177<" in html  # a feature, and the 177 ages missing before imputation
    assert status["stages"]["train"]["training_job"] in html


def test_every_log_line_of_a_run_carries_its_run_id(finished_run):
    run_id, logs = finished_run["run_id"], finished_run["logs"]
    by_function: dict[str, list[dict]] = {}
    for function, line in logs:
        record = json.loads(line)  # every line a function writes is JSON: no stray text
        by_function.setdefault(function, []).append(record)
    assert set(by_function) >= {"PreprocessFunction", "TrainFunction", "InferFunction", "EvaluateFunction", "ApprovalFunction"}
    for function, records in by_function.items():
        for record in records:
            # log lines carry it as correlation id, metric records (EMF) as a property
            assert record.get("correlation_id") == run_id or record.get("run_id") == run_id, (function, record)
    services = {r["service"] for records in by_function.values() for r in records if "message" in r}
    assert services == {"preprocess", "train", "infer", "evaluate", "approval"}


def test_metrics_of_a_run_are_emitted_as_emf(finished_run):
    emitted: dict[str, list] = {}
    for _, line in finished_run["logs"]:
        record = json.loads(line)
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            assert directive["Namespace"] == "mlpipe"
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]
                value = value[0] if isinstance(value, list) else value  # EMF allows a list of values
                emitted.setdefault(metric["Name"], []).append((value, {d: record.get(d) for ds in directive["Dimensions"] for d in ds}))
    assert emitted["RowsIn"][0][0] == 891
    assert emitted["Accuracy"][0][0] == pytest.approx(finished_run["status"]["metrics"]["accuracy"])
    assert emitted["RocAuc"][0][0] == pytest.approx(finished_run["status"]["metrics"]["roc_auc"])
    assert emitted["RunsSucceeded"][0] == (1.0, {"Pipeline": "mlpipe"})
    stages = {dims["Stage"] for _, dims in emitted["StageDuration"]}
    assert stages == {"preprocess", "train", "infer", "evaluate"}


def test_a_rejected_file_counts_as_a_failed_run_and_rejected_rows(titanic_bytes):
    with OfflineCloud() as cloud:
        run_file(cloud, b"Survived,Pclass\n1,2\n0,3\n", "raw/broken.csv")
        names = [m["Name"] for _, line in cloud.logs for d in json.loads(line).get("_aws", {}).get("CloudWatchMetrics", [])
                 for m in d["Metrics"]]
        assert {"FilesRejected", "RowsRejected", "RunsFailed"} <= set(names)
