"""The template's image registry table against the sagemaker SDK's own lookup (the SDK lives in .venv-sagemaker)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from mlpipe.offline.template import load_stack
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
SDK_PYTHON = ROOT / ".venv-sagemaker" / "bin" / "python"
SCRIPT = ROOT / "scripts" / "xgboost_images.py"


def sdk(*args: str) -> str:
    assert SDK_PYTHON.exists(), "the sagemaker SDK venv is missing: run `make tools`"
    result = subprocess.run([str(SDK_PYTHON), str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_registry_entry_equals_the_sdk_lookup():
    from samcli.yamlhelper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    keys = {version: entry["Key"] for version, entry in template["Mappings"]["XGBoostVersionKey"].items()}
    registry = template["Mappings"]["XGBoostImageRegistry"]
    assert set(keys) == set(template["Parameters"]["XGBoostVersion"]["AllowedValues"])
    ours = {f"{region}:{version}": f"{accounts[keys[version]]}.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:{version}"
            for region, accounts in registry.items() for version in keys}
    theirs = json.loads(sdk("--lookup", *ours))
    assert ours == theirs
    assert len(registry) >= 25 and {"us-east-1", "eu-west-3", "ap-southeast-2"} <= set(registry)
    assert set(registry) == set(json.loads(sdk("--regions")))


def test_the_train_function_gets_the_sdk_image_for_the_chosen_version_and_region():
    for region, version in (("us-east-1", "1.7-1"), ("eu-west-3", "3.0-5"), ("ap-northeast-1", "1.7-1")):
        stack = load_stack(region=region, parameter_overrides={"XGBoostVersion": version})
        image = stack.functions["TrainFunction"].environment["TRAINING_IMAGE"]
        assert json.loads(sdk("--lookup", f"{region}:{version}"))[f"{region}:{version}"] == image


def test_the_generated_block_is_up_to_date(tmp_path):
    copy = tmp_path / "template.yaml"
    shutil.copyfile(ROOT / "template.yaml", copy)
    sdk("--write", str(copy))
    assert copy.read_text() == (ROOT / "template.yaml").read_text(), "run `make images` and commit template.yaml"


def test_the_processing_image_of_every_region_equals_the_sdk_lookup():
    from samcli.yamlhelper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    registry = template["Mappings"]["ProcessingImageRegistry"]
    assert set(registry) == set(json.loads(sdk("--regions")))
    theirs = json.loads(sdk("--processing", *registry))
    ours = {region: f"{entry['Account']}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"
            for region, entry in registry.items()}
    assert ours == theirs
    stack = load_stack(region="eu-west-3")
    assert stack.functions["PreprocessFunction"].environment["PROCESSING_IMAGE"] == theirs["eu-west-3"]
