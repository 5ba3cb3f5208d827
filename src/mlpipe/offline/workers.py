"""Warm worker processes, one per function, invoked like Lambda with the real event envelope."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .template import FunctionSpec

RUNTIME_SCRIPT = Path(__file__).with_name("lambda_runtime.py")
# Variables of the developer's shell that would leak real-account settings into a function.
_SCRUBBED_PREFIXES = ("AWS_", "POWERTOOLS_", "_HANDLER", "PYTHONPATH")


@dataclass
class InvocationResult:
    ok: bool
    result: object = None
    error_type: str = ""
    error: str = ""
    seconds: float = 0.0


class FunctionWorker:
    """A warm Python process with only the function's code and layers on its path and its template environment."""

    def __init__(self, spec: FunctionSpec, aws_env: dict[str, str], on_log: Callable[[str, str], None] | None = None):
        self.spec = spec
        self._aws_env = aws_env
        self._on_log = on_log or (lambda name, line: None)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ready = False
        self.init_seconds: float | None = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        env.update(self._aws_env)
        env.update(self.spec.environment)
        env.update(
            {
                "_HANDLER": self.spec.handler,
                "AWS_LAMBDA_FUNCTION_NAME": self.spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                # Lambda puts the function code first, then /opt/python (the layers).
                "PYTHONPATH": os.pathsep.join(str(p) for p in (self.spec.code_dir, *self.spec.layer_dirs)),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    def start(self) -> None:
        """Start the process; it imports the handler in the background and is waited for at the first invoke."""
        self._ready = False
        self._proc = subprocess.Popen(
            [sys.executable, "-u", str(RUNTIME_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.environment(),
            cwd=str(self.spec.code_dir),
            text=True,
        )
        threading.Thread(target=self._pump_logs, args=(self._proc,), daemon=True).start()

    def _wait_ready(self) -> str | None:
        """Wait for the handler import to finish; the error text if it failed."""
        hello = json.loads(self._proc.stdout.readline() or '{"ready": false, "error": "worker exited during init"}')
        if not hello["ready"]:
            self.stop()
            return hello["error"]
        self.init_seconds = hello["init_seconds"]
        self._ready = True
        return None

    def _pump_logs(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            self._on_log(self.spec.logical_id, line.rstrip("\n"))

    def invoke(self, event: dict) -> InvocationResult:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self.start()
            if not self._ready and (init_error := self._wait_ready()):
                return InvocationResult(False, error_type="Runtime.ImportModuleError", error=init_error.strip().splitlines()[-1])
            started = time.perf_counter()
            self._proc.stdin.write(json.dumps({"event": event, "timeout": self.spec.timeout}) + "\n")
            self._proc.stdin.flush()
            answer = self._read_answer()
            seconds = time.perf_counter() - started
        if answer is None:
            return InvocationResult(False, error_type="Timeout", error=f"task timed out after {self.spec.timeout} s", seconds=seconds)
        return InvocationResult(
            answer["ok"], answer.get("result"), answer.get("error_type", ""), answer.get("error", ""), seconds
        )

    def _read_answer(self) -> dict | None:
        box: list = []
        reader = threading.Thread(target=lambda: box.append(self._proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.spec.timeout)
        if not box or not box[0]:
            # Timed out or crashed: like Lambda, the environment is discarded and the next call starts a new one.
            self.stop()
            return None
        return json.loads(box[0])

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        self._ready = False


class FunctionPool:
    """Up to ``size`` execution environments of one function, created on demand and reused warm, as on Lambda."""

    def __init__(self, spec: FunctionSpec, aws_env: dict[str, str], size: int, on_log: Callable[[str, str], None] | None = None):
        self.spec = spec
        self._aws_env = aws_env
        self._on_log = on_log
        self._slots = threading.Semaphore(max(1, size))
        self._idle: queue.SimpleQueue[FunctionWorker] = queue.SimpleQueue()
        self.workers: list[FunctionWorker] = []
        self._lock = threading.Lock()

    def _new_worker(self) -> FunctionWorker:
        worker = FunctionWorker(self.spec, self._aws_env, on_log=self._on_log)
        worker.start()
        with self._lock:
            self.workers.append(worker)
        return worker

    def prewarm(self) -> None:
        """Start one environment now; it imports the handler while the rest of the cloud starts."""
        self._idle.put(self._new_worker())

    def invoke(self, event: dict) -> InvocationResult:
        with self._slots:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = self._new_worker()  # a cold start, as when Lambda scales out
            try:
                return worker.invoke(event)
            finally:
                self._idle.put(worker)

    def stop(self) -> None:
        with self._lock:
            for worker in self.workers:
                worker.stop()
