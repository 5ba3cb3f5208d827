"""Lambda's limits on the offline cloud: a function imports only its package and layers, and past its memory
or time it fails as Lambda fails it, retried, then recorded in its run."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from mlpipe.offline.cloud import OfflineCloud, function_paths
from mlpipe.offline.workers import FunctionPool, Zygotes
from mlpipe.offline.cloud import layer_paths
from pipeline_common import layout
from tests.e2e.conftest import read_json

pytestmark = pytest.mark.e2e

PROBE = textwrap.dedent('''
    import os

    def imports_pandas(event, context):
        import pandas
        return pandas.__name__

    def allocates(event, context):
        block = bytearray(int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) * 1024 * 1024 + 64 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, as Lambda counts memory
        return len(block)

    def sleeps(event, context):
        import time
        time.sleep(context.get_remaining_time_in_millis() / 1000 + 5)
''')


def probe_spec(cloud_or_stack, function: str, handler: str, code_dir, **changes):
    """A function of the template (its layers, memory, timeout and routes) running the probe's handler."""
    (code_dir / "probe.py").write_text(PROBE)
    spec = cloud_or_stack.functions[function]
    return dataclasses.replace(spec, code_dir=code_dir, handler=f"probe.{handler}", **changes)


@pytest.fixture
def stack():
    from mlpipe.offline.template import load_stack

    return load_stack()


def invoke_once(spec, event: dict | None = None):
    zygotes = Zygotes(layer_paths)
    pool = FunctionPool(spec, {"AWS_REGION": "us-east-1"}, 1, zygotes.for_layers(list(zip(spec.layers, spec.layer_dirs))),
                        function_paths(spec))
    try:
        return pool.invoke(event or {})
    finally:
        pool.stop()
        zygotes.stop()


def test_a_function_without_the_data_layer_cannot_import_pandas(stack, tmp_path):
    """train, infer and failure have only the CommonLayer on AWS: pandas is in the development venv, not in their path."""
    for function in ("TrainFunction", "InferFunction", "FailureFunction"):
        result = invoke_once(probe_spec(stack, function, "imports_pandas", tmp_path))
        assert not result.ok
        assert result.error_type == "ModuleNotFoundError" and "No module named 'pandas'" in result.error
    # the same code in a function that has the DataLayer imports it
    assert invoke_once(probe_spec(stack, "PreprocessFunction", "imports_pandas", tmp_path)).result == "pandas"


def test_a_handler_module_that_imports_a_missing_package_fails_at_init_like_awslambdaric(stack, tmp_path):
    (tmp_path / "broken.py").write_text("import pandas\n\ndef handler(event, context):\n    return 1\n")
    spec = dataclasses.replace(stack.functions["TrainFunction"], code_dir=tmp_path, handler="broken.handler")
    result = invoke_once(spec)
    assert (result.ok, result.error_type) == (False, "Runtime.ImportModuleError")
    assert result.error == "Unable to import module 'broken': No module named 'pandas'"


def test_a_function_past_its_timeout_is_stopped_like_lambda(stack, tmp_path):
    result = invoke_once(probe_spec(stack, "TrainFunction", "sleeps", tmp_path, timeout=1))
    assert (result.ok, result.error_type, result.error) == (False, "Sandbox.Timedout", "Task timed out after 1.00 seconds")


def test_a_function_past_its_memory_is_retried_then_recorded_as_out_of_memory(tmp_path):
    """The train function's slot, at 256 MB, runs a handler that needs 320 MB: Lambda kills it at each attempt, gives up
    after the retries, and the failure function records the run failed with Runtime.OutOfMemory."""
    cloud = OfflineCloud()
    cloud.stack.functions["TrainFunction"] = probe_spec(cloud.stack, "TrainFunction", "allocates", tmp_path, memory_mb=256)
    run_id = "oom-0123456789"
    with cloud:
        cloud.client("s3").put_object(Bucket=cloud.bucket, Key=layout.RunKeys(run_id).split_manifest, Body=b"{}")
        cloud.settle(60)
        attempts = [inv for inv in cloud.invocations if inv.function == "TrainFunction"]
        assert [(inv.attempt, inv.result.error_type) for inv in attempts] == [(n, "Runtime.OutOfMemory") for n in (1, 2, 3)]
        assert all(inv.result.max_memory_used == 0 for inv in attempts)  # killed: no REPORT of its own
        error = read_json(cloud, layout.RunKeys(run_id).error)
        assert error["stage"] == "train" and error["details"]["error_type"] == "Runtime.OutOfMemory"
        assert "past the function's 256 MB" in error["reason"]
        assert read_json(cloud, layout.RunKeys(run_id).status)["status"] == "failed"
