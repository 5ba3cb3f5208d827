"""The offline cloud: the template's stack on moto's server, an offline SageMaker, and warm function workers.

Routing: moto delivers S3 ``Object Created`` events to EventBridge (the bucket has
``EventBridgeConfiguration``) and the offline SageMaker puts job state changes there; each
EventBridgeRule of the template becomes a moto rule targeting one SQS queue per function;
a dispatcher per function takes events from its queue and invokes the function's warm
worker with the event, as Lambda's asynchronous invocation would, retrying failures up to
the function's MaximumRetryAttempts.
"""

from __future__ import annotations

import importlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import logging

import boto3

from .sagemaker import Faults, OfflineSageMaker
from .template import DEFAULT_TEMPLATE, Stack, load_stack
from .workers import FunctionWorker, InvocationResult

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline", "AWS_SESSION_TOKEN": "offline"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Invocation:
    function: str
    event: dict
    attempt: int
    result: InvocationResult
    finished_at: float = field(default_factory=time.time)


@dataclass
class Options:
    duplicate_events: bool = False
    fail_training: str | None = None
    fail_transform: str | None = None
    throttle: int = 0


class OfflineCloud:
    def __init__(
        self,
        template: Path = DEFAULT_TEMPLATE,
        options: Options | None = None,
        parameter_overrides: dict[str, str] | None = None,
        on_invocation: Callable[[Invocation], None] | None = None,
        on_log: Callable[[str, str], None] | None = None,
        region: str = "us-east-1",
    ):
        self.options = options or Options()
        self.stack: Stack = load_stack(template, region=region, parameter_overrides=parameter_overrides)
        self.region = region
        self.invocations: list[Invocation] = []
        self.logs: list[tuple[str, str]] = []
        self._on_invocation = on_invocation or (lambda inv: None)
        self._on_log = on_log or (lambda fn, line: None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._busy = 0
        self._threads: list[threading.Thread] = []
        self.workers: dict[str, FunctionWorker] = {}
        self.queues: dict[str, str] = {}
        self._moto = None
        self.sagemaker: OfflineSageMaker | None = None
        self.endpoints: dict[str, str] = {}

    # -- configuration that a client needs to talk to this cloud ---------------------------
    def aws_environment(self) -> dict[str, str]:
        """What differs between offline and AWS: endpoints, region and dummy credentials."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoints["moto"],
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.endpoints["moto"],
            "AWS_ENDPOINT_URL_SQS": self.endpoints["moto"],
            "AWS_ENDPOINT_URL_SNS": self.endpoints["moto"],
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoints["moto"],
            "AWS_ENDPOINT_URL_CLOUDFORMATION": self.endpoints["moto"],
            "AWS_ENDPOINT_URL_SAGEMAKER": self.endpoints["sagemaker"],
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **CREDENTIALS,
        }

    def client(self, service: str):
        endpoint = self.endpoints["sagemaker" if service == "sagemaker" else "moto"]
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=self.region,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    @property
    def bucket(self) -> str:
        (bucket_id,) = self.stack.resources_of_type("AWS::S3::Bucket")
        return self.stack.name_of(bucket_id)

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> "OfflineCloud":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log is noise here
        # The workers need the endpoints when they start; reserving the ports first lets them
        # import their code while this process imports moto and xgboost.
        moto_port, sagemaker_port = _free_port(), _free_port()
        self.endpoints = {"moto": f"http://127.0.0.1:{moto_port}", "sagemaker": f"http://127.0.0.1:{sagemaker_port}"}
        aws_env = self.aws_environment()
        for lid, spec in self.stack.functions.items():
            worker = FunctionWorker(spec, aws_env, on_log=self._log)
            worker.start()
            self.workers[lid] = worker

        from moto.server import ThreadedMotoServer  # imported here: it is the slowest import of the CLI

        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._moto.start()
        faults = Faults(self.options.fail_training, self.options.fail_transform, self.options.throttle)
        self.sagemaker = OfflineSageMaker(self.client("s3"), self.client("events"), self.region, faults)
        self.sagemaker.start(sagemaker_port)
        self._create_resources()
        # Warm the trainer while the workers import their code; each dispatcher waits for its own
        # worker at its first event, so an upload can start the chain before the last function is warm.
        threading.Thread(target=importlib.import_module, args=("xgboost",), daemon=True).start()
        for lid in self.stack.functions:
            thread = threading.Thread(target=self._dispatch, args=(lid,), name=f"dispatch-{lid}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _create_resources(self) -> None:
        s3, events, sqs = self.client("s3"), self.client("events"), self.client("sqs")
        for bucket_id in self.stack.resources_of_type("AWS::S3::Bucket"):
            props = self.stack.resources[bucket_id].get("Properties", {})
            name = self.stack.name_of(bucket_id)
            s3.create_bucket(Bucket=name)
            if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            if ((props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
                s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})
        for lid, spec in self.stack.functions.items():
            url = sqs.create_queue(QueueName=f"{spec.name}-events", Attributes={"VisibilityTimeout": str(spec.timeout + 5)})["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.queues[lid] = url
            for route in spec.routes:
                events.put_rule(Name=route.rule_name, EventPattern=json.dumps(route.pattern), State="ENABLED")
                events.put_targets(Rule=route.rule_name, Targets=[{"Id": lid, "Arn": arn}])

    def stop(self) -> None:
        self._stop.set()
        # Dispatchers may sit in a one-second long poll: they are daemons and end at their next look at _stop.
        for worker in self.workers.values():
            worker.stop()
        if self.sagemaker:
            self.sagemaker.stop()
        if self._moto:
            self._moto.stop()

    def __enter__(self) -> "OfflineCloud":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- event delivery -------------------------------------------------------------------
    def _log(self, function: str, line: str) -> None:
        with self._lock:
            self.logs.append((function, line))
        self._on_log(function, line)

    def _dispatch(self, lid: str) -> None:
        sqs = self.client("sqs")
        worker, spec = self.workers[lid], self.stack.functions[lid]
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=self.queues[lid], MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["ApproximateReceiveCount"]
                ).get("Messages", [])
            except Exception:  # noqa: BLE001 - the endpoint goes away when the cloud stops
                if self._stop.is_set():
                    return
                raise
            for message in messages:
                with self._lock:
                    self._busy += 1
                try:
                    event = json.loads(message["Body"])
                    deliveries = 2 if self.options.duplicate_events else 1
                    for _ in range(deliveries):
                        self._invoke_with_retries(lid, worker, spec.max_retries, event)
                    sqs.delete_message(QueueUrl=self.queues[lid], ReceiptHandle=message["ReceiptHandle"])
                finally:
                    with self._lock:
                        self._busy -= 1

    def _invoke_with_retries(self, lid: str, worker: FunctionWorker, max_retries: int, event: dict) -> None:
        for attempt in range(1, max_retries + 2):
            result = worker.invoke(event)
            invocation = Invocation(lid, event, attempt, result)
            with self._lock:
                self.invocations.append(invocation)
            self._on_invocation(invocation)
            if result.ok:
                return
            time.sleep(min(0.2 * attempt, 1.0))  # Lambda waits a minute, then two; offline keeps the order, not the wait

    # -- helpers for callers --------------------------------------------------------------
    def queues_empty(self) -> bool:
        sqs = self.client("sqs")
        for url in self.queues.values():
            attrs = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            if int(attrs["ApproximateNumberOfMessages"]) or int(attrs["ApproximateNumberOfMessagesNotVisible"]):
                return False
        return True

    def is_idle(self) -> bool:
        """No event queued or being handled and no SageMaker job running."""
        jobs_running = self.sagemaker.busy()
        return not jobs_running and self._busy == 0 and self.queues_empty()

    def settle(self, timeout: float = 120, quiet: float = 0.3) -> None:
        """Wait until the cloud has been idle for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            if self.is_idle():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet:
                    return
            else:
                quiet_since = None
            time.sleep(0.05)
        raise TimeoutError(f"the offline cloud did not settle within {timeout} s")

    def last_failure(self) -> Invocation | None:
        with self._lock:
            failed = [inv for inv in self.invocations if not inv.result.ok]
        return failed[-1] if failed else None

    def upload(self, path: Path, key: str | None = None) -> dict:
        key = key or f"raw/{Path(path).name}"
        return self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=Path(path).read_bytes())
