"""Lambda function URLs offline: an HTTP server per function with a URL, invoking it with the payload format 2.0 event.

With AuthType AWS_IAM a request must carry a valid Signature Version 4 for service ``lambda``,
checked against the offline credentials, as AWS checks it against the caller's; anything else is
answered 403 Forbidden.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .workers import InvocationResult


def signature_is_valid(method: str, url: str, headers: dict[str, str], body: bytes, credentials: Credentials, region: str) -> bool:
    """Recompute the request's SigV4 signature (service lambda) and compare it with the one it carries."""
    authorization = headers.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or "x-amz-date" not in headers:
        return False
    fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
    if fields.get("Credential", "").split("/")[0] != credentials.access_key:
        return False
    signed = fields.get("SignedHeaders", "").split(";")
    request = AWSRequest(method=method, url=url, data=body, headers={name: headers[name] for name in signed if name in headers})
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(credentials, "lambda", region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return expected == fields.get("Signature")


def url_event(method: str, path: str, query: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict:
    """The event Lambda gives a function invoked through its URL (payload format version 2.0)."""
    text = body.decode("utf-8", errors="strict") if body else ""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers, "isBase64Encoded": False, "body": text,
        "requestContext": {
            "accountId": "anonymous", "apiId": "offline", "domainName": headers.get("host", ""), "domainPrefix": "offline",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()), "timeEpoch": int(time.time() * 1000),
        },
    }


def http_answer(result: InvocationResult) -> tuple[int, dict[str, str], bytes]:
    """The HTTP response of a function's answer: a dict with statusCode, or anything else as JSON with 200."""
    if not result.ok:
        return 502, {"content-type": "application/json"}, json.dumps({"Message": "Internal Server Error"}).encode()
    answer = result.result
    if isinstance(answer, dict) and "statusCode" in answer:
        body = answer.get("body") or ""
        data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
        return int(answer["statusCode"]), dict(answer.get("headers") or {}), data
    return 200, {"content-type": "application/json"}, json.dumps(answer).encode()


class FunctionUrl:
    def __init__(self, invoke: Callable[[dict], InvocationResult], auth_type: str, credentials: Credentials, region: str):
        self.invoke, self.auth_type, self.credentials, self.region = invoke, auth_type, credentials, region
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        url_of = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                path, _, query = self.path.partition("?")
                url = f"http://{headers.get('host', '127.0.0.1')}{self.path}"
                if url_of.auth_type == "AWS_IAM" and not signature_is_valid(self.command, url, headers, body, url_of.credentials,
                                                                           url_of.region):
                    self._send(403, {"content-type": "application/json"}, json.dumps({"Message": "Forbidden"}).encode())
                    return
                result = url_of.invoke(url_event(self.command, path, query, headers, body, self.client_address[0]))
                self._send(*http_answer(result))

            def _send(self, status: int, headers: dict, data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
