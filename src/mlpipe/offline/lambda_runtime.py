"""The inside of the offline Lambda: a zygote that imports the layers' libraries once, and the execution
environments forked from it.

This file runs in a Python started with ``-I -S``: the standard library only, nothing of the
development venv. The zygote puts the stack's layers on its path one after the other and
imports the libraries they hold (boto3, Powertools, pydantic, then pandas and numpy). Each
environment forked from it keeps on ``sys.path`` only its function's code and its own layers, and
forgets every imported module that lives anywhere else: a function that imports a package its
package and layers lack fails as it would on AWS, while a cold start costs only its own code.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import uuid

# Libraries the zygote imports once, each as soon as a layer on its path holds it. Not aws_xray_sdk: its recorder
# decides at import whether it runs in Lambda (LAMBDA_TASK_ROOT), so it must be imported in the environment; wrapt,
# most of its import time (it imports asyncio), decides nothing.
PRELOAD = [
    "boto3", "botocore.session", "pydantic", "yaml",
    "aws_lambda_powertools.logging", "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.idempotency", "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.metrics", "wrapt", "numpy", "pandas",
]
# The AWS services the stack's functions call. The zygote reads their SDK models into boto3's default session, which
# each environment inherits: a first client then costs milliseconds instead of a few tenths of a second of JSON and
# set-up per environment. Another service works the same, reading its model at its first client.
PRELOAD_SERVICES = ("s3", "dynamodb", "sagemaker", "sagemaker-runtime", "sns")


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


def _import_error(module_name: str, err: BaseException) -> dict:
    """awslambdaric's answer when the handler's module cannot be imported."""
    if isinstance(err, ImportError):
        return {"errorType": "Runtime.ImportModuleError", "errorMessage": f"Unable to import module '{module_name}': {err}"}
    return {"errorType": "Runtime.UserCodeSyntaxError" if isinstance(err, SyntaxError) else type(err).__name__,
            "errorMessage": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}


def _forget_modules_outside(allowed: list[str]) -> None:
    """Drop imported modules that live outside the function's code, its layers and the standard library."""
    roots = tuple(os.path.realpath(p) + os.sep for p in allowed)
    for name, module in list(sys.modules.items()):
        if name == "__main__":
            continue  # this runtime itself
        locations = [getattr(module, "__file__", None)] if getattr(module, "__file__", None) else list(getattr(module, "__path__", []) or [])
        if locations and not all(os.path.realpath(str(loc)).startswith(roots) for loc in locations):
            del sys.modules[name]


def _max_memory_used() -> int:
    """Peak resident bytes of this environment, as Lambda's REPORT line's Max Memory Used."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def serve(conn, environment: dict[str, str], paths: list[str], handler_name: str, stdlib: list[str]) -> None:
    """An execution environment: take the function's environment and path, import its handler, serve invocations."""
    lock = threading.Lock()
    conn.send(("hello", os.getpid()))
    sys.stdout = sys.stderr = _LogStream(conn, lock)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # native libraries' stray prints do not reach the user's terminal
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(paths[0])
    sys.path[:] = [*paths, *stdlib]
    _forget_modules_outside([*paths, *stdlib])
    importlib.invalidate_caches()
    module_name, _, function_name = handler_name.rpartition(".")
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as err:  # noqa: BLE001 - reported as an init error, as Lambda's runtime does
        with lock:
            conn.send(("init_error", _import_error(module_name, err)))
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
        answer["max_memory_used"] = _max_memory_used()
        with lock:
            conn.send(("result", answer))


# -- the zygotes ----------------------------------------------------------------------------------------------------------
# A zygote holds the libraries of some layers. Asked for an environment, it forks one; asked for a zygote of more
# layers, it forks one that imports theirs too. So the [Common] functions' environments hold the CommonLayer's
# libraries only, while the [Common, Data] ones share pandas, imported once.
def _recv_request(control: socket.socket) -> tuple[dict, int] | None:
    message, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
    if not message:
        return None
    (length,) = struct.unpack("!I", message[:4])
    return json.loads(message[4:4 + length]), fds[0]


def _preload(layers: list[list[str]]) -> None:
    pending = [name for name in PRELOAD if name not in sys.modules]
    for layer_paths in layers:
        sys.path.extend(layer_paths)
        importlib.invalidate_caches()
        for name in list(pending):
            try:
                importlib.import_module(name)
            except ImportError:
                continue  # not in the layers seen so far: perhaps in the next one
            pending.remove(name)
    _preload_sdk()


def _preload_sdk() -> None:
    """boto3's default session with the models of PRELOAD_SERVICES read, as a function's first client leaves it.

    The clients are made with placeholder keys and dropped: no credentials, region or endpoint are resolved here, so
    an environment's first client still takes them from its own environment, as on Lambda.
    """
    boto3 = sys.modules.get("boto3")
    if boto3 is None or boto3.DEFAULT_SESSION is not None:
        return  # no SDK in these layers, or a parent zygote did it
    boto3.setup_default_session()
    for service in PRELOAD_SERVICES:
        boto3.DEFAULT_SESSION.client(service, region_name="us-east-1", aws_access_key_id="preload", aws_secret_access_key="preload")


def zygote_loop(control: socket.socket, layers: list[list[str]], stdlib: list[str]) -> None:
    from multiprocessing.connection import Connection

    _preload(layers)
    control.sendall(b"ready")
    while True:
        request = _recv_request(control)
        if request is None:
            os._exit(0)  # the offline cloud has gone
        spec, fd = request
        if os.fork() != 0:
            os.close(fd)
            continue
        control.close()
        try:
            if spec["kind"] == "zygote":
                zygote_loop(socket.socket(fileno=fd), spec["layers"], stdlib)
            else:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                serve(Connection(fd), spec["environment"], spec["paths"], spec["handler"], stdlib)
        finally:
            os._exit(0)


def zygote_main(control_fd: int, plan: dict) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # environments are reaped as they end; the parent watches them itself
    zygote_loop(socket.socket(fileno=control_fd), plan["layers"], list(sys.path))


if __name__ == "__main__":
    zygote_main(int(sys.argv[1]), json.loads(sys.argv[2]))
