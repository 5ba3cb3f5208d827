"""`mlpipe run/runs/show --stack`: the offline cloud stands in for a deployed stack, reached only through AWS endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlpipe.offline.cloud import OfflineCloud
from tests.conftest import DATA

pytestmark = pytest.mark.e2e
MLPIPE = Path(sys.executable).parent / "mlpipe"


@pytest.fixture(scope="module")
def deployed():
    with OfflineCloud() as cloud:
        cloud.register_stack()
        yield cloud


def mlpipe(cloud: OfflineCloud, home: Path, *args: str) -> subprocess.CompletedProcess:
    # Only what boto3 reads from the environment tells the CLI where "AWS" is.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(cloud.aws_environment(), MLPIPE_HOME=str(home))
    return subprocess.run([str(MLPIPE), *args], capture_output=True, text=True, env=env, timeout=600)


def test_run_on_a_stack_uploads_follows_and_mirrors_the_run(deployed, tmp_path):
    result = mlpipe(deployed, tmp_path / "home", "run", str(DATA), "--stack", deployed.stack.name, "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"bucket {deployed.bucket}" in result.stdout
    for stage in ("preprocess", "train", "infer", "evaluate"):
        assert f"] {stage}" in result.stdout
    (metrics_path,) = (tmp_path / "out").glob("evaluation/*/metrics.json")
    run_id = json.loads(metrics_path.read_text())["run_id"]
    assert json.loads(metrics_path.read_text())["accuracy"] >= 0.78
    assert (tmp_path / "out" / "raw" / "titanic.csv").read_bytes() == DATA.read_bytes()
    assert not (tmp_path / "home").exists()  # a deployed run keeps its history in its bucket, not on this machine

    listing = mlpipe(deployed, tmp_path, "runs", "--stack", deployed.stack.name)
    assert listing.returncode == 0 and run_id in listing.stdout and "succeeded" in listing.stdout
    shown = mlpipe(deployed, tmp_path, "show", run_id, "--stack", deployed.stack.name)
    assert shown.returncode == 0
    assert f"report: s3://{deployed.bucket}/evaluation/{run_id}/" in shown.stdout


def test_a_rejected_file_on_a_stack_exits_non_zero_with_its_reason(deployed, tmp_path):
    bad = tmp_path / "header_only.csv"
    bad.write_text(DATA.read_text().splitlines()[0] + "\n")
    result = mlpipe(deployed, tmp_path, "run", str(bad), "--stack", deployed.stack.name)
    assert result.returncode == 1
    assert "FAILED at preprocess: file has a header but no data rows" in result.stdout


def test_an_unknown_stack_is_named_in_the_error(deployed, tmp_path):
    result = mlpipe(deployed, tmp_path, "run", str(DATA), "--stack", "no-such-stack")
    assert result.returncode != 0
    assert "cannot read stack 'no-such-stack'" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_empty_removes_every_version_so_the_stack_can_be_deleted(deployed, tmp_path):
    s3 = deployed.client("s3")
    s3.put_object(Bucket=deployed.bucket, Key="raw/extra.txt", Body=b"one")
    s3.put_object(Bucket=deployed.bucket, Key="raw/extra.txt", Body=b"two")
    s3.delete_object(Bucket=deployed.bucket, Key="raw/extra.txt")  # leaves a delete marker
    declined = subprocess.run([str(MLPIPE), "empty", "--stack", deployed.stack.name], input="wrong-name\n", capture_output=True,
                              text=True, env={**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **deployed.aws_environment()})
    assert declined.returncode == 1 and s3.list_object_versions(Bucket=deployed.bucket).get("Versions")
    result = mlpipe(deployed, tmp_path, "empty", "--stack", deployed.stack.name, "--yes")
    assert result.returncode == 0, result.stderr
    listing = s3.list_object_versions(Bucket=deployed.bucket)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
