"""Warm worker processes, one per function, invoked like Lambda with the real event envelope."""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable

from . import lambda_runtime
from .template import FunctionSpec

# Variables of the developer's shell that would leak real-account settings into a function.
_SCRUBBED_PREFIXES = ("AWS_", "POWERTOOLS_", "_HANDLER", "PYTHONPATH")


@dataclass
class InvocationResult:
    ok: bool
    result: object = None
    error_type: str = ""
    error: str = ""
    seconds: float = 0.0


_CONTEXT = None
_CONTEXT_LOCK = threading.Lock()


def _fork_context():
    """One fork server per process, with the shared libraries imported before the first environment forks."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(lambda_runtime.PRELOAD)
            _CONTEXT = context
        return _CONTEXT


class FunctionWorker:
    """One execution environment: a process with the function's code and layers first on its path and its template environment."""

    def __init__(self, spec: FunctionSpec, aws_env: dict[str, str], on_log: Callable[[str, str], None] | None = None):
        self.spec = spec
        self._aws_env = aws_env
        self._on_log = on_log or (lambda name, line: None)
        self._lock = threading.RLock()  # stop() may come from the invoking thread or from the cloud's shutdown
        self._proc = None
        self._conn = None
        self._ready = False

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
                "LAMBDA_TASK_ROOT": str(self.spec.code_dir),
            }
        )
        return env

    def start(self) -> None:
        """Start the process; it imports the handler in the background and is waited for at the first invoke."""
        context = _fork_context()
        self._ready = False
        self._conn, child = context.Pipe()
        # Lambda puts the function code first, then the layers (/opt/python).
        paths = [str(p) for p in (self.spec.code_dir, *self.spec.layer_dirs)]
        self._proc = context.Process(target=lambda_runtime.serve, args=(child, self.environment(), paths, self.spec.handler),
                                     name=self.spec.name, daemon=True)
        self._proc.start()
        child.close()

    def _receive(self, timeout: float | None) -> tuple | None:
        """The next message that is not a log line; None on timeout or if the process died."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                if not self._conn.poll(remaining):
                    return None
                kind, payload = self._conn.recv()
            except (EOFError, OSError):
                return None
            if kind == "log":
                self._on_log(self.spec.logical_id, payload)
            else:
                return kind, payload

    def _wait_ready(self) -> str | None:
        """Wait for the handler import to finish; the error text if it failed."""
        message = self._receive(timeout=120)
        if message is None or message[0] != "ready":
            self.stop()
            return message[1] if message else "the environment exited during init"
        self._ready = True
        return None

    def invoke(self, event: dict) -> InvocationResult:
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self.start()
            if not self._ready and (init_error := self._wait_ready()):
                return InvocationResult(False, error_type="Runtime.ImportModuleError", error=init_error.strip().splitlines()[-1])
            started = time.perf_counter()
            self._conn.send((event, self.spec.timeout))
            message = self._receive(timeout=self.spec.timeout)
            seconds = time.perf_counter() - started
            if message is None:
                # Timed out or crashed: like Lambda, the environment is discarded and the next call starts a new one.
                crashed = not self._proc.is_alive()
                exit_code = self._proc.exitcode
                self.stop()
                if crashed:
                    return InvocationResult(False, error_type="Runtime.ExitError", error=f"the environment exited with code {exit_code}",
                                            seconds=seconds)
                return InvocationResult(False, error_type="Timeout", error=f"task timed out after {self.spec.timeout} s", seconds=seconds)
        answer = message[1]
        return InvocationResult(answer["ok"], answer.get("result"), answer.get("error_type", ""), answer.get("error", ""), seconds)

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.kill()  # first, without the lock: it also ends an invocation waiting on this process
        with self._lock:
            if self._proc is not None:
                self._proc.join(timeout=5)
            if self._conn is not None:
                self._conn.close()
            self._proc, self._conn, self._ready = None, None, False


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
