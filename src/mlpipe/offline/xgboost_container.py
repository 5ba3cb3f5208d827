"""What the SageMaker built-in XGBoost container does with CSV data, done with the same xgboost release.

Contract (aws/sagemaker-xgboost-container, SageMaker XGBoost docs): the training channel
is CSV with the label in the first column and no header; ``num_round`` is the number of
boosting rounds and every other hyperparameter goes to xgboost; the model is saved as a
file named ``xgboost-model`` inside ``model.tar.gz``. Batch transform reads CSV records
without a label and answers one prediction per record.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

# The xgboost release inside each container version (aws/sagemaker-xgboost-container, docker/<version>/base/Dockerfile.cpu).
CONTAINER_XGBOOST = {"1.7-1": "1.7.4", "3.0-5": "3.0.5"}
MODEL_FILE = "xgboost-model"
# Releases other than the venv's own, installed by `make venv` (never at run time), one folder each.
RELEASES_HOME = Path(sys.prefix) / "xgboost-releases"


class AlgorithmError(Exception):
    """The job fails with this message as its FailureReason."""


def _xgboost():
    import xgboost  # late: importing it takes a second, and the CLI needs it only once a job runs

    return xgboost


def release_of(container_version: str) -> str:
    release = CONTAINER_XGBOOST.get(container_version)
    if release is None:
        raise AlgorithmError(f"no offline trainer for sagemaker-xgboost:{container_version}; known: {sorted(CONTAINER_XGBOOST)}")
    return release


def installed_release() -> str:
    from importlib.metadata import version

    return version("xgboost")


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _read_csv(data: bytes, what: str) -> np.ndarray:
    """Numeric CSV without a header; an empty field is a missing value, as the container reads it."""
    import pandas as pd

    if not data.strip():
        raise AlgorithmError(f"{what} is empty")
    try:
        return pd.read_csv(io.BytesIO(data), header=None, dtype=float).to_numpy()
    except (ValueError, pd.errors.ParserError) as err:
        raise AlgorithmError(f"{what} is not numeric CSV without header: {err}") from None


def train(channel_data: bytes, hyperparameters: dict[str, str]) -> bytes:
    """Train on the 'train' channel; return the bytes of model.tar.gz."""
    params = {k: _parse_value(v) for k, v in hyperparameters.items()}
    if "num_round" not in params:
        raise AlgorithmError("Missing required hyperparameter: num_round")
    num_round = int(params.pop("num_round"))
    table = _read_csv(channel_data, "train channel")
    labels, features = table[:, 0], table[:, 1:]
    if params.get("objective", "").startswith("binary:") and not np.isin(labels, (0, 1)).all():
        raise AlgorithmError("label must be in [0,1] for logistic regression")
    xgboost = _xgboost()
    booster = xgboost.train(params, xgboost.DMatrix(features, label=labels), num_boost_round=num_round)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / MODEL_FILE
        booster.save_model(str(model_path))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            archive.add(model_path, arcname=MODEL_FILE)
    return buffer.getvalue()


def load_model(model_tar_gz: bytes):
    try:
        with tarfile.open(fileobj=io.BytesIO(model_tar_gz), mode="r:gz") as archive:
            raw = bytearray(archive.extractfile(MODEL_FILE).read())
    except KeyError:
        raise AlgorithmError(f"model.tar.gz holds no {MODEL_FILE}") from None
    except tarfile.TarError as err:
        raise AlgorithmError(f"the model artifact is not a readable tar.gz: {err}") from None
    booster = _xgboost().Booster()
    booster.load_model(raw)
    return booster


def transform(booster, records: bytes, realtime: bool = False) -> bytes:
    """One prediction per input line. Batch mode writes ``str`` of each row's prediction: a number for binary:logistic
    and regression, a list such as ``[0.1, 0.2, 0.7]`` for multi:softprob. A real-time endpoint answering text/csv
    writes the rows with a CSV writer instead: ``0.1,0.2,0.7``."""
    features = _read_csv(records, "transform input")
    if booster.num_features() != features.shape[1]:
        raise AlgorithmError(
            f"Feature shape mismatch: the model expects {booster.num_features()} columns, the input has {features.shape[1]}"
        )
    predictions = booster.predict(_xgboost().DMatrix(features))
    if realtime:
        rows = predictions.reshape(len(predictions), -1)
        return "".join(",".join(str(value) for value in row) + "\n" for row in rows).encode()
    return ("\n".join(map(str, predictions.tolist())) + "\n").encode()


# -- other container versions: the job runs in a process with that version's xgboost release -------------
def _package(release: str) -> str:
    # The CPU-only wheel of xgboost 2 and later has the same Python API and model format.
    return f"xgboost-cpu=={release}" if int(release.split(".")[0]) >= 2 else f"xgboost=={release}"


def release_dir(release: str) -> Path:
    """The folder holding exactly this xgboost release, as `make venv` installed it."""
    target = RELEASES_HOME / release
    if not (target / ".complete").exists():
        raise AlgorithmError(f"xgboost {release} is not installed in {RELEASES_HOME}: run `make venv`")
    return target


def install_releases() -> list[str]:
    """Install every release the offline trainer runs that the venv does not hold itself (the Makefile's step)."""
    installed = []
    for release in sorted(set(CONTAINER_XGBOOST.values()) - {installed_release()}):
        target = RELEASES_HOME / release
        if (target / ".complete").exists():
            continue
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), _package(release)],
                       check=True)
        (target / ".complete").write_text(release)
        installed.append(release)
    return installed


def run_in_release(release: str, command: str, **files: bytes | str) -> bytes:
    """Run train or transform in a process whose xgboost is ``release``; return the output file's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "mlpipe.offline.xgboost_container", command, "--release", release, "--out", f"{tmp}/out"]
        for name, content in files.items():
            path = Path(tmp) / name
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
            args += [f"--{name}", str(path)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(release_dir(release)), os.environ.get("PYTHONPATH", "")])}
        result = subprocess.run(args, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise AlgorithmError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit code {result.returncode}")
        return (Path(tmp) / "out").read_bytes()


def _main() -> None:
    parser = argparse.ArgumentParser(description="one train or transform step of the offline container, or the install step")
    parser.add_argument("command", choices=["train", "transform", "serve", "install-releases"])
    parser.add_argument("--release")
    parser.add_argument("--out")
    parser.add_argument("--data")
    parser.add_argument("--hyperparameters")
    parser.add_argument("--model")
    args = parser.parse_args()
    if args.command == "install-releases":
        print(f"xgboost releases in {RELEASES_HOME}: installed {install_releases() or 'nothing new'}")
        return
    if _xgboost().__version__ != args.release:
        raise SystemExit(f"AlgorithmError: expected xgboost {args.release}, loaded {_xgboost().__version__}")
    data = Path(args.data).read_bytes()
    try:
        if args.command == "train":
            output = train(data, json.loads(Path(args.hyperparameters).read_text()))
        else:
            output = transform(load_model(Path(args.model).read_bytes()), data, realtime=args.command == "serve")
    except AlgorithmError as err:
        raise SystemExit(f"AlgorithmError: {err}") from None
    Path(args.out).write_bytes(output)


if __name__ == "__main__":
    _main()
