import io
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xgboost

from mlpipe.offline import containers
from mlpipe.offline import xgboost_container as container
from mlpipe.offline.workers import clean_environment


def training_csv(n: int = 200, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    y = (x[:, 0] + 0.1 * rng.random(n) > 0.55).astype(int)
    return "".join(f"{label}," + ",".join(f"{v:.4f}" for v in row) + "\n" for label, row in zip(y, x)).encode()


HYPER = {"objective": "binary:logistic", "num_round": "20", "max_depth": "3", "eta": "0.3", "subsample": "0.8"}


def test_model_archive_holds_xgboost_model_that_xgboost_loads():
    archive = container.train(training_csv(), HYPER)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.getnames() == ["xgboost-model"]
    booster = container.load_model(archive)
    assert isinstance(booster, xgboost.Booster)
    assert booster.num_boosted_rounds() == 20 and booster.num_features() == 3


def test_transform_writes_one_probability_per_line_and_learns():
    booster = container.load_model(container.train(training_csv(), HYPER))
    records = b"0.9,0.5,0.5\n0.1,0.5,0.5\n0.95,0.1,0.2\n"
    lines = container.transform(booster, records).decode().splitlines()
    values = [float(v) for v in lines]
    assert len(values) == 3 and all(0 <= v <= 1 for v in values)
    assert values[0] > 0.5 > values[1]


def test_labels_outside_0_1_fail_like_the_container():
    with pytest.raises(container.AlgorithmError, match="label must be in"):
        container.train(b"2,0.1\n0,0.2\n", HYPER)


def test_a_header_row_is_read_as_the_container_reads_it():
    """The container hands the channel to xgboost's own CSV parser, which does not refuse text: a header row becomes a
    row, its label 0 and its features missing (the pipeline never writes one; a wrong file fails late on AWS)."""
    with tempfile.TemporaryDirectory() as channel:
        (Path(channel) / "part.csv").write_bytes(b"Survived,a,b\n1,0.1,\n0,0.2,3\n")
        matrix = container.channel_matrix(Path(channel))
    assert matrix.num_row() == 3 and matrix.get_label().tolist() == [0.0, 1.0, 0.0]
    assert matrix.get_data().nnz == 3  # the header's text and the empty field are missing: 0.1, 0.2 and 3 are stored


def test_the_channel_is_every_data_file_of_its_folder_and_the_delimiter_is_sniffed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.csv").write_bytes(b"1;0.5;1\n")
    (tmp_path / "sub" / "b.csv").write_bytes(b"0;0.25;2\n1;0.75;3\n")
    (tmp_path / "_SUCCESS").write_bytes(b"not data\n")
    matrix = container.channel_matrix(tmp_path)
    assert matrix.num_row() == 3 and matrix.num_col() == 2 and sorted(matrix.get_label().tolist()) == [0.0, 1.0, 1.0]
    (tmp_path / "a.csv").write_bytes(b"")
    (tmp_path / "sub" / "b.csv").write_bytes(b"")
    assert container.channel_matrix(tmp_path) is None  # no byte: the host has no data


def test_num_round_is_required():
    with pytest.raises(container.AlgorithmError, match="num_round"):
        container.train(training_csv(), {"objective": "binary:logistic"})


def test_feature_count_mismatch_fails():
    booster = container.load_model(container.train(training_csv(), HYPER))
    with pytest.raises(container.AlgorithmError, match="Feature shape mismatch"):
        container.transform(booster, b"0.1,0.2\n")


def run_in_image(image: str, code: str, *args: str) -> str:
    """Run code in a process with only the image's packages, as the offline container runs; return its stdout."""
    site = containers.site_dir(image)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = [{str(site)!r}]\n{code}", *args],
                            check=False, capture_output=True, text=True, env=clean_environment())
    assert result.returncode == 0, result.stderr
    return result.stdout


def train_in_image(image: str, data: bytes, hyperparameters: dict[str, str], tmp_path: Path) -> bytes:
    channel = tmp_path / image / "train"
    channel.mkdir(parents=True)
    (channel / "part-00000.csv").write_bytes(data)
    process = containers.ContainerProcess(image)
    try:
        answer = process.call(command="train", hosts=["algo-1"], current_host="algo-1", channel=str(channel), cores=1,
                              hyperparameters=hyperparameters, model_out=str(tmp_path / image / "model.tar.gz"))
    finally:
        process.stop()
    assert answer == {"rows": data.count(b"\n"), "included": True, "saved": True}
    return (tmp_path / image / "model.tar.gz").read_bytes()


def test_each_image_runs_its_own_xgboost_release_and_nothing_of_the_dev_venv():
    assert containers.known_images() == ["sagemaker-scikit-learn-1.4-2-py312-cpu-py3", "sagemaker-xgboost-1.7-1", "sagemaker-xgboost-3.0-5"]
    for image, release in (("sagemaker-xgboost-1.7-1", "1.7.4"), ("sagemaker-xgboost-3.0-5", "3.0.5")):
        assert containers.xgboost_release(image) == release
        code = "import xgboost, importlib.util as u; print(xgboost.__version__, u.find_spec('sklearn') is None, u.find_spec('mlpipe') is None)"
        assert run_in_image(image, code).split() == [release, "True", "True"]
    with pytest.raises(container.AlgorithmError, match="no offline container for sagemaker-xgboost-0.90-1"):
        containers.requirements("sagemaker-xgboost-0.90-1")
    with pytest.raises(container.AlgorithmError, match="only the built-in XGBoost image"):
        containers.image_name("123.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2")


def test_container_process_trains_transforms_and_reports_algorithm_errors(tmp_path):
    archive = train_in_image("sagemaker-xgboost-3.0-5", training_csv(), HYPER, tmp_path)
    (tmp_path / "model.tar.gz").write_bytes(archive)
    (tmp_path / "in.csv").write_bytes(b"0.9,0.5,0.5\n0.1,0.5,0.5\n")
    process = containers.ContainerProcess("sagemaker-xgboost-3.0-5")
    try:
        process.call(command="transform", model=str(tmp_path / "model.tar.gz"), files=[[str(tmp_path / "in.csv"), str(tmp_path / "out.csv")]])
        first, second = map(float, (tmp_path / "out.csv").read_text().split())
        assert first > 0.5 > second
        with pytest.raises(container.AlgorithmError, match="Feature shape mismatch"):
            process.call(command="invoke", model=str(tmp_path / "model.tar.gz"), body="0.1,0.2\n")
        assert process.alive()  # an algorithm error fails the job, not the warm process
    finally:
        process.stop()


@pytest.mark.parametrize("image", ["sagemaker-xgboost-1.7-1", "sagemaker-xgboost-3.0-5"])
def test_the_first_failure_of_a_job_ends_the_instances_still_working(image, tmp_path):
    """algo-1 waits in a group of three that never fills; algo-2 fails on its data: the failure is the job's, and
    algo-1, which would wait forever, is ended; algo-2 answered and stays usable."""
    # algo-2 starts with a line the container sniffs "o" from as the delimiter: it fails reading its channel, before any group
    for host, body in (("algo-1", training_csv()), ("algo-2", b"oops\n" + training_csv())):
        (tmp_path / host).mkdir()
        (tmp_path / host / "part.csv").write_bytes(body)
    processes = [containers.ContainerProcess(image) for _ in range(2)]
    try:
        tracker = processes[0].call(command="tracker", n_workers=3)
        requests = [{"command": "train", "hosts": ["algo-1", "algo-2", "algo-3"], "current_host": host, "tracker": tracker,
                     "channel": str(tmp_path / host), "hyperparameters": HYPER, "model_out": str(tmp_path / host / "model.tar.gz"), "cores": 1}
                    for host in ("algo-1", "algo-2")]
        with pytest.raises(container.AlgorithmError, match="Failed to load csv data"):
            containers.call_all(processes, requests)
        assert not processes[0].alive() and processes[1].alive()
    finally:
        for process in processes:
            process.stop()


class _FailingHost:
    """A job's host that fails with ``reason``: after ``after`` is set and ``delay`` seconds, setting ``then`` first."""

    def __init__(self, reason: str, after: threading.Event | None = None, then: threading.Event | None = None, delay: float = 0.0):
        self.reason, self.after, self.then, self.delay = reason, after, then, delay

    def call(self, **request):
        if self.after:
            self.after.wait(5)
        time.sleep(self.delay)
        if self.then:
            self.then.set()
        raise container.AlgorithmError(self.reason)

    def stop(self):
        pass


def test_of_failures_already_in_the_job_reports_the_first_to_happen(monkeypatch):
    """algo-2 fails first; algo-1 fails after it (a peer gone from its allreduce, say): the job's reason is algo-2's,
    though algo-1 comes first in host order."""
    first_failed = threading.Event()
    real_wait = containers.wait

    def late_wait(futures, **how):
        time.sleep(0.5)  # both have failed by the time the job looks
        return real_wait(futures, **how)

    monkeypatch.setattr(containers, "wait", late_wait)
    hosts = [_FailingHost("algo-1: the peer is gone", after=first_failed, delay=0.05),
             _FailingHost("algo-2: label must be in [0,1]", then=first_failed)]
    with pytest.raises(container.AlgorithmError, match="algo-2: label"):
        containers.call_all(hosts, [{}, {}])


def test_a_host_s_own_failure_is_the_job_s_reason_over_its_peer_s_lost_allreduce():
    """algo-1 reports its allreduce failed (its peer went away) before algo-2 reports why it went away: the job's
    reason is algo-2's, which arrives within the moment the others are given."""
    peer_gone = threading.Event()
    hosts = [_FailingHost("XGBoostError: rabit/include/rabit/internal/utils.h:86: Allreduce failed", then=peer_gone),
             _FailingHost("label must be in [0,1] for logistic regression", after=peer_gone, delay=0.3)]
    with pytest.raises(container.AlgorithmError, match="label must be in"):
        containers.call_all(hosts, [{}, {}])
