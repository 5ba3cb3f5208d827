"""Handlers on moto, invoked with the sample events from events/ and their template environment."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from mlpipe.offline.template import load_stack
from pipeline_common import idempotency
from tests.conftest import EVENTS

BUCKET = "mlpipe-data-example"  # the bucket named in the sample events


class Context:
    function_name = "offline-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:111122223333:function:offline-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def sample_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="session")
def stack():
    # EnableEndpoint: the stack with every function, the PredictFunction included
    return load_stack(parameter_overrides={"EnableEndpoint": "true"})


class Account:
    """The moto account a handler test runs in: the events' bucket, the idempotency table, the topic's inbox."""

    def __init__(self, stack):
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        table = stack.properties("IdempotencyTable")
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName=stack.name_of("IdempotencyTable"), KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"], BillingMode="PAY_PER_REQUEST")
        sns, self.sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name=stack.name_of("NotificationTopic"))["TopicArn"]
        self.inbox = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:123456789012:inbox",
                      Attributes={"RawMessageDelivery": "true"})

    def notifications(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def read_json(self, key: str) -> dict:
        return json.loads(self.read(key))

    def keys_under(self, prefix: str) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


@pytest.fixture
def account(monkeypatch, stack):
    """A moto account for one test; the handlers' cached clients are rebuilt inside it."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_ENDPOINT_URL_DYNAMODB",
                 "AWS_ENDPOINT_URL_SNS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        idempotency.reset()
        yield Account(stack)
    idempotency.reset()


@pytest.fixture
def cloud(account):
    return account.s3


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
