"""The real template under the real tools: sam validate --lint, cfn-lint, sam build, and the built packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlpipe.offline.template import load_stack
from tests.conftest import REPORT, ROOT

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def tool_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"))
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"  # sam build looks for python3.12 here
    return env


def run(*cmd: str, cwd: Path = ROOT, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=tool_env(), capture_output=True, text=True, timeout=timeout)


def test_sam_validate_lint_passes():
    result = run(str(BIN / "sam"), "validate", "--lint", "--template-file", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_reports_nothing():
    result = run(str(BIN / "cfn-lint"), "template.yaml")
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_checkov_finds_nothing_but_skips_with_reasons():
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    assert checkov.exists(), "checkov's venv is missing: run `make tools`"
    result = subprocess.run([str(checkov), "-f", "template.yaml", "--framework", "cloudformation", "--skip-download", "-o", "json"],
                            cwd=ROOT, env={**tool_env(), "BC_SKIP_MAPPING": "TRUE"}, capture_output=True, text=True, timeout=600)
    report = json.loads(result.stdout)
    assert report["summary"]["failed"] == 0, [c["check_id"] + " " + c["resource"] for c in report["results"]["failed_checks"]]
    assert report["summary"]["passed"] > 0
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the template's skips should be reported"
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, f"{check['check_id']} on {check['resource']} has no reason"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam-build")
    result = run(str(BIN / "sam"), "build", "--template-file", "template.yaml", "--build-dir", str(build_dir), "--cached",
                 "--cache-dir", str(ROOT / ".aws-sam" / "cache"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build_dir



def layer_build_dirs(built: Path, spec) -> list[Path]:
    return [built / layer / "python" for layer in spec.layers]


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.mark.parametrize("logical_id", ["PreprocessFunction", "TrainFunction", "InferFunction", "EvaluateFunction", "ScoreFunction",
                                        "ApprovalFunction", "PredictFunction", "FailureFunction"])
def test_built_function_imports_with_only_its_package_and_layers(built, logical_id):
    spec = load_stack(parameter_overrides={"EnableEndpoint": "true"}).functions[logical_id]
    paths = [built / logical_id, *layer_build_dirs(built, spec)]
    for path in paths:
        assert path.is_dir(), f"sam build did not produce {path}"
    # the shared code is not copied into the function package: it comes from the layer
    assert not (built / logical_id / "pipeline_common").exists()
    module, _, handler = spec.handler.rpartition(".")
    code = f"import time; t=time.perf_counter(); import {module} as m; assert callable(m.{handler}); print(time.perf_counter()-t)"
    env = {"PYTHONPATH": os.pathsep.join(map(str, paths)), "PATH": "/usr/bin:/bin",
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": logical_id}
    # -S: no site-packages; PYTHONPATH stands for Lambda's /var/task and /opt/python. boto3 comes from the CommonLayer.
    result = subprocess.run([str(BIN / "python3.12"), "-S", "-c", code], env=env, capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stderr
    unzipped = sum(dir_size(p) for p in paths)
    REPORT.append(f"{logical_id:<20} unzipped {unzipped / 1e6:6.1f} MB (limit 262.1 MB)  cold import {float(result.stdout):.2f} s")
    assert unzipped < 250 * 1024 * 1024


def test_samconfig_gives_deploy_what_it_needs():
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    deploy = config["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"  # the stack creates roles
    assert deploy["resolve_s3"] is True  # sam manages the artifact bucket: no bucket name to type
    assert config["global"]["parameters"]["stack_name"]
    assert "region" not in deploy  # chosen at `sam deploy --guided`, any commercial region
