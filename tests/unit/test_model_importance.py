"""Gain importance read from the artifact without xgboost equals xgboost's own get_score(importance_type="gain")."""

import os
import subprocess
import sys

import pytest

import model_importance
from mlpipe.offline import xgboost_container
from tests.unit.test_xgboost_container import HYPER, training_csv

FEATURES = ["a", "b", "c"]


def test_legacy_binary_model_of_xgboost_1_7_matches_get_score():
    archive = xgboost_container.train(training_csv(400, seed=3), {**HYPER, "num_round": "30", "max_depth": "4"})
    assert model_importance.model_bytes(archive).startswith(b"binf")
    expected = xgboost_container.load_model(archive).get_score(importance_type="gain")
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
    """xgboost 3.0.5 (container 3.0-5) writes UBJSON; its own get_score runs in a process with that release."""
    release_dir = xgboost_container.release_dir("3.0.5")
    archive = xgboost_container.run_in_release("3.0.5", "train", data=training_csv(300, seed=5),
                                               hyperparameters='{"objective": "binary:logistic", "num_round": "20", "max_depth": "3"}')
    assert model_importance.model_bytes(archive).startswith(b"{")
    (tmp_path / "model.tar.gz").write_bytes(archive)
    script = ("import io,tarfile,json,xgboost as x; t=tarfile.open(sys.argv[1]); b=x.Booster(); "
              "b.load_model(bytearray(t.extractfile('xgboost-model').read())); print(json.dumps(b.get_score(importance_type='gain')))")
    result = subprocess.run([sys.executable, "-c", "import sys;" + script, str(tmp_path / "model.tar.gz")], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(release_dir)})
    assert result.returncode == 0, result.stderr
    import json

    expected = json.loads(result.stdout)
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
