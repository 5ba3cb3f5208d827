"""An offline SageMaker endpoint for the operations the pipeline calls, with real XGBoost training.

It speaks SageMaker's JSON 1.1 protocol, and the runtime's InvokeEndpoint (POST
/endpoints/<name>/invocations), so the handlers' boto3 clients reach it through
``AWS_ENDPOINT_URL_SAGEMAKER`` and ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` alone. Its state
(jobs, models, the registry, endpoints) can be saved to a file and loaded again, so a later
command sees the same account.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from .sm_base import STATE_TABLES, ApiError, Faults
from .sm_endpoints import EndpointOps
from .sm_jobs import JobOps
from .sm_processing import ProcessingOps
from .sm_registry import RegistryOps

__all__ = ["ApiError", "Faults", "OfflineSageMaker"]


class OfflineSageMaker(JobOps, ProcessingOps, RegistryOps, EndpointOps):
    _server: ThreadingHTTPServer | None = None

    def start(self, port: int = 0) -> str:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/endpoints/"):
                    self._runtime(body)
                    return
                operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                try:
                    status, payload = 200, service.call(operation, json.loads(body or b"{}"))
                except ApiError as err:
                    status, payload = err.status, {"__type": err.code, "message": err.message}
                self._answer(status, json.dumps(payload, default=str).encode(), "application/x-amz-json-1.1")

            def _runtime(self, body: bytes) -> None:
                name = unquote(self.path.split("/")[2])
                try:
                    answer, content_type, variant = service.invoke_endpoint(name, body, self.headers.get("Content-Type", ""))
                    self._answer(200, answer, content_type, {"x-Amzn-Invoked-Production-Variant": variant})
                except ApiError as err:
                    self._answer(err.status, json.dumps({"message": err.message}).encode(), "application/json",
                                 {"x-amzn-ErrorType": f"{err.code}:"})

            def _answer(self, status: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", f"offline-{time.monotonic_ns()}")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet: the CLI shows what matters
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=30)
        self.stop_containers()

    def call(self, operation: str, request: dict) -> dict:
        if self.faults.take_throttle():
            raise ApiError("ThrottlingException", "Rate exceeded")
        method: Callable | None = getattr(self, f"op_{operation}", None)
        if method is None:
            raise ApiError("UnknownOperationException", f"the offline SageMaker does not implement {operation}")
        with self._lock:
            self.calls.append(operation)
        return method(request)

    # -- an account that outlives the process ------------------------------------------------------
    def save(self, path: Path) -> None:
        with self._lock:
            state = {table: getattr(self, table) for table in STATE_TABLES}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(state, default=str))

    def load(self, path: Path) -> None:
        if not path.is_file():
            return
        state = json.loads(path.read_text())
        with self._lock:
            for table in STATE_TABLES:
                getattr(self, table).update(state.get(table, {}))
            for endpoint in self.endpoints.values():  # what was on its way to service has arrived
                if endpoint["EndpointStatus"] in ("Creating", "Updating"):
                    endpoint["EndpointStatus"] = "InService"
            for jobs, status in ((self.training_jobs, "TrainingJobStatus"), (self.transform_jobs, "TransformJobStatus"),
                                 (self.processing_jobs, "ProcessingJobStatus")):
                for job in jobs.values():  # a job whose command ended before it did did not finish
                    if job[status] == "InProgress":
                        job.update({status: "Failed", "FailureReason": "InternalServerError: the offline cloud stopped during the job"})
