"""Execution environments, invoked like Lambda with the real event envelope, with Lambda's limits.

Each environment is a process forked from the zygote (``lambda_runtime.py``), with its function's
code and layers on its path and its template environment. Its memory is watched: past the
function's ``MemorySize`` it is killed and the invocation fails with ``Runtime.OutOfMemory``, as on
Lambda; past its ``Timeout`` it is discarded with ``Sandbox.Timedout``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable

from . import lambda_runtime
from .template import FunctionSpec

# Variables of the developer's shell that would leak real-account settings into a function.
_SCRUBBED_PREFIXES = ("AWS_", "POWERTOOLS_", "_HANDLER", "PYTHONPATH", "VIRTUAL_ENV")
MEMORY_CHECK_SECONDS = 0.01
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class InvocationResult:
    ok: bool
    result: object = None
    error_type: str = ""
    error: str = ""
    seconds: float = 0.0
    sent_at: float = 0.0  # wall clock when the event reached the environment
    max_memory_used: int = 0  # peak resident bytes of the environment so far (Lambda's REPORT line)


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}


class Zygote:
    """A process the execution environments fork from, with the libraries of some layers already imported.

    The first one is started with the standard library only; a zygote of more layers is forked from one of
    fewer, so libraries are imported once and each environment holds only its own layers' ones.
    """

    def __init__(self, layers: list[list[str]], parent: "Zygote | None" = None):
        control, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control, self._lock, self._ready = control, threading.Lock(), threading.Event()
        self._errors: list[str] = []
        self.process = None
        if parent is None:
            # -I -S: the standard library only; the layers come from the plan, never from the development venv.
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", lambda_runtime.__file__, str(child.fileno()), json.dumps({"layers": layers})],
                pass_fds=[child.fileno()], env=clean_environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True,
            )
            threading.Thread(target=self._keep_errors, daemon=True).start()
        else:
            parent.request({"kind": "zygote", "layers": layers}, child)
        child.close()
        threading.Thread(target=self._wait_ready, daemon=True).start()

    def _wait_ready(self) -> None:
        if self._control.recv(16) == b"ready":
            self._ready.set()

    def _keep_errors(self) -> None:
        for line in self.process.stderr:
            self._errors = (self._errors + [line.rstrip()])[-20:]

    def request(self, spec: dict, end: socket.socket) -> None:
        if not self._ready.wait(timeout=180):
            raise RuntimeError("the Lambda zygote did not start: " + " / ".join(self._errors[-5:]))
        payload = json.dumps(spec).encode()
        with self._lock:
            socket.send_fds(self._control, [struct.pack("!I", len(payload)) + payload], [end.fileno()])

    def spawn(self, environment: dict[str, str], paths: list[str], handler: str) -> Connection:
        """A new execution environment; the connection's first message is ("hello", pid)."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.request({"kind": "environment", "environment": environment, "paths": paths, "handler": handler}, theirs)
        theirs.close()
        return Connection(mine.detach())

    def stop(self) -> None:
        self._control.close()  # a forked zygote ends when its control socket closes
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Zygotes:
    """One zygote per list of layers with libraries, each forked from the one of its first layers."""

    def __init__(self, layer_paths: Callable[[str, Path], list[str]]):
        self._layer_paths = layer_paths
        self._by_layers: dict[tuple[str, ...], Zygote] = {}
        self._lock = threading.Lock()

    def for_layers(self, layers: list[tuple[str, Path]]) -> Zygote:
        """The zygote of these layers (those with installed requirements count; the others are only paths)."""
        key = tuple(layer_id for layer_id, source in layers if len(self._layer_paths(layer_id, source)) > 1)
        with self._lock:
            return self._zygote(key, dict(layers))

    def _zygote(self, key: tuple[str, ...], sources: dict[str, Path]) -> Zygote:
        if key not in self._by_layers:
            paths = [self._layer_paths(layer_id, sources[layer_id]) for layer_id in key]
            if len(key) <= 1:
                self._by_layers[key] = Zygote(paths)
            else:
                self._by_layers[key] = Zygote(paths[-1:], parent=self._zygote(key[:-1], sources))
        return self._by_layers[key]

    def stop(self) -> None:
        for zygote in reversed(list(self._by_layers.values())):
            zygote.stop()


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class FunctionWorker:
    """One execution environment of a function."""

    def __init__(self, spec: FunctionSpec, aws_env: dict[str, str], zygote: Zygote, paths: list[str],
                 on_log: Callable[[str, str], None] | None = None):
        self.spec, self._aws_env, self._zygote, self._paths = spec, aws_env, zygote, paths
        self._on_log = on_log or (lambda name, line: None)
        self._lock = threading.RLock()  # stop() may come from the invoking thread or from the cloud's shutdown
        self._conn: Connection | None = None
        self.pid: int | None = None
        self._ready = False
        self.out_of_memory = False
        self.peak_bytes = 0
        self._running = threading.Event()  # set while the environment imports its handler or serves an invocation

    def environment(self) -> dict[str, str]:
        env = clean_environment()
        env.update(self._aws_env)
        env.update(self.spec.environment)
        env.update({
            "_HANDLER": self.spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "LAMBDA_TASK_ROOT": str(self.spec.code_dir),
        })
        return env

    def start(self) -> None:
        """Fork the environment; it imports the handler in the background and is waited for at the first invoke."""
        self._ready, self.out_of_memory, self.pid = False, False, None
        self._running.set()
        self._conn = self._zygote.spawn(self.environment(), self._paths, self.spec.handler)

    def _watch_memory(self, pid: int) -> None:
        """Lambda's memory limit: past MemorySize the environment is killed. Watched while the environment runs (its
        init, then each invocation): between invocations Lambda freezes it, and its memory cannot grow."""
        limit = self.spec.memory_mb * 1024 * 1024
        while True:
            self._running.wait()
            try:
                used = resident_bytes(pid)
            except (FileNotFoundError, ProcessLookupError, OSError):
                return
            self.peak_bytes = max(self.peak_bytes, used)
            if used > limit:
                self.out_of_memory = True
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(MEMORY_CHECK_SECONDS)

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
            elif kind == "hello":
                self.pid = payload
                threading.Thread(target=self._watch_memory, args=(payload,), daemon=True).start()
            else:
                return kind, payload

    def _wait_ready(self) -> dict | None:
        """Wait for the handler import to finish; the init error if it failed."""
        message = self._receive(timeout=120)
        if message is None or message[0] != "ready":
            error = message[1] if message else self._ended("during init")
            self.stop()
            return error
        self._ready = True
        self._running.clear()
        return None

    def _ended(self, when: str) -> dict:
        if self.out_of_memory:
            return {"errorType": "Runtime.OutOfMemory",
                    "errorMessage": f"Runtime exited with error: signal: killed (memory used past the function's {self.spec.memory_mb} MB {when})"}
        return {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited without providing a reason ({when})"}

    def invoke(self, event: dict) -> InvocationResult:
        with self._lock:
            if self._conn is None:
                self.start()
            if not self._ready and (init_error := self._wait_ready()):
                return InvocationResult(False, error_type=init_error["errorType"], error=init_error["errorMessage"])
            started, sent_at = time.perf_counter(), time.time()
            self._running.set()
            self._conn.send((event, self.spec.timeout))
            message = self._receive(timeout=self.spec.timeout)
            seconds = time.perf_counter() - started
            self._running.clear()
            if message is None:
                # Out of memory, crashed or timed out: like Lambda, the environment is discarded and the next call starts a new one.
                timed_out = seconds >= self.spec.timeout and not self.out_of_memory
                error = ({"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {self.spec.timeout:.2f} seconds"}
                         if timed_out else self._ended("during the invocation"))
                self.stop()
                return InvocationResult(False, error_type=error["errorType"], error=error["errorMessage"], seconds=seconds, sent_at=sent_at)
        answer = message[1]
        return InvocationResult(answer["ok"], answer.get("result"), answer.get("error_type", ""), answer.get("error", ""), seconds, sent_at,
                                answer.get("max_memory_used", 0))

    def stop(self) -> None:
        pid = self.pid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)  # without the lock: it also ends an invocation waiting on this process
            except ProcessLookupError:
                pass
        self._running.set()  # a watcher of the ended process reads nothing more and returns
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._ready, self.pid = None, False, None


class FunctionPool:
    """Up to ``size`` execution environments of one function, created on demand and reused warm, as on Lambda."""

    def __init__(self, spec: FunctionSpec, aws_env: dict[str, str], size: int, zygote: Zygote, paths: list[str],
                 on_log: Callable[[str, str], None] | None = None):
        self.spec, self._aws_env, self._zygote, self._paths, self._on_log = spec, aws_env, zygote, paths, on_log
        self._slots = threading.Semaphore(max(1, size))
        self._idle: queue.SimpleQueue[FunctionWorker] = queue.SimpleQueue()
        self.workers: list[FunctionWorker] = []
        self._lock = threading.Lock()

    def _new_worker(self) -> FunctionWorker:
        worker = FunctionWorker(self.spec, self._aws_env, self._zygote, self._paths, on_log=self._on_log)
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

    def peak_bytes(self) -> int:
        return max((w.peak_bytes for w in self.workers), default=0)

    def stop(self) -> None:
        with self._lock:
            for worker in self.workers:
                worker.stop()
