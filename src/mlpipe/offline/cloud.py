"""The offline cloud: the template's stack on moto's server, an offline SageMaker, and warm function workers.

Routing: moto delivers S3 ``Object Created`` events to EventBridge (the bucket has
``EventBridgeConfiguration``) and the offline SageMaker puts job state changes there; each
EventBridgeRule of the template becomes a moto rule targeting one SQS queue per function.
A dispatcher per function takes events from that queue and invokes the function as
Lambda's asynchronous invocation would: retries up to MaximumRetryAttempts, then the
on-failure destination. Functions with SQS events are polled like an event source mapping.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from botocore.credentials import Credentials

from .account import SavedAccount
from .containers import image_name
from .endpoints import CREDENTIALS, CloudAccess
from .function_urls import FunctionUrl
from .moto_process import MotoProcess, free_port
from .sagemaker import Faults, OfflineSageMaker
from .template import ACCOUNT_ID, DEFAULT_TEMPLATE, FunctionSpec, SqsSource, Stack, load_stack
from .packages import dependency_dir
from .s3_events import MultipartEchoes, as_aws_sends
from .workers import FunctionPool, InvocationResult, Zygotes

# SQS's longest long poll, as Lambda's pollers use: moto answers as soon as a message arrives, and an idle queue costs a
# request every 20 s instead of every second (ten queues polled each second took a tenth of a core of moto's CPU).
LONG_POLL_SECONDS = 20
# Lambda retries an asynchronous invocation after about 1 and 2 minutes; offline keeps the order and shortens the wait.
RETRY_DELAYS = (1.0, 2.0)


def layer_paths(layer_id: str, source: Path) -> list[str]:
    """A layer as a function sees it: its source folder and, when it has requirements, their installed folder."""
    installed = dependency_dir(layer_id, source)
    return [str(source)] + ([str(installed)] if installed else [])


def function_paths(spec: FunctionSpec) -> list[str]:
    """The function's sys.path: its code (and its own requirements), then its layers, as Lambda orders them."""
    own = dependency_dir(spec.logical_id, spec.code_dir)
    paths = [str(spec.code_dir)] + ([str(own)] if own else [])
    for layer_id, source in zip(spec.layers, spec.layer_dirs):
        paths += layer_paths(layer_id, source)
    return paths


@dataclass
class Invocation:
    function: str
    event: dict
    attempt: int
    result: InvocationResult
    finished_at: float = field(default_factory=time.time)


@dataclass
class Options:
    """Fault injection and scale: what the offline cloud does differently from a quiet day on AWS."""

    duplicate_events: bool = False  # deliver every event twice, at the same moment
    fail_training: str | None = None  # FailureReason of every training job
    fail_transform: str | None = None  # FailureReason of every transform job
    fail_processing: str | None = None  # FailureReason of every Processing job
    throttle: int = 0  # the first N SageMaker calls answer ThrottlingException
    concurrency: int = 2  # execution environments per function, started on demand as on Lambda
    # False: the stack's resources and SageMaker without its functions and routes, for another Lambda runtime
    # (`sam local invoke`, src/mlpipe/local_invoke.py) to invoke the functions; events then go nowhere.
    functions: bool = True


class OfflineCloud(CloudAccess):
    served = False  # started by this command (ServedCloud: by `mlpipe cloud`, for the account's commands)

    def __init__(
        self,
        template: Path = DEFAULT_TEMPLATE,
        options: Options | None = None,
        parameter_overrides: dict[str, str] | None = None,
        on_invocation: Callable[[Invocation], None] | None = None,
        on_log: Callable[[str, str], None] | None = None,
        region: str = "us-east-1",
        home: Path | None = None,
        moto: MotoProcess | None = None,
    ):
        self.options = options or Options()
        self.account = SavedAccount(home) if home is not None else None  # None: a fresh account that ends with the cloud
        self.function_urls: dict[str, FunctionUrl] = {}
        self.stack: Stack = load_stack(template, region=region, parameter_overrides=parameter_overrides)
        self.region = region
        self.invocations: list[Invocation] = []
        self.logs: list[tuple[str, str]] = []
        self._on_invocation = on_invocation or (lambda inv: None)
        self._on_log = on_log or (lambda fn, line: None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._busy = 0
        self.pools: dict[str, FunctionPool] = {}
        self.zygotes: Zygotes | None = None
        self.queues: dict[str, str] = {}  # queue name -> url
        self._moto = moto  # started by the command before its imports, or by start()
        self.sagemaker: OfflineSageMaker | None = None
        self.endpoints: dict[str, str] = {}
        self.inbox_url: str | None = None  # an SQS queue subscribed to every SNS topic of the stack
        self._clients: dict = {}

    # -- configuration that a client needs to talk to this cloud ---------------------------
    def aws_environment(self) -> dict[str, str]:
        """What differs between offline and AWS: endpoints, region and dummy credentials."""
        moto = self.endpoints["moto"]
        return {
            **{f"AWS_ENDPOINT_URL_{service}": moto for service in ("S3", "EVENTBRIDGE", "SQS", "SNS", "DYNAMODB", "CLOUDFORMATION", "STS")},
            "AWS_ENDPOINT_URL_SAGEMAKER": self.endpoints["sagemaker"],
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.endpoints["sagemaker"],
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **CREDENTIALS,
        }

    @property
    def bucket(self) -> str:
        (bucket_id,) = self.stack.resources_of_type("AWS::S3::Bucket")
        return self.stack.name_of(bucket_id)

    def training_image(self) -> str:
        return image_name(self.stack.functions["TrainFunction"].environment["TRAINING_IMAGE"])

    @property
    def job_prefix(self) -> str:
        return self.stack.parameters["JobNamePrefix"]

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> "OfflineCloud":
        try:
            return self._start()
        except BaseException:
            self.stop()  # a half-started cloud leaves no server or process behind
            raise

    def _start(self) -> "OfflineCloud":
        # The workers need the endpoints when they start; reserving the ports first lets them
        # import their code while moto starts.
        self._moto, sagemaker_port = self._moto or MotoProcess(), free_port()
        self.endpoints = {"moto": self._moto.endpoint, "sagemaker": f"http://127.0.0.1:{sagemaker_port}"}
        aws_env = self.aws_environment()
        if self.options.functions:
            # Zygotes import the layers' libraries while moto starts; every execution environment forks from one.
            self.zygotes = Zygotes(layer_paths)
            for lid, spec in self.stack.functions.items():
                zygote = self.zygotes.for_layers(list(zip(spec.layers, spec.layer_dirs)))
                self.pools[lid] = FunctionPool(spec, aws_env, self.options.concurrency, zygote, function_paths(spec), on_log=self._log)
            threading.Thread(target=self._prewarm, daemon=True).start()
        self._moto.wait_listening()
        faults = Faults(fail_training=self.options.fail_training, fail_transform=self.options.fail_transform,
                        fail_processing=self.options.fail_processing, throttle_remaining=self.options.throttle)
        self.sagemaker = OfflineSageMaker(self.client("s3"), self.client("events"), self.region, faults)
        # The stack's training image starts its xgboost now, in a process of its own, for the first job.
        threading.Thread(target=self.sagemaker.containers.prewarm, args=(self.training_image(),), daemon=True).start()
        if self.account:
            self.account.restore_sagemaker(self.sagemaker)
        self.sagemaker.start(sagemaker_port)
        self._create_resources()
        for spec in self._invoked_functions():
            lid = spec.logical_id
            if spec.routes:
                self._thread(self._dispatch_async, lid)
            for source in spec.sqs_sources:
                self._thread(self._poll_sqs_source, lid, source)
            if spec.url_auth:
                self._start_function_url(spec)
        return self

    def _start_function_url(self, spec: FunctionSpec) -> None:
        """A function URL answers synchronously, as Lambda invokes a function through its URL."""
        credentials = Credentials(CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"], CREDENTIALS["AWS_SESSION_TOKEN"])
        url = FunctionUrl(lambda event: self._invoke(spec, event, 1), spec.url_auth, credentials, self.region)
        self.function_urls[spec.logical_id] = url
        self.stack.set_function_url(spec.logical_id, url.start())

    def persist(self) -> list[str]:
        """Keep what this command added to the account (objects, SageMaker state) for later commands; return the keys written."""
        if self.account is None:
            return []
        self.account.save_sagemaker(self.sagemaker)
        return self.account.save_objects(self.client("s3"), self.bucket)

    def _prewarm(self) -> None:
        for pool in self.pools.values():
            if self._stop.is_set():
                return
            pool.prewarm()

    @staticmethod
    def _async_queue(spec: FunctionSpec) -> str:
        """The queue standing for Lambda's internal queue of a function's asynchronous invocations."""
        return f"{spec.name}-async-events"

    def _queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{name}"

    def _thread(self, target: Callable, *args) -> None:
        threading.Thread(target=target, args=args, name=f"{target.__name__}-{args[0]}", daemon=True).start()

    def _create_resources(self) -> None:
        """The stack's resources in moto: queues and routes, tables, topics and buckets, independent groups at once
        (each service's first request makes moto load its backend, a few tenths of a second)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(self._create_queues_and_routes), pool.submit(self._create_tables),
                           pool.submit(self._create_buckets)]:
                future.result()

    def _create_queues_and_routes(self) -> None:
        sqs, sns = self.client("sqs"), self.client("sns")
        # Queues first, in dependency order: a redrive target must exist before the queue naming it.
        queue_ids = sorted(self.stack.resources_of_type("AWS::SQS::Queue"), key=lambda lid: "RedrivePolicy" in self.stack.properties(lid))
        for lid in queue_ids:
            props = self.stack.properties(lid)
            attributes = {k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod") if k in props}
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            name = self.stack.name_of(lid)
            self.queues[name] = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.inbox_url = sqs.create_queue(QueueName=f"{self.stack.name}-notifications-inbox")["QueueUrl"]
        inbox_arn = self._queue_arn(f"{self.stack.name}-notifications-inbox")
        for lid in self.stack.resources_of_type("AWS::SNS::Topic"):
            topic_arn = sns.create_topic(Name=self.stack.name_of(lid))["TopicArn"]
            sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(self._create_routes, [spec for spec in self._invoked_functions() if spec.routes]))

    def _invoked_functions(self) -> list[FunctionSpec]:
        """The functions this cloud invokes itself: all of them, or none when another runtime does."""
        return list(self.stack.functions.values()) if self.options.functions else []

    def _create_routes(self, spec: FunctionSpec) -> None:
        events = self.client("events")
        name = self._async_queue(spec)
        url = self.client("sqs").create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(spec.timeout * (spec.max_retries + 2))})["QueueUrl"]
        with self._lock:
            self.queues[name] = url
        for route in spec.routes:
            events.put_rule(Name=route.rule_name, EventPattern=json.dumps(route.pattern), State="ENABLED")
            events.put_targets(Rule=route.rule_name, Targets=[{"Id": spec.logical_id, "Arn": self._queue_arn(name)}])

    def _create_tables(self) -> None:
        ddb = self.client("dynamodb")
        for lid in self.stack.resources_of_type("AWS::DynamoDB::Table"):
            props = self.stack.properties(lid)
            ddb.create_table(TableName=self.stack.name_of(lid), KeySchema=props["KeySchema"],
                             AttributeDefinitions=props["AttributeDefinitions"], BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"))

    def _create_buckets(self) -> None:
        s3 = self.client("s3")
        for bucket_id in self.stack.resources_of_type("AWS::S3::Bucket"):
            props = self.stack.properties(bucket_id)
            name = self.stack.name_of(bucket_id)
            s3.create_bucket(Bucket=name)
            if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            if self.account:
                self.account.restore_objects(s3, name)  # before the bucket sends events: putting back starts nothing
            if ((props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
                s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})

    def register_stack(self) -> None:
        """A CloudFormation stack with the template's Outputs, so `mlpipe run --stack` finds this cloud as it finds AWS.

        Not done at start: moto's CloudFormation loads every service's models, a second of CPU a plain run does not need.
        """
        body = {
            "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {name: {"Value": value} for name, value in self.stack.outputs().items()},
        }
        self.client("cloudformation").create_stack(StackName=self.stack.name, TemplateBody=json.dumps(body))

    def stop(self) -> None:
        self._stop.set()
        for url in self.function_urls.values():
            url.stop()
        # Dispatchers may sit in a long poll: they are daemons, and their request fails when moto's server goes.
        for pool in self.pools.values():
            pool.stop()
        if self.zygotes:
            self.zygotes.stop()
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

    def _receive(self, sqs, url: str, max_messages: int) -> list[dict] | None:
        try:
            return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=LONG_POLL_SECONDS,
                                       AttributeNames=["All"]).get("Messages", [])
        except Exception:  # noqa: BLE001 - the endpoint goes away when the cloud stops
            if self._stop.is_set():
                return None
            raise

    def _busy_add(self, n: int) -> None:
        with self._lock:
            self._busy += n

    def _dispatch_async(self, lid: str) -> None:
        """EventBridge -> function: asynchronous invocations, each event in its own execution environment."""
        spec = self.stack.functions[lid]
        sqs = self.client("sqs")
        url = self.queues[self._async_queue(spec)]
        copies = 2 if self.options.duplicate_events else 1
        echoes = MultipartEchoes()
        with ThreadPoolExecutor(max_workers=max(self.options.concurrency, copies) * 4) as executor:
            while (messages := self._receive(sqs, url, 10)) is not None:
                for message in messages:
                    self._busy_add(1)
                    try:
                        event = as_aws_sends(json.loads(message["Body"]), ACCOUNT_ID)
                        if echoes.is_echo(event):
                            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                            continue
                        queued_at = int(message["Attributes"]["SentTimestamp"]) / 1000
                        for _ in range(copies):
                            self._busy_add(1)
                            executor.submit(self._invoke_async, spec, event, queued_at)
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # Lambda has accepted it
                    except Exception as err:  # noqa: BLE001 - one bad message must not stop the function's deliveries
                        if not self._stop.is_set():
                            self._log(lid, json.dumps({"level": "ERROR", "message": f"offline dispatcher: {err!r}"}))
                    finally:
                        self._busy_add(-1)

    def _invoke_async(self, spec: FunctionSpec, event: dict, queued_at: float) -> None:
        """Lambda's asynchronous invocation: retries, then the on-failure destination; an event older than
        MaximumEventAgeInSeconds is not invoked again but sent there (condition EventAgeExceeded)."""
        try:
            result, condition, attempts = None, "RetriesExhausted", 0
            for attempt in range(1, spec.max_retries + 2):
                if time.time() - queued_at > spec.max_event_age:
                    condition = "EventAgeExceeded"
                    break
                result, attempts = self._invoke(spec, event, attempt), attempt
                if result.ok:
                    return
                if attempt <= spec.max_retries:
                    time.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1])
            if spec.on_failure_queue:
                self._send_on_failure(spec, event, result, attempts, condition)
        finally:
            self._busy_add(-1)

    def _invoke(self, spec: FunctionSpec, event: dict, attempt: int) -> InvocationResult:
        try:
            result = self.pools[spec.logical_id].invoke(event)
        except Exception as err:  # noqa: BLE001 - the environment broke: Lambda reports that as a failed invocation
            result = InvocationResult(False, error_type="Runtime.ExitError", error=f"the execution environment failed: {err!r}")
        if self._stop.is_set():
            return result  # the cloud is going away under this invocation: not a function failure
        invocation = Invocation(spec.logical_id, event, attempt, result)
        with self._lock:
            self.invocations.append(invocation)
        self._on_invocation(invocation)
        return result

    def _send_on_failure(self, spec: FunctionSpec, event: dict, result: InvocationResult | None, attempts: int,
                         condition: str = "RetriesExhausted") -> None:
        """The record Lambda sends to an on-failure destination when it gives up on an asynchronous event."""
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{spec.name}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
        }
        if result is not None:  # an event that expired before any attempt has no response
            record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
            record["responsePayload"] = {"errorMessage": result.error, "errorType": result.error_type, "stackTrace": []}
        self.client("sqs").send_message(QueueUrl=self.queues[spec.on_failure_queue], MessageBody=json.dumps(record))

    def _poll_sqs_source(self, lid: str, source: SqsSource) -> None:
        """SQS -> function: an event source mapping, with partial batch responses when the template asks for them."""
        spec = self.stack.functions[lid]
        sqs = self.client("sqs")
        url = self.queues[source.queue_name]
        arn = self._queue_arn(source.queue_name)
        while (messages := self._receive(sqs, url, source.batch_size)) is not None:
            if not messages:
                continue
            self._busy_add(1)
            try:
                records = [
                    {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                     "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                     "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": self.region}
                    for m in messages
                ]
                result = self._invoke(spec, {"Records": records}, 1)
                if not result.ok:
                    continue  # the messages come back after their visibility timeout, then go to the redrive queue
                failed = set()
                if source.report_batch_item_failures and isinstance(result.result, dict):
                    failed = {f["itemIdentifier"] for f in result.result.get("batchItemFailures", [])}
                for m in messages:
                    if m["MessageId"] not in failed:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            finally:
                self._busy_add(-1)

    # -- helpers for callers --------------------------------------------------------------
    def queues_empty(self) -> bool:
        sqs = self.client("sqs")
        watched = [self._async_queue(spec) for spec in self._invoked_functions() if spec.routes]
        watched += [source.queue_name for spec in self._invoked_functions() for source in spec.sqs_sources]
        for name in watched:
            attrs = sqs.get_queue_attributes(
                QueueUrl=self.queues[name], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            if int(attrs["ApproximateNumberOfMessages"]) or int(attrs["ApproximateNumberOfMessagesNotVisible"]):
                return False
        return True

    def is_idle(self) -> bool:
        """No event queued or being handled and no SageMaker job running."""
        return not self.sagemaker.busy() and self._busy == 0 and self.queues_empty()

    def notifications(self) -> list[dict]:
        """Messages published to the stack's SNS topics so far (drained from the inbox queue)."""
        sqs, found = self.client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10).get("Messages", []):
            for m in messages:
                found.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=m["ReceiptHandle"])
        return found
