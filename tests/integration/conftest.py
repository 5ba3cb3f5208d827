"""Handlers on moto, invoked with the sample events from events/ and their template environment."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from mlpipe.offline.template import load_stack
from pipeline_common import aws
from tests.conftest import EVENTS

BUCKET = "mlpipe-data-example"  # the bucket named in the sample events


class Context:
    function_name = "offline-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:111122223333:function:offline-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


def sample_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="session")
def stack():
    return load_stack()


@pytest.fixture
def cloud(monkeypatch):
    """A moto account with the sample events' bucket; the handlers' cached clients are rebuilt inside it."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        aws.client.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield s3
    aws.client.cache_clear()


@pytest.fixture
def function_env(monkeypatch, stack):
    """Set a function's environment exactly as the template resolves it, on the sample events' bucket."""

    def apply(logical_id: str) -> dict:
        env = dict(stack.functions[logical_id].environment)
        env["BUCKET_NAME"] = BUCKET
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    return apply
