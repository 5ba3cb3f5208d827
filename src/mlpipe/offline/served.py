"""A running `mlpipe cloud`, found and used by the account's later commands instead of a second cloud.

While `mlpipe cloud` runs it publishes ``cloud.json`` in MLPIPE_HOME: its pid, its stack, the endpoints, and a
control address that answers whether the cloud is idle and keeps the account on disk when asked. `mlpipe run`,
`score`, `models`, `approve`, `reject` and `predict` then act on that cloud, as commands act on a deployed
stack: a run skips the cloud's start (3-4 s) and meets warm execution environments. Two clouds on one account
would each keep their own copy of it, and the last to stop would win; so a second one is refused.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..home import CLOUD_RECORD as RECORD
from .endpoints import CloudAccess
from .template import Stack

SHARED_SETTLE = 30.0  # seconds a command waits for a running cloud to be idle before keeping the account


class CloudServer:
    """The control address of a running cloud: ``GET /idle`` and ``POST /persist``, on the loopback interface only."""

    def __init__(self, cloud):
        self.cloud = cloud
        self._persisting = threading.Lock()  # two commands ending at once keep the account one after the other
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/idle":
                    return self._answer(404, {"error": f"no such path: {self.path}"})
                self._answer(200, {"idle": control.cloud.is_idle()})

            def do_POST(self):
                if self.path != "/persist":
                    return self._answer(404, {"error": f"no such path: {self.path}"})
                with control._persisting:
                    self._answer(200, {"written": control.cloud.persist()})

            def _answer(self, code: int, document: dict) -> None:
                body = json.dumps(document).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # the cloud's terminal shows the pipeline's logs, not these
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def publish(self, home: Path) -> Path:
        """Write the record other commands find the cloud by (atomically: a reader never sees half of it)."""
        record = {"pid": os.getpid(), "control": self.address, "region": self.cloud.region, "bucket": self.cloud.bucket,
                  "endpoints": self.cloud.endpoints, "stack": json.loads(self.cloud.stack.to_json()),
                  "function_urls": self.cloud.stack.function_urls}  # the addresses its Outputs name (PredictUrl)
        home.mkdir(parents=True, exist_ok=True)
        partial = home / f".{RECORD}.{os.getpid()}"
        partial.write_text(json.dumps(record, indent=2))
        partial.replace(home / RECORD)
        return home / RECORD

    def withdraw(self, home: Path) -> None:
        path = home / RECORD
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
        self._server.shutdown()


class ServedCloud(CloudAccess):
    """What a command needs of the offline cloud, when another process runs it: clients, stack, idle, persist."""

    served = True

    def __init__(self, record: dict):
        self.pid: int = record["pid"]
        self.control: str = record["control"]
        self.region: str = record["region"]
        self.bucket: str = record["bucket"]
        self.endpoints: dict[str, str] = record["endpoints"]
        self.stack: Stack = Stack.from_json(json.dumps(record["stack"]))
        self.stack.function_urls.update(record.get("function_urls", {}))
        self._clients: dict = {}
        self._lock = threading.Lock()

    @property
    def job_prefix(self) -> str:
        return self.stack.parameters["JobNamePrefix"]

    def is_idle(self) -> bool:
        return _call(f"{self.control}/idle")["idle"]

    def settle(self, timeout: float = 120, quiet: float = 0.3) -> None:
        """Wait for the cloud to be idle, but not for long: on a shared cloud the work still going on may be another
        command's, and what is not kept now is kept by the next command or when the cloud stops."""
        try:
            super().settle(min(timeout, SHARED_SETTLE), quiet)
        except TimeoutError:
            print(f"the offline cloud is still busy after {SHARED_SETTLE:.0f} s (other work on it?): keeping what is done so far",
                  file=sys.stderr, flush=True)

    def persist(self) -> list[str]:
        """Ask the cloud to keep what it did in the account; the keys it wrote (this command's, and any other's since)."""
        return _call(f"{self.control}/persist", method="POST")["written"]

    def __enter__(self) -> "ServedCloud":
        return self

    def __exit__(self, *exc) -> None:
        pass  # the cloud is `mlpipe cloud`'s: it goes on running


def _call(url: str, method: str = "GET", timeout: float = 120) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"" if method == "POST" else None),
                                timeout=timeout) as answer:
        return json.loads(answer.read())


def find(home: Path) -> ServedCloud | None:
    """The cloud `mlpipe cloud` runs for this account, if it runs and answers; None otherwise (a record left by a
    cloud that was killed is ignored)."""
    try:
        record = json.loads((home / RECORD).read_text())
        os.kill(record["pid"], 0)
        _call(f"{record['control']}/idle", timeout=5)
    except (OSError, ValueError, KeyError):
        return None
    return ServedCloud(record)
