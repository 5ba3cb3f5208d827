"""What the SageMaker built-in XGBoost container does with CSV data, run in that container version's environment.

Contract (aws/sagemaker-xgboost-container, SageMaker XGBoost docs): the training channel is CSV
with the label in the first column and no header, every file of the channel's folder read;
``num_round`` is the number of boosting rounds and every other hyperparameter goes to xgboost;
the model is saved as a file named ``xgboost-model`` inside ``model.tar.gz``. Batch transform
reads CSV records without a label and writes ``str`` of each record's prediction on a line of its
own; a real-time endpoint answering text/csv writes the rows with a CSV writer.

A job on several instances runs one process per host (algo-1 ... algo-N), as the container's
``distributed.rabit_run`` does: every host joins a first group to tell the others whether it has
data; a host without data is dropped; the hosts with data train one model in a second group through
xgboost's collective communicator, and only the first of them (the master) saves it. Each group's
tracker runs in its master's process on 127.0.0.1, at a port the OS picks (the container uses fixed
ports on its own instances); the workers learn it from SageMaker offline for the first group and
from the first group for the second.

This file runs as the container's process: a Python started with ``-I -S`` and the image's
packages (``<venv>/sagemaker-images/<image>``) on its path, nothing of the development venv.
"""

from __future__ import annotations

import csv
import io
import socket
import sys
import tarfile
import traceback
from contextlib import contextmanager
from pathlib import Path

MODEL_FILE = "xgboost-model"


class AlgorithmError(Exception):
    """The job fails with this message as its FailureReason."""


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def read_csv(data: bytes | Path, what: str):
    """Numeric CSV without a header; an empty field is a missing value, as the container reads it."""
    import pandas as pd

    if (data.stat().st_size == 0 if isinstance(data, Path) else not data.strip()):
        raise AlgorithmError(f"{what} is empty")
    try:
        return pd.read_csv(data if isinstance(data, Path) else io.BytesIO(data), header=None, dtype=float).to_numpy()
    except (ValueError, pd.errors.ParserError) as err:
        raise AlgorithmError(f"{what} is not numeric CSV without header: {err}") from None


def _data_files(channel: Path) -> list[Path]:
    """The channel's data files, as the container lists them: not hidden, not starting with '_'."""
    return sorted(p for p in channel.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def _delimiter(first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(first_line).delimiter
    except csv.Error as err:
        raise AlgorithmError(f"Could not determine delimiter on line {first_line[:50]}:\n{err}") from None


def channel_matrix(channel: Path):
    """The channel as the container's File mode reads it: its files linked into one folder, the delimiter sniffed
    from the first line, and xgboost's own CSV parser over the folder (label in column 0; an empty field is
    missing; like the container, text is not refused: a text feature is missing, a text label 0). None when the files hold no
    byte (the container's get_size is 0: the host has no data)."""
    import tempfile

    import xgboost

    files = _data_files(channel)
    if sum(p.stat().st_size for p in files) == 0:
        return None
    with tempfile.TemporaryDirectory(dir=channel.parent, prefix=f'.{channel.name}-links-') as folder:
        for number, path in enumerate(files):
            (Path(folder) / f"{path.name}{number}").symlink_to(path.resolve())
        with files[0].open(errors="ignore") as first:
            delimiter = _delimiter(first.readline())
        try:
            matrix = xgboost.DMatrix(f"{folder}?format=csv&label_column=0&delimiter={delimiter}")
        except xgboost.core.XGBoostError as err:
            raise AlgorithmError(f"Failed to load csv data with exception:\n{err}") from None
    if matrix.get_label().size == 0:
        raise AlgorithmError("Got input data without labels. Please check the input data set.")
    return matrix


def train_booster(matrix, hyperparameters: dict[str, str]):
    """Train on a DMatrix with labels, as the container's algorithm mode does."""
    import numpy as np
    import xgboost

    params = {k: _parse_value(v) for k, v in hyperparameters.items()}
    if "num_round" not in params:
        raise AlgorithmError("Missing required hyperparameter: num_round")
    num_round = int(params.pop("num_round"))
    if str(params.get("objective", "")).startswith("binary:") and not np.isin(matrix.get_label(), (0, 1)).all():
        raise AlgorithmError("label must be in [0,1] for logistic regression")
    return xgboost.train(params, matrix, num_boost_round=num_round)


def model_archive(booster) -> bytes:
    """model.tar.gz holding the booster as xgboost-model."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MODEL_FILE
        booster.save_model(str(path))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            archive.add(path, arcname=MODEL_FILE)
    return buffer.getvalue()


def train(channel_data: bytes, hyperparameters: dict[str, str]) -> bytes:
    """Train on the bytes of a 'train' channel; return the bytes of model.tar.gz."""
    import tempfile

    with tempfile.TemporaryDirectory() as channel:
        (Path(channel) / "train.csv").write_bytes(channel_data)
        matrix = channel_matrix(Path(channel))
    if matrix is None:
        raise AlgorithmError("train channel is empty")
    return model_archive(train_booster(matrix, hyperparameters))


def load_model(model_tar_gz: bytes):
    import xgboost

    try:
        with tarfile.open(fileobj=io.BytesIO(model_tar_gz), mode="r:gz") as archive:
            raw = bytearray(archive.extractfile(MODEL_FILE).read())
    except KeyError:
        raise AlgorithmError(f"model.tar.gz holds no {MODEL_FILE}") from None
    except tarfile.TarError as err:
        raise AlgorithmError(f"the model artifact is not a readable tar.gz: {err}") from None
    booster = xgboost.Booster()
    booster.load_model(raw)
    return booster


def transform(booster, records: bytes, realtime: bool = False) -> bytes:
    """One prediction per input line: ``str`` of each row's prediction in batch mode (a number, or a list such as
    ``[0.1, 0.2, 0.7]`` for multi:softprob); comma-separated values per row for a real-time endpoint."""
    import xgboost

    features = read_csv(records, "transform input")
    if booster.num_features() != features.shape[1]:
        raise AlgorithmError(
            f"Feature shape mismatch: the model expects {booster.num_features()} columns, the input has {features.shape[1]}"
        )
    predictions = booster.predict(xgboost.DMatrix(features))
    if realtime:
        rows = predictions.reshape(len(predictions), -1)
        return "".join(",".join(str(value) for value in row) + "\n" for row in rows).encode()
    return ("\n".join(map(str, predictions.tolist())) + "\n").encode()


# -- several hosts: the container's distributed.rabit_run -----------------------------------------------------------------
LOCALHOST = "127.0.0.1"
_trackers: dict[int, object] = {}  # the trackers this process runs, by port, until their group has finished


def _legacy() -> bool:
    """xgboost 1.x: a Python tracker (``start(n)``, ``worker_envs()``) and upper-case DMLC_ arguments."""
    import xgboost

    return xgboost.__version__.startswith("1.")


def start_tracker(n_workers: int) -> dict:
    """Start a group's tracker here, ranks sorted by task id (the host name); return the arguments its workers join with."""
    from xgboost.tracker import RabitTracker

    if _legacy():
        tracker = RabitTracker(host_ip=LOCALHOST, n_workers=n_workers, sortby="task")
        tracker.start(n_workers)
        args = tracker.worker_envs()
    else:
        tracker = RabitTracker(n_workers=n_workers, host_ip=LOCALHOST, port=0, sortby="task")
        tracker.start()
        args = tracker.worker_args()
    _trackers[_port(args)] = tracker
    return args


def _port(args: dict) -> int:
    return int(args.get("DMLC_TRACKER_PORT", args.get("dmlc_tracker_port")))


@contextmanager
def _group(args: dict, host: str):
    """Be one worker of a tracker's group; the master, whose process runs the tracker, waits for it to finish after."""
    from xgboost import collective

    with collective.CommunicatorContext(**args, **{"DMLC_TASK_ID" if _legacy() else "dmlc_task_id": host}):
        yield collective
    tracker = _trackers.pop(_port(args), None)
    if tracker is not None and _legacy():
        tracker.join()
    elif tracker is not None:
        tracker.wait_for()


def _synchronize(collective, record: dict) -> list[dict]:
    """Every worker's record, by rank: each one broadcasts its own in turn (the container's RabitHelper.synchronize)."""
    rank = collective.get_rank()
    return [collective.broadcast(record if i == rank else None, i) for i in range(collective.get_world_size())]


def _training_group(collective, records: list[dict], included: list[str], host: str) -> dict | None:
    """The second group's arguments, when two or more hosts have data: its master starts the tracker and tells everyone."""
    if len(included) < 2:
        return None
    root = [record["host"] for record in records].index(included[0])
    return collective.broadcast(start_tracker(len(included)) if host == included[0] else None, root)


def _fit(matrix, request: dict, master: bool) -> dict:
    """Train with the instance's cores (unless the hyperparameters say nthread), and save model.tar.gz on the master
    only (the container's train_job with is_master)."""
    booster = train_booster(matrix, {"nthread": str(request["cores"]), **request["hyperparameters"]})
    if master:
        Path(request["model_out"]).write_bytes(model_archive(booster))
    return {"rows": matrix.num_row(), "included": True, "saved": master}


def train_host(request: dict) -> dict:
    """One host of a training job: alone with one instance, else through the two groups of the container's rabit_run."""
    matrix, host = channel_matrix(Path(request["channel"])), request["current_host"]
    if len(request["hosts"]) == 1:
        if matrix is None:
            raise AlgorithmError(f"No data in training channel path {request['channel']}")
        return _fit(matrix, request, master=True)
    with _group(request["tracker"], host) as collective:
        records = _synchronize(collective, {"host": host, "include_in_training": matrix is not None})
        included = sorted(record["host"] for record in records if record["include_in_training"])
        if not included:
            raise AlgorithmError("No hosts received training data.")
        training = _training_group(collective, records, included, host)
    if matrix is None:
        # The container logs "Host ... not being used for distributed training." and exits 0.
        return {"rows": 0, "included": False, "saved": False}
    if training is None:
        return _fit(matrix, request, master=True)
    with _group(training, host):
        return _fit(matrix, request, master=host == included[0])


# -- the container's process ---------------------------------------------------------------------------------------------
def handle(request: dict) -> dict:
    """One job step, with the container's folders as SageMaker maps them (temporary folders offline)."""
    if request["command"] == "tracker":
        return start_tracker(request["n_workers"])
    if request["command"] == "train":
        return train_host(request)
    booster = load_model(Path(request["model"]).read_bytes())
    if request["command"] == "transform":
        rows = 0
        for source, target in request["files"]:
            predictions = transform(booster, Path(source).read_bytes())
            Path(target).write_bytes(predictions)
            rows += predictions.count(b"\n")
        return {"rows": rows}
    if request["command"] == "invoke":
        return {"body": transform(booster, request["body"].encode(), realtime=True).decode()}
    raise AlgorithmError(f"unknown command {request['command']!r}")


def worker_main(fd: int) -> None:
    from multiprocessing.connection import Connection

    import xgboost  # imported at start: the first job should not wait for it

    connection = Connection(fd)
    connection.send(("ready", xgboost.__version__))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        try:
            connection.send(("ok", handle(request)))
        except AlgorithmError as err:
            connection.send(("error", f"AlgorithmError: {err}"))
        except Exception as err:  # noqa: BLE001 - the job fails with the container's error as its reason
            connection.send(("error", f"AlgorithmError: {type(err).__name__}: {err}\n{traceback.format_exc()[-1500:]}"))


if __name__ == "__main__":
    # argv: the connection's file descriptor, then the image's package folder
    sys.path[:0] = [sys.argv[2]]
    worker_main(socket.socket(fileno=int(sys.argv[1])).detach())
