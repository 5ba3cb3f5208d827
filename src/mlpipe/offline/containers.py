"""The SageMaker images the offline SageMaker runs, each as processes with that image's own packages.

An image is a requirements file in ``images/`` (the xgboost release of the container version, and
numpy, pandas and scipy near the image's own). `make venv` installs each into
``<venv>/sagemaker-images/<image>``; a job runs in a process started with ``-I -S`` and only that
folder on its path: the container's xgboost and nothing of the development venv (no scikit-learn,
which xgboost would otherwise import at start, a second and more). Nothing is installed at run time.
"""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

from . import xgboost_container
from .packages import is_installed, plan_line
from .workers import clean_environment

IMAGES = Path(__file__).resolve().parent / "images"
INSTALL_HOME = Path(sys.prefix) / "sagemaker-images"
AlgorithmError = xgboost_container.AlgorithmError


def image_name(image_uri: str) -> str:
    """sagemaker-xgboost-3.0-5 from <account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:3.0-5."""
    repository, _, tag = image_uri.rpartition("/")[2].partition(":")
    if repository != "sagemaker-xgboost":
        raise AlgorithmError(f"the offline SageMaker runs only the built-in XGBoost image, not {image_uri}")
    return f"{repository}-{tag}"


def known_images() -> list[str]:
    return sorted(p.stem for p in IMAGES.glob("*.txt"))


def requirements(image: str) -> Path:
    path = IMAGES / f"{image}.txt"
    if not path.is_file():
        raise AlgorithmError(f"no offline container for {image}; known: {', '.join(known_images())}")
    return path


def xgboost_release(image: str) -> str:
    for line in requirements(image).read_text().splitlines():
        if line.startswith(("xgboost==", "xgboost-cpu==")):
            return line.split("==", 1)[1].strip()
    raise AlgorithmError(f"{requirements(image)} names no xgboost release")


def site_dir(image: str) -> Path:
    target = INSTALL_HOME / image
    if not is_installed(target, requirements(image)):
        raise AlgorithmError(f"the packages of {image} are not installed in {target} (or have changed): run `make venv`")
    return target


def pending() -> list[str]:
    """The image installs `make venv` still owes (printed by ``python -m mlpipe.offline.containers``)."""
    return [plan_line(INSTALL_HOME / image, requirements(image)) for image in known_images()
            if not is_installed(INSTALL_HOME / image, requirements(image))]


class ContainerProcess:
    """One process of an image: it imports xgboost at start, then runs job steps one at a time."""

    def __init__(self, image: str):
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.image = image
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", xgboost_container.__file__, str(theirs.fileno()), str(site_dir(image))],
            pass_fds=[theirs.fileno()], env=clean_environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        theirs.close()
        self._conn = Connection(mine.detach())
        self._ready = False

    def call(self, **request) -> dict:
        if not self._ready:
            message = self._receive()
            if message[0] != "ready":
                raise AlgorithmError(f"the {self.image} container did not start: {message[1]}")
            self._ready = True
        self._conn.send(request)
        kind, answer = self._receive()
        if kind == "error":
            raise AlgorithmError(answer.removeprefix("AlgorithmError: "))
        return answer

    def _receive(self) -> tuple:
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            code = self.process.wait()
            errors = self.process.stderr.read()[-1500:] if self.process.stderr else ""
            reason = "out of memory" if code == -9 else f"exit code {code}"
            raise AlgorithmError(f"the {self.image} container's process ended ({reason}): {errors.strip()}") from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """End the process, then close the connection: a thread waiting for its answer gets EOF and ends too."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._conn.close()


# What xgboost's collective says on a host whose peer failed ("Allreduce failed" in 1.7's rabit, "Ring allreduce small
# failed" in 3.0): a consequence, not the job's reason when the peer's own failure is known.
PEER_FAILURE = re.compile(r"\b(allreduce|allgather|broadcast)\b.*\bfailed\b", re.IGNORECASE)
PEER_GRACE_SECONDS = 2.0


def call_all(processes: list[ContainerProcess], requests: list[dict]) -> list[dict]:
    """Each process's request at the same time, as a job's instances run. When one fails, the others get a moment to
    end (a host whose peer failed fails too, sometimes first), then those still working are ended: they could wait
    for the failed one forever. The failure raised is the first, in time, that is a host's own rather than a peer's."""
    ended: list[Future] = []  # in the order the requests ended
    with ThreadPoolExecutor(max_workers=len(processes)) as pool:
        futures = [pool.submit(process.call, **request) for process, request in zip(processes, requests)]
        for future in futures:
            future.add_done_callback(ended.append)
        done, running = wait(futures, return_when=FIRST_EXCEPTION)
        if running:  # the wait ended early: a request failed
            done, running = wait(futures, timeout=PEER_GRACE_SECONDS)
        for process, future in zip(processes, futures):
            if future in running:
                process.stop()
    failed = [future.exception() for future in ended if future in done and future.exception() is not None]
    if failed:
        own = [err for err in failed if not PEER_FAILURE.search(str(err))]
        raise (own or failed)[0]
    return [future.result() for future in futures]


class Containers:
    """Warm processes per image, reused between jobs, started on demand (one per job running at once)."""

    def __init__(self):
        self._idle: dict[str, queue.SimpleQueue[ContainerProcess]] = {}
        self._all: list[ContainerProcess] = []
        self._lock = threading.Lock()

    def prewarm(self, image: str) -> None:
        self._put(self._start(image))

    def _start(self, image: str) -> ContainerProcess:
        process = ContainerProcess(image)
        with self._lock:
            self._all.append(process)
        return process

    def _put(self, process: ContainerProcess) -> None:
        with self._lock:
            self._idle.setdefault(process.image, queue.SimpleQueue()).put(process)

    def _take(self, image: str) -> ContainerProcess:
        with self._lock:
            idle = self._idle.setdefault(image, queue.SimpleQueue())
        try:
            return idle.get_nowait()
        except queue.Empty:
            return self._start(image)

    def call(self, image: str, **request) -> dict:
        process = self._take(image)
        try:
            return process.call(**request)
        finally:
            if process.alive():
                self._put(process)

    @contextmanager
    def instances(self, image: str, count: int) -> Iterator[list[ContainerProcess]]:
        """A job's instances: count processes of the image, its own while it runs, warm again after it.

        When a job of several instances fails, every process of it is ended: the others may wait for
        the failed one forever (a tracker, a collective group) and none of them is left running.
        """
        processes = [self._take(image) for _ in range(count)]
        try:
            yield processes
        except BaseException:
            if count > 1:
                for process in processes:
                    process.stop()
            raise
        finally:
            for process in processes:
                if process.alive():
                    self._put(process)

    def stop(self) -> None:
        with self._lock:
            for process in self._all:
                process.stop()


if __name__ == "__main__":
    print("\n".join(pending()))
