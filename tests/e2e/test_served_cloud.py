"""`mlpipe cloud` keeps the offline cloud running; the account's later commands use it instead of starting their own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mlpipe.follow import RunFollower
from mlpipe.offline.served import RECORD, find
from pipeline_common import layout
from tests.conftest import DATA

pytestmark = pytest.mark.e2e
MLPIPE = Path(sys.executable).parent / "mlpipe"


def mlpipe(home: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # the record, not the environment, finds the cloud
    return subprocess.run([str(MLPIPE), *args], capture_output=True, text=True, timeout=timeout, env={**env, "MLPIPE_HOME": str(home)})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("served-home")
    log = (home.parent / "served-cloud.log").open("w")
    process = subprocess.Popen([str(MLPIPE), "cloud", "--param", "EnableEndpoint=true"], stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "MLPIPE_HOME": str(home)})
    deadline = time.monotonic() + 120
    while find(home) is None:
        assert process.poll() is None, (home.parent / "served-cloud.log").read_text()
        assert time.monotonic() < deadline, "mlpipe cloud did not publish its record within 120 s"
        time.sleep(0.2)
    yield home, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)


def test_run_uses_the_running_cloud_and_keeps_the_run_in_the_account(served, tmp_path):
    home, process = served
    first = mlpipe(home, "run", str(DATA), "--out", str(tmp_path / "out"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"the offline cloud of `mlpipe cloud` (pid {process.pid}" in first.stderr
    assert f"offline cloud of `mlpipe cloud` (pid {process.pid}): " in first.stdout
    (metrics_path,) = (tmp_path / "out").glob("evaluation/*/metrics.json")
    run_id = json.loads(metrics_path.read_text())["run_id"]
    assert (tmp_path / "out" / "raw" / "titanic.csv").read_bytes() == DATA.read_bytes()
    # kept on disk by the running cloud, as a run of a cloud of its own is: `mlpipe runs` reads the account
    assert (home / "bucket" / "runs" / run_id / "status.json").is_file()
    listing = mlpipe(home, "runs")
    assert run_id in listing.stdout and "succeeded" in listing.stdout

    second = mlpipe(home, "run", str(DATA))  # the same cloud: its registry already holds the first version
    assert second.returncode == 0, second.stdout + second.stderr
    assert "model version 2 of mlpipe-titanic" in second.stdout
    models = mlpipe(home, "models", "--json")
    assert models.returncode == 0, models.stderr
    assert sorted(version["version"] for version in json.loads(models.stdout)) == [1, 2]


def test_predict_reaches_the_running_clouds_endpoint_through_its_function_url(served):
    home, _ = served
    row = pd.read_csv(DATA, nrows=1).drop(columns=["Survived"]).iloc[0]
    answer = mlpipe(home, "predict", json.dumps([{k: (None if pd.isna(v) else v) for k, v in row.to_dict().items()}], default=str))
    assert answer.returncode == 0, answer.stdout + answer.stderr
    (prediction,) = json.loads(answer.stdout)["predictions"]
    assert 0.0 <= prediction["probability"] <= 1.0


def test_a_running_cloud_refuses_what_would_change_it(served):
    home, process = served
    changed = mlpipe(home, "run", str(DATA), "--param", "TrainingInstanceCount=2")
    assert changed.returncode != 0
    assert f"`mlpipe cloud` (pid {process.pid})" in changed.stderr and "--param TrainingInstanceCount=2" in changed.stderr
    faulty = mlpipe(home, "run", str(DATA), "--fail", "train")
    assert faulty.returncode != 0 and "--fail cannot change a running cloud" in faulty.stderr
    second_cloud = mlpipe(home, "cloud", timeout=60)
    assert second_cloud.returncode == 2
    assert f"(pid {process.pid}) already runs the offline cloud" in second_cloud.stdout
    assert "Traceback" not in changed.stderr + faulty.stderr + second_cloud.stderr


def test_runs_lists_a_run_another_tool_started_on_the_running_cloud(served):
    home, _ = served
    cloud = find(home)
    s3 = cloud.client("s3")
    version = s3.put_object(Bucket=cloud.bucket, Key="raw/by-another-tool.csv", Body=DATA.read_bytes())["VersionId"]
    run_id = layout.run_id_for_upload("raw/by-another-tool.csv", version, None)
    follower = RunFollower(s3, cloud.bucket, run_id, lambda step: None)
    assert follower.follow(timeout=120).succeeded, follower.outcome.reason
    assert not (home / "bucket" / "runs" / run_id).exists()  # not kept yet: no mlpipe command was involved
    listing = mlpipe(home, "runs")
    assert listing.returncode == 0, listing.stderr
    assert any(line.startswith(run_id) and "succeeded" in line for line in listing.stdout.splitlines()), listing.stdout


def test_stopping_the_cloud_withdraws_its_record_and_the_next_run_starts_its_own(served):
    home, process = served
    process.send_signal(signal.SIGTERM)  # as a supervisor stops it: like Ctrl-C, the account is kept
    assert process.wait(timeout=120) == 0
    assert not (home / RECORD).exists()
    alone = mlpipe(home, "run", str(DATA))
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "`mlpipe cloud`" not in alone.stderr
    assert "model version 4 of mlpipe-titanic" in alone.stdout  # the account the served cloud kept: three versions


def test_a_record_left_by_a_killed_cloud_is_ignored(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    (home / RECORD).write_text(json.dumps({"pid": int(dead), "control": "http://127.0.0.1:9", "region": "us-east-1"}))
    assert find(home) is None
