import io
import tarfile

import numpy as np
import pytest
import xgboost

from mlpipe.offline import xgboost_container as container


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


def test_header_row_fails_as_non_numeric():
    with pytest.raises(container.AlgorithmError, match="not numeric CSV"):
        container.train(b"Survived,a\n1,0.1\n", HYPER)


def test_num_round_is_required():
    with pytest.raises(container.AlgorithmError, match="num_round"):
        container.train(training_csv(), {"objective": "binary:logistic"})


def test_feature_count_mismatch_fails():
    booster = container.load_model(container.train(training_csv(), HYPER))
    with pytest.raises(container.AlgorithmError, match="Feature shape mismatch"):
        container.transform(booster, b"0.1,0.2\n")


def test_each_container_version_has_its_release_and_the_default_is_installed():
    assert container.release_of("1.7-1") == container.installed_release() == xgboost.__version__ == "1.7.4"
    assert container.release_of("3.0-5") == "3.0.5"
    with pytest.raises(container.AlgorithmError, match="no offline trainer"):
        container.release_of("0.90-1")
