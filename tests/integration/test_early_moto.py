"""A command that will start an offline cloud starts moto's server first, and leaves no server behind."""

from __future__ import annotations

import pytest

from mlpipe import cli
from mlpipe.home import CLOUD_RECORD
from mlpipe.offline import moto_process


@pytest.fixture
def started(monkeypatch, tmp_path):
    monkeypatch.setenv("MLPIPE_HOME", str(tmp_path))
    servers = []
    original = moto_process.MotoProcess.__init__

    def record(self):
        original(self)
        servers.append(self)

    monkeypatch.setattr(moto_process.MotoProcess, "__init__", record)
    return servers


@pytest.mark.parametrize("argv", [["runs"], ["run", "x.csv", "--stack", "prod"], ["models", "--stack", "prod"]])
def test_commands_without_an_offline_cloud_start_no_server(started, argv):
    assert cli._early_moto(cli.build_parser().parse_args(argv)) is None
    assert started == []


def test_no_server_when_mlpipe_cloud_runs_for_the_account(started, tmp_path):
    (tmp_path / CLOUD_RECORD).write_text("{}")
    assert cli._early_moto(cli.build_parser().parse_args(["run", "x.csv"])) is None
    assert started == []


def test_a_command_that_ends_early_stops_its_server(started, tmp_path):
    assert cli.main(["run", str(tmp_path / "missing.csv")]) == 2
    (server,) = started
    assert server.process.poll() is not None


def test_the_cloud_adopts_the_server(started, tmp_path):
    from mlpipe.offline.cloud import OfflineCloud, Options

    early = moto_process.MotoProcess()
    with OfflineCloud(options=Options(functions=False), home=tmp_path, moto=early) as cloud:
        assert cloud.endpoints["moto"] == early.endpoint
        assert cloud.client("s3").list_buckets()["Buckets"]
    assert early.process.poll() is not None
    assert len(started) == 1  # the cloud started no second server
