"""moto's server in a process of its own: its state is per process, so each cloud gets a fresh account.

This module needs the standard library only, so a command can start the server first thing, before it imports
boto3 and the cloud's code (half a second or more): moto imports its own libraries meanwhile, on the other core.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoProcess:
    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlpipe.offline.moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def wait_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited with code {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"moto's server did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        """Its state is in memory and goes with it; SIGTERM would make werkzeug linger half a second."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
