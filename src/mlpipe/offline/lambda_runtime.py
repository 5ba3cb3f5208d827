"""The inside of one warm function worker: imports the handler once, then serves invocations.

Started as a script by ``workers.FunctionWorker`` with the function's CodeUri and layers
on PYTHONPATH and its template environment, like a Lambda execution environment. Requests
come as JSON lines on stdin; answers go as JSON lines to the original stdout, while
anything the handler prints (Powertools log lines) goes to stderr.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid


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


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's prints and log lines go to stderr
    sys.stdout = os.fdopen(1, "w", buffering=1)
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception:  # noqa: BLE001 - reported to the parent as an init error
        protocol.write(json.dumps({"ready": False, "error": traceback.format_exc()}) + "\n")
        return
    protocol.write(json.dumps({"ready": True, "init_seconds": time.perf_counter() - started}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(
            os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
            int(request["timeout"]),
            os.environ["AWS_REGION"],
        )
        try:
            result = handler(request["event"], context)
            answer = {"ok": True, "result": result}
        except Exception as err:  # noqa: BLE001 - Lambda reports any exception as a function error
            answer = {"ok": False, "error_type": type(err).__name__, "error": str(err), "trace": traceback.format_exc()}
        sys.stdout.flush()
        protocol.write(json.dumps(answer, default=str) + "\n")


if __name__ == "__main__":
    main()
