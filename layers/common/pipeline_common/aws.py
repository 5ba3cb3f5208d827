"""boto3 clients with the retry policy the pipeline relies on.

Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL_<SERVICE>``), which is
how the offline cloud stands in for AWS without the handlers knowing.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Throttling from SageMaker and S3 is retried with backoff instead of failing the invocation.
RETRY_CONFIG = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=60)


@functools.cache
def client(service: str):
    return boto3.client(service, config=RETRY_CONFIG)


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def already_exists(err: ClientError) -> bool:
    """SageMaker's answer to a Create* of a name in use (ResourceInUse for jobs, a ValidationException for models)."""
    message = err.response.get("Error", {}).get("Message", "").lower()
    return error_code(err) == "ResourceInUse" or "already exist" in message


def create_once(call, **request) -> bool:
    """Create a resource named after its run; an existing one of that name counts as success (False: it was there)."""
    try:
        call(**request)
    except ClientError as err:
        if already_exists(err):
            return False
        raise
    return True


def get_bytes(bucket: str, key: str) -> bytes:
    return client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def get_json(bucket: str, key: str) -> Any:
    return json.loads(get_bytes(bucket, key))


def get_json_or_none(bucket: str, key: str) -> Any:
    try:
        return get_json(bucket, key)
    except ClientError as err:
        if error_code(err) in ("NoSuchKey", "404"):
            return None
        raise


def put_bytes(bucket: str, key: str, body: bytes, content_type: str = "text/csv") -> None:
    client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def put_json(bucket: str, key: str, value: Any) -> None:
    put_bytes(bucket, key, json.dumps(value, indent=2, sort_keys=True, default=str).encode(), "application/json")
