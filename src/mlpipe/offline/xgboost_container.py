"""What the SageMaker built-in XGBoost container does with CSV data, done with the same xgboost release.

Contract (aws/sagemaker-xgboost-container, SageMaker XGBoost docs): the training channel
is CSV with the label in the first column and no header; ``num_round`` is the number of
boosting rounds and every other hyperparameter goes to xgboost; the model is saved as a
file named ``xgboost-model`` inside ``model.tar.gz``. Batch transform reads CSV records
without a label and answers one prediction per record.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

import numpy as np

CONTAINER_XGBOOST = {"1.7-1": "1.7.4"}
MODEL_FILE = "xgboost-model"


class AlgorithmError(Exception):
    """The job fails with this message as its FailureReason."""


def _xgboost():
    import xgboost  # late: importing it takes a second, and the CLI needs it only once a job runs

    return xgboost


def check_release(container_version: str) -> None:
    xgboost = _xgboost()
    expected = CONTAINER_XGBOOST.get(container_version)
    if expected is None:
        raise AlgorithmError(f"no offline trainer for sagemaker-xgboost:{container_version}; known: {sorted(CONTAINER_XGBOOST)}")
    if xgboost.__version__ != expected:
        raise AlgorithmError(f"sagemaker-xgboost:{container_version} runs xgboost {expected}, but {xgboost.__version__} is installed")


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _read_csv(data: bytes, what: str) -> np.ndarray:
    if not data.strip():
        raise AlgorithmError(f"{what} is empty")
    try:
        return np.loadtxt(io.StringIO(data.decode()), delimiter=",", ndmin=2, dtype=float)
    except ValueError as err:
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
    with tarfile.open(fileobj=io.BytesIO(model_tar_gz), mode="r:gz") as archive:
        member = archive.extractfile(MODEL_FILE)
        if member is None:
            raise AlgorithmError(f"model.tar.gz holds no {MODEL_FILE}")
        raw = bytearray(member.read())
    booster = _xgboost().Booster()
    booster.load_model(raw)
    return booster


def transform(booster, records: bytes) -> bytes:
    """One prediction per input line, as batch transform writes with SplitType and AssembleWith Line."""
    features = _read_csv(records, "transform input")
    if booster.num_features() != features.shape[1]:
        raise AlgorithmError(
            f"Feature shape mismatch: the model expects {booster.num_features()} columns, the input has {features.shape[1]}"
        )
    predictions = booster.predict(_xgboost().DMatrix(features))
    return "".join(f"{value}\n" for value in predictions.tolist()).encode()
