"""mlpipe predict: ask the dataset's real-time endpoint through the stack's HTTP entry (a function URL, IAM auth)."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from .display import say
from .place import place


def signed_post(url: str, body: bytes, credentials, region: str) -> tuple[int, bytes]:
    """POST with a Signature Version 4 for service lambda, as a function URL with AuthType AWS_IAM requires."""
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "lambda", region).add_auth(request)
    prepared = urllib.request.Request(url, data=body, method="POST", headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def rows_of(text: str) -> list[dict]:
    """ROWS_JSON: a JSON list of row objects (or one object), inline or @path/to/file.json."""
    document = json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)
    return [document] if isinstance(document, dict) else document


def cmd_predict(args: argparse.Namespace) -> int:
    try:
        rows = rows_of(args.rows)
    except (OSError, json.JSONDecodeError) as err:
        say(f"mlpipe: ROWS_JSON is not a JSON list of rows: {err}")
        return 2
    with place(args) as target:
        url = target.outputs.get("PredictUrl")
        if not url:
            say("mlpipe: this stack has no HTTP entry for predictions: deploy it with EnableEndpoint=true "
                "(offline: mlpipe run ... --param EnableEndpoint=true), then approve a version")
            return 2
        if target.cloud is not None:
            from botocore.credentials import Credentials

            from .offline.endpoints import CREDENTIALS

            credentials, region = Credentials(*(CREDENTIALS[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                                          "AWS_SESSION_TOKEN"))), target.cloud.region
        else:
            credentials, region = target.session.get_credentials().get_frozen_credentials(), target.session.region_name
        body = json.dumps({"dataset": args.dataset or target.default_dataset, "rows": rows}).encode()
        status, answer = signed_post(url, body, credentials, region)
    print(json.dumps(json.loads(answer), indent=2) if answer.strip().startswith(b"{") else answer.decode(), flush=True)
    return 0 if status == 200 else 1
