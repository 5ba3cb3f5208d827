"""The inside of one function's execution environment: imports the handler once, then serves invocations.

It runs in a process forked from a server that has already imported the libraries every
function shares (boto3, pandas, Powertools), so a cold start costs only the function's own
code. Before importing the handler it takes the function's template environment and puts
its CodeUri and layers first on sys.path, as Lambda puts /var/task and /opt/python.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import threading
import time
import traceback
import uuid

# Modules the fork server imports once for every function. Only libraries: the functions' own
# code and the layer's pipeline_common are imported in each environment, from its own path.
PRELOAD = [
    "boto3", "botocore.session", "numpy", "pandas",
    "aws_lambda_powertools.logging", "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.idempotency", "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.metrics",
    # Not aws_xray_sdk: its recorder decides at import whether it runs in Lambda (LAMBDA_TASK_ROOT),
    # so it must be imported in the function's environment.
]


class LambdaContext:
    def __init__(self, function_name: str, memory_mb: int, timeout_s: int, region: str):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "offline"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _LogStream(io.TextIOBase):
    """stdout and stderr of the function: each complete line goes to the parent as a log message."""

    def __init__(self, conn, lock: threading.Lock):
        self._conn, self._lock, self._buffer = conn, lock, ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            with self._lock:
                self._conn.send(("log", line))
        return len(text)


def serve(conn, environment: dict[str, str], paths: list[str], handler_name: str) -> None:
    """Entry point of the environment's process."""
    lock = threading.Lock()
    sys.stdout = sys.stderr = _LogStream(conn, lock)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # native libraries' stray prints do not reach the user's terminal
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(paths[0])
    site = [p for p in sys.path if "site-packages" in p or p.startswith(sys.base_prefix)]
    sys.path[:] = [*paths, *site]
    # The layer's package must come from the layer's path, fresh, even if the process that started
    # this one had imported the development copy.
    for name in [m for m in sys.modules if m == "pipeline_common" or m.startswith("pipeline_common.")]:
        del sys.modules[name]
    module_name, _, function_name = handler_name.rpartition(".")
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception:  # noqa: BLE001 - reported as an init error, like Runtime.ImportModuleError
        with lock:
            conn.send(("init_error", traceback.format_exc()))
        return
    with lock:
        conn.send(("ready", time.perf_counter() - started))
    while True:
        try:
            event, timeout = conn.recv()
        except EOFError:
            return
        context = LambdaContext(environment["AWS_LAMBDA_FUNCTION_NAME"], int(environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
                                timeout, environment["AWS_REGION"])
        # Lambda sets the trace header of each invocation; not sampled, so X-Ray has nothing to send offline.
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        try:
            answer = {"ok": True, "result": handler(event, context)}
        except Exception as err:  # noqa: BLE001 - Lambda reports any exception as a function error
            answer = {"ok": False, "error_type": type(err).__name__, "error": str(err), "trace": traceback.format_exc()}
        sys.stdout.flush()
        with lock:
            conn.send(("result", answer))
