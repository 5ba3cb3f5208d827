#!/usr/bin/env python3
"""A Docker API socket for `sam local invoke` that puts Lambda containers on the host's network.

SAM CLI accepts `--docker-network host` but does nothing with it (aws-sam-cli issue #4236): the container
stays on Docker's bridge, where 127.0.0.1 is the container's own loopback, so a function cannot reach the
host's 127.0.0.1 services (the offline cloud's moto and SageMaker servers). Point SAM at this socket
(DOCKER_HOST=unix://SOCKET) and each container SAM creates for a Lambda function is created with
NetworkMode=host instead; its emulator (aws-lambda-rie) then listens on the host port SAM would have
published (127.0.0.1:PORT, where SAM sends the invocation) and serves the Runtime API on a free loopback
port, so several invocations can run side by side. Every other request passes through unchanged.

    python3 docker_hostnet_proxy.py --socket /tmp/mlpipe-docker-hostnet.sock &
    DOCKER_HOST=unix:///tmp/mlpipe-docker-hostnet.sock sam local invoke Fn --skip-pull-image ...

Only the standard library; stops on SIGTERM/SIGINT, or after --idle seconds without a connection.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import time

CREATE = re.compile(rb"^POST (/v[0-9.]+)?/containers/create(\?| )")
RIE = "aws-lambda-rie"
RIE_PORT = "8080/tcp"


def log(msg: str) -> None:
    print(f"docker-hostnet-proxy: {msg}", file=sys.stderr, flush=True)


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rewrite_create(body: bytes) -> bytes:
    """A SAM Lambda container on the host network; anything else unchanged."""
    try:
        cfg = json.loads(body)
    except ValueError:
        return body
    entrypoint = cfg.get("Entrypoint") or []
    labels = cfg.get("Labels") or {}
    if not (entrypoint and str(entrypoint[0]).endswith(RIE) and labels.get("sam.cli.container.type") == "lambda"):
        return body
    host = cfg.setdefault("HostConfig", {})
    if host.get("NetworkMode") not in (None, "", "default", "bridge"):
        return body  # a network chosen some other way: leave it
    binding = ((host.get("PortBindings") or {}).get(RIE_PORT) or [{}])[0]
    port = binding.get("HostPort")
    if not port:
        return body
    ip = binding.get("HostIp") or "127.0.0.1"
    if ip == "0.0.0.0":
        ip = "127.0.0.1"
    host["NetworkMode"] = "host"
    host.pop("PortBindings", None)  # published ports mean nothing on the host network
    cfg.pop("ExposedPorts", None)
    cfg.pop("Hostname", None)
    runtime_api = free_loopback_port()
    cfg["Entrypoint"] = list(entrypoint) + [
        "--runtime-interface-emulator-address", f"{ip}:{port}",
        "--runtime-api-address", f"127.0.0.1:{runtime_api}",
    ]
    log(f"Lambda container on the host network: emulator {ip}:{port}, Runtime API 127.0.0.1:{runtime_api}")
    return json.dumps(cfg).encode()


def pipe(src: socket.socket, dst: socket.socket, first: bytes = b"") -> None:
    try:
        if first:
            dst.sendall(first)
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve_client(client: socket.socket, backend_path: str) -> None:
    backend = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        backend.connect(backend_path)
    except OSError as e:
        log(f"cannot reach the Docker daemon at {backend_path}: {e}")
        client.close()
        return
    answers = threading.Thread(target=pipe, args=(backend, client), daemon=True)
    answers.start()
    buf = b""
    try:
        while True:
            # One request head from the client.
            while b"\r\n\r\n" not in buf:
                data = client.recv(65536)
                if not data:
                    if buf:
                        backend.sendall(buf)
                    backend.shutdown(socket.SHUT_WR)
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                # A streamed body (not used by SAM's requests): no more rewriting on this connection.
                pipe(client, backend, head + b"\r\n\r\n" + buf)
                return
            length = int(headers.get(b"content-length", b"0") or 0)
            if not CREATE.match(lines[0]):
                # Passed through as it arrives: a build context can be hundreds of MB (sam local invoke sends
                # every layer), which must not be gathered in memory.
                backend.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + buf[:length])
                remaining, buf = length - len(buf[:length]), buf[length:]
                while remaining > 0:
                    data = client.recv(min(remaining, 1 << 20))
                    if not data:
                        break
                    backend.sendall(data)
                    remaining -= len(data)
            else:
                chunks, have = [buf], len(buf)
                while have < length:
                    data = client.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
                    have += len(data)
                buf = b"".join(chunks)
                body, buf = buf[:length], buf[length:]
                new = rewrite_create(body) if body else body
                if new is not body:
                    body = new
                    lines = [lines[0]] + [
                        line for line in lines[1:] if not line.lower().startswith(b"content-length:")
                    ] + [b"Content-Length: " + str(len(body)).encode()]
                backend.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            if b"upgrade" in headers.get(b"connection", b"").lower() or b"upgrade" in headers:
                # attach: the connection becomes a raw stream both ways.
                pipe(client, backend, buf)
                return
    except OSError:
        pass
    finally:
        answers.join(timeout=600)
        client.close()
        backend.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket", required=True, help="the Unix socket to serve (DOCKER_HOST=unix://SOCKET)")
    ap.add_argument("--backend", default="/var/run/docker.sock", help="the Docker daemon's socket")
    ap.add_argument("--idle", type=float, default=0, help="stop after this many seconds without a connection (0: never)")
    args = ap.parse_args()

    if os.path.exists(args.socket):
        os.unlink(args.socket)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(args.socket)
    os.chmod(args.socket, 0o660)
    server.listen(64)
    server.settimeout(1.0)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log(f"serving {args.socket} -> {args.backend}")
    last = time.monotonic()
    try:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except socket.timeout:
                if args.idle and time.monotonic() - last > args.idle:
                    log(f"idle for {args.idle:.0f}s: stopping")
                    break
                continue
            last = time.monotonic()
            threading.Thread(target=serve_client, args=(client, args.backend), daemon=True).start()
    finally:
        server.close()
        if os.path.exists(args.socket):
            os.unlink(args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
