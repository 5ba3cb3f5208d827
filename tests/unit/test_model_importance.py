"""Gain importance read from the artifact without xgboost equals xgboost's own get_score(importance_type="gain")."""

import json

import pytest

import model_importance
from mlpipe.offline import xgboost_container
from tests.unit.test_xgboost_container import HYPER, run_in_image, train_in_image, training_csv

FEATURES = ["a", "b", "c"]


GET_SCORE = ("import json, sys, tarfile, xgboost; b = xgboost.Booster(); "
             "b.load_model(bytearray(tarfile.open(sys.argv[1]).extractfile('xgboost-model').read())); "
             "print(json.dumps(b.get_score(importance_type='gain')))")


def get_score_in_image(image: str, archive: bytes, tmp_path) -> dict:
    (tmp_path / "model.tar.gz").write_bytes(archive)
    return json.loads(run_in_image(image, GET_SCORE, str(tmp_path / "model.tar.gz")))


def test_legacy_binary_model_of_xgboost_1_7_matches_get_score(tmp_path):
    """Container 1.7-1 saves xgboost-model in the old binary format; its own release's get_score is the reference."""
    image = "sagemaker-xgboost-1.7-1"
    archive = train_in_image(image, training_csv(400, seed=3), {**HYPER, "num_round": "30", "max_depth": "4"}, tmp_path)
    assert model_importance.model_bytes(archive).startswith(b"binf")
    expected = get_score_in_image(image, archive, tmp_path)
    ours = model_importance.gain_importance(archive, FEATURES)
    assert set(ours) == {FEATURES[int(k[1:])] for k in expected}
    for name, value in ours.items():
        assert value == pytest.approx(expected[f"f{FEATURES.index(name)}"], rel=1e-5)
    assert list(ours.values()) == sorted(ours.values(), reverse=True)


def test_json_model_matches_get_score(tmp_path):
    archive = xgboost_container.train(training_csv(300, seed=4), HYPER)
    booster = xgboost_container.load_model(archive)
    booster.save_model(str(tmp_path / "m.json"))
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "m.json", arcname="xgboost-model")
    ours = model_importance.gain_importance(buffer.getvalue(), FEATURES)
    expected = booster.get_score(importance_type="gain")
    assert ours == pytest.approx({FEATURES[int(k[1:])]: v for k, v in expected.items()}, rel=1e-5)


def test_unknown_formats_say_what_they_are():
    import io
    import pickle
    import tarfile

    for body, message in ((pickle.dumps({"x": 1}), "pickled model"), (b"\x00\x01garbage", "unknown model format")):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo("xgboost-model")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        with pytest.raises(model_importance.UnsupportedModel, match=message):
            model_importance.gain_importance(buffer.getvalue(), FEATURES)


def test_ubjson_model_of_xgboost_3_matches_its_get_score(tmp_path):
    """xgboost 3.0.5 (container 3.0-5) writes UBJSON."""
    image = "sagemaker-xgboost-3.0-5"
    archive = train_in_image(image, training_csv(300, seed=5), {"objective": "binary:logistic", "num_round": "20", "max_depth": "3"}, tmp_path)
    assert model_importance.model_bytes(archive).startswith(b"{")
    expected = get_score_in_image(image, archive, tmp_path)
    ours = model_importance.gain_importance(archive, FEATURES)
    assert ours == pytest.approx({FEATURES[int(k[1:])]: v for k, v in expected.items()}, rel=1e-5)


def test_archives_without_the_model_or_not_tar_say_so():
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("other-file")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(model_importance.UnsupportedModel, match="holds no xgboost-model"):
        model_importance.gain_importance(buffer.getvalue(), FEATURES)
    with pytest.raises(model_importance.UnsupportedModel, match="not a readable tar.gz"):
        model_importance.gain_importance(b"not a tarball", FEATURES)
    with pytest.raises(model_importance.UnsupportedModel, match="ends early"):
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            info = tarfile.TarInfo("xgboost-model")
            info.size = 10
            tar.addfile(info, io.BytesIO(b"binf\x00\x00\x00\x00\x00\x00"))
        model_importance.gain_importance(archive.getvalue(), FEATURES)
