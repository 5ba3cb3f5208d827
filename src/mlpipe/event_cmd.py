"""`mlpipe event`: a sample event of events/, rewritten to name what exists in a stack, for `sam local invoke`.

The files in events/ show each event's shape with made-up names (bucket ``mlpipe-data-example``, run
``titanic-09c11187f0``): a function given one of them as it is looks for objects and jobs that exist
nowhere. Here the same shapes are filled from a stack's bucket and SageMaker: the object's real key,
version, size and ETag; the job's own description and tags; the model package's. The stack is a
deployed one (``--stack``), or the offline cloud that ``mlpipe cloud`` keeps running (its exports
in the environment). ``--env-vars FILE`` also writes the deployed functions' environment, which
``sam local invoke --env-vars`` reads (SAM cannot resolve the template's !Ref and !GetAtt itself).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse

from pipeline_common import layout

from .offline.template import STACK_NAME as OFFLINE_STACK

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"

# Each sample event and the function it is routed to; a function's name alone means its first event here.
EVENTS = {
    "preprocess_raw_csv_created": "PreprocessFunction",
    "train_split_manifest_created": "TrainFunction",
    "infer_training_job_completed": "InferFunction",
    "evaluate_transform_job_completed": "EvaluateFunction",
    "evaluate_transform_job_failed": "EvaluateFunction",
    "approval_model_package_approved": "ApprovalFunction",
    "predict_function_url_request": "PredictFunction",
    "score_csv_created": "ScoreFunction",
    "score_transform_job_completed": "ScoreFunction",
    "failure_training_job_failed": "FailureFunction",
    "failure_function_gave_up": "FailureFunction",
}
ALIASES = {name.split("_", 1)[0]: name for name in reversed(EVENTS)}  # reversed: the first event of each function wins
# The function an upload under each prefix starts, as failure_core names the stage it fails.
FUNCTION_OF_PREFIX = {layout.RAW: "PreprocessFunction", layout.SCORE: "ScoreFunction", layout.SPLIT: "TrainFunction"}
SAMPLE_OF_PREFIX = {layout.RAW: "preprocess_raw_csv_created", layout.SCORE: "score_csv_created",
                    layout.SPLIT: "train_split_manifest_created"}


class EventError(SystemExit):
    """Nothing in the stack fits the event asked for: a message for the user, exit status 1."""

    def __init__(self, message: str):
        super().__init__(f"mlpipe event: {message}")


@dataclass
class Target:
    """The stack an event is written for: its clients, bucket, job prefix, account and Outputs."""

    s3: object
    sagemaker: object
    bucket: str
    job_prefix: str
    region: str
    account: str
    outputs: dict[str, str] = field(default_factory=dict)
    function_names: dict[str, str] = field(default_factory=dict)  # logical id -> the deployed function's name

    def function_arn(self, logical_id: str) -> str:
        name = self.function_names.get(logical_id) or self.outputs.get(f"{logical_id}Name") or logical_id
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"


def resolve_name(name: str) -> str:
    """An event's name from itself, a function's short name (preprocess, infer, ...) or a file name."""
    name = Path(name).name.removesuffix(".json")
    name = ALIASES.get(name, name)
    if name not in EVENTS:
        raise EventError(f"no sample event {name!r}; one of: {', '.join(EVENTS)} (or a function: {', '.join(ALIASES)})")
    return name


def sample(name: str) -> dict:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


# -- what an event needs from the stack -------------------------------------------------------------
def _iso(value) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch_ms(value):
    """Datetimes as EventBridge's SageMaker details carry them: epoch milliseconds."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _epoch_ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_ms(v) for v in value]
    return value


def _envelope(event: dict, target: Target, resources: list[str], at: datetime.datetime | None = None) -> dict:
    event.update(id=str(uuid.uuid4()), account=target.account, region=target.region, resources=resources,
                 time=_iso(at or datetime.datetime.now(datetime.UTC)))
    return event


def newest_key(target: Target, prefix: str, suffix: str = "") -> str:
    newest = None
    for page in target.s3.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(suffix) and not obj["Key"].endswith("/") and (newest is None or obj["LastModified"] > newest["LastModified"]):
                newest = obj
    if newest is None:
        raise EventError(f"no object under s3://{target.bucket}/{prefix}{' ending ' + suffix if suffix else ''}: upload one, or give --key")
    return newest["Key"]


def object_created(name: str, target: Target, key: str) -> dict:
    """An S3 ``Object Created`` event through EventBridge, for the object's current version."""
    from botocore.exceptions import ClientError

    try:
        head = target.s3.head_object(Bucket=target.bucket, Key=key)
    except ClientError as err:
        raise EventError(f"no object s3://{target.bucket}/{key}: {err}") from None
    event = sample(name)
    detail = event["detail"]
    detail["bucket"]["name"] = target.bucket
    obj = {"key": quote(key, safe="/"), "size": head["ContentLength"], "etag": head["ETag"].strip('"'),
           # S3's sequencer orders the writes to a key; a head request does not show it, its write time stands in
           "sequencer": f"{int(head['LastModified'].timestamp() * 1_000_000):018X}"}
    if head.get("VersionId") and head["VersionId"] != "null":
        obj["version-id"] = head["VersionId"]
    detail["object"] = obj
    detail["requester"] = target.account
    return _envelope(event, target, [f"arn:aws:s3:::{target.bucket}"], head["LastModified"])


def _tags(target: Target, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in target.sagemaker.list_tags(ResourceArn=arn).get("Tags", [])}


JOBS = {  # kind -> (List operation, its summaries, Describe operation, name field, status field, detail-type)
    "Training": ("list_training_jobs", "TrainingJobSummaries", "describe_training_job", "TrainingJobName", "TrainingJobStatus",
                 "SageMaker Training Job State Change"),
    "Transform": ("list_transform_jobs", "TransformJobSummaries", "describe_transform_job", "TransformJobName", "TransformJobStatus",
                  "SageMaker Transform Job State Change"),
}


def newest_job(target: Target, kind: str, status: str, run_kind: str | None = None) -> str:
    """The stack's newest job of that kind and status (its name starts with the job prefix); for transform jobs, of
    that run kind (training or scoring), the champion's excepted."""
    list_op, summaries, _, name_field, _, _ = JOBS[kind]
    request = {"NameContains": f"{target.job_prefix}-", "StatusEquals": status, "SortBy": "CreationTime", "SortOrder": "Descending",
               "MaxResults": 50}
    for summary in getattr(target.sagemaker, list_op)(**request).get(summaries, []):
        name = summary[name_field]
        if not name.startswith(f"{target.job_prefix}-") or name.endswith(layout.CHAMPION_SUFFIX):
            continue
        if run_kind and _tags(target, summary[f"{kind}JobArn"]).get(layout.RUN_KIND_TAG, layout.TRAINING) != run_kind:
            continue
        return name
    wanted = f"{run_kind} " if run_kind else ""
    raise EventError(f"no {status} {kind.lower()} job of {wanted}runs with prefix {target.job_prefix!r}: give --job")


def job_state_change(name: str, target: Target, kind: str, job: str, status: str | None) -> dict:
    """A SageMaker job state change as EventBridge delivers it: the job's description, tags as a map, times in ms."""
    _, _, describe_op, name_field, status_field, detail_type = JOBS[kind]
    from botocore.exceptions import ClientError

    try:
        described = getattr(target.sagemaker, describe_op)(**{name_field: job})
    except ClientError as err:
        raise EventError(f"no {kind.lower()} job {job!r}: {err}") from None
    if status and described[status_field] != status:
        raise EventError(f"{kind.lower()} job {job} is {described[status_field]}, and this event is for a {status} one")
    described.pop("ResponseMetadata", None)
    arn = described[f"{kind}JobArn"]
    event = sample(name)
    event["detail"] = {**_epoch_ms(described), "Tags": _tags(target, arn)}
    event["detail-type"] = detail_type
    return _envelope(event, target, [arn])


def model_package_state_change(name: str, target: Target, dataset: str, version: int | None) -> dict:
    from pipeline_common import registry

    group = layout.model_package_group(target.job_prefix, dataset)
    found = registry.versions(target.sagemaker, group, status=None if version else registry.APPROVED)
    if version:
        found = [v for v in found if v["ModelPackageVersion"] == version]
    if not found:
        raise EventError(f"model package group {group} has {'no version ' + str(version) if version else 'no approved version'}")
    described = target.sagemaker.describe_model_package(ModelPackageName=found[0]["ModelPackageArn"])
    for field_name in ("ResponseMetadata", "ModelPackageName"):
        described.pop(field_name, None)
    event = sample(name)
    event["detail"] = {**_epoch_ms(described), "UpdatedModelPackageFields": ["ModelApprovalStatus"]}
    return _envelope(event, target, [described["ModelPackageArn"]])


def gave_up(name: str, target: Target, key: str) -> dict:
    """The record Lambda's on-failure destination (the stack's FunctionFailureQueue) gets when the function that the
    object's upload starts gave up on its event, as an SQS event of the FailureFunction."""
    prefix = next((p for p in FUNCTION_OF_PREFIX if key.startswith(p)), None)
    if prefix is None:
        raise EventError(f"{key!r} starts no function: give an object under {', '.join(FUNCTION_OF_PREFIX)}")
    function = FUNCTION_OF_PREFIX[prefix]
    event = sample(name)
    (message,) = event["Records"]
    record = json.loads(message["body"])
    request_id = str(uuid.uuid4())
    record["timestamp"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    record["requestContext"].update(requestId=request_id, functionArn=f"{target.function_arn(function)}:$LATEST")
    record["requestPayload"] = object_created(SAMPLE_OF_PREFIX[prefix], target, key)
    if function != "TrainFunction":  # the sample's error is the train function's CreateTrainingJob
        record["responsePayload"] = {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
                                     "errorType": "Runtime.ExitError"}
    else:
        record["responsePayload"]["requestId"] = request_id
    body = json.dumps(record)
    queue = urlparse(target.outputs.get("FunctionFailureQueueUrl", "")).path.strip("/").split("/")
    queue_arn = f"arn:aws:sqs:{target.region}:{target.account}:{queue[-1] if queue[-1] else 'FunctionFailureQueue'}"
    sent = str(int(time.time() * 1000))
    message.update(messageId=str(uuid.uuid4()), body=body, md5OfBody=hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
                   eventSourceARN=queue_arn, awsRegion=target.region)
    message["attributes"].update(SentTimestamp=sent, ApproximateFirstReceiveTimestamp=sent, SenderId=target.account)
    return event


def function_url_request(name: str, target: Target, dataset: str) -> dict:
    """A request to the PredictFunction's URL (payload format 2.0) with the sample's rows (Titanic's columns)."""
    event = sample(name)
    body = json.loads(event["body"])
    body["dataset"] = dataset
    event["body"] = json.dumps(body)
    host = urlparse(target.outputs.get("PredictUrl", "")).netloc or event["headers"]["host"]
    now = datetime.datetime.now(datetime.UTC)
    context = event["requestContext"]
    context.update(accountId=target.account, domainName=host, domainPrefix=host.split(".")[0], apiId=host.split(".")[0],
                   requestId=str(uuid.uuid4()), time=now.strftime("%d/%b/%Y:%H:%M:%S +0000"), timeEpoch=int(now.timestamp() * 1000))
    context["authorizer"]["iam"]["accountId"] = target.account
    event["headers"].update(host=host, **{"x-amz-date": now.strftime("%Y%m%dT%H%M%SZ")})
    return event


def build(name: str, target: Target, key: str | None = None, job: str | None = None, dataset: str | None = None,
          version: int | None = None) -> dict:
    """The sample event ``name`` (see EVENTS) for what exists in the target stack; by default its newest fitting
    object, job or model version."""
    name = resolve_name(name)
    dataset = dataset or target.outputs.get("DefaultDataset", "titanic")
    if name in ("preprocess_raw_csv_created", "score_csv_created"):
        prefix = layout.RAW if name.startswith("preprocess") else layout.SCORE
        return object_created(name, target, key or newest_key(target, prefix, ".csv"))
    if name == "train_split_manifest_created":
        return object_created(name, target, key or newest_key(target, layout.SPLIT, f"/{layout.MANIFEST}"))
    if name == "failure_function_gave_up":
        return gave_up(name, target, key or newest_key(target, layout.SPLIT, f"/{layout.MANIFEST}"))
    if name in ("infer_training_job_completed", "failure_training_job_failed"):
        status = "Completed" if name.startswith("infer") else "Failed"
        return job_state_change(name, target, "Training", job or newest_job(target, "Training", status), status)
    if name.startswith(("evaluate_transform_job", "score_transform_job")):
        status = "Completed" if name.endswith("completed") else "Failed"
        run_kind = layout.SCORING_RUN if name.startswith("score") else layout.TRAINING
        return job_state_change(name, target, "Transform", job or newest_job(target, "Transform", status, run_kind), status)
    if name == "approval_model_package_approved":
        return model_package_state_change(name, target, dataset, version)
    return function_url_request(name, target, dataset)


# -- a deployed stack, or the offline cloud of `mlpipe cloud` --------------------------------------------------------
def stack_target(stack: str, region: str | None) -> tuple[Target, object]:
    from .buckets import stack_outputs

    session, outputs = stack_outputs(stack, region)
    account = session.client("sts").get_caller_identity()["Account"]
    functions = {}
    paginator = session.client("cloudformation").get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack):
        for resource in page.get("StackResourceSummaries", []):
            if resource["ResourceType"] == "AWS::Lambda::Function" and resource.get("PhysicalResourceId"):
                functions[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    target = Target(session.client("s3"), session.client("sagemaker"), outputs["DataBucketName"], outputs["JobNamePrefix"],
                    session.region_name, account, outputs, functions)
    return target, session


def deployed_environment(session, target: Target) -> dict[str, dict[str, str]]:
    """Each deployed function's environment variables by logical id: what `sam local invoke --env-vars` reads."""
    client = session.client("lambda")
    return {lid: client.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
            for lid, name in sorted(target.function_names.items())}


def cmd_event(args: argparse.Namespace) -> int:
    name = resolve_name(args.name)
    stack = args.stack
    if not stack:
        if not os.environ.get("AWS_ENDPOINT_URL_CLOUDFORMATION"):
            raise EventError("no --stack, and no offline cloud in this shell: start `mlpipe cloud` in another terminal and run "
                             "the export lines it prints here, or give --stack NAME for a deployed stack")
        stack = OFFLINE_STACK
    target, session = stack_target(stack, args.region)
    event = build(name, target, key=args.key, job=args.job, dataset=args.dataset, version=args.version)
    text = json.dumps(event, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    else:
        print(text)
    if args.env_vars:
        if not target.function_names:
            raise EventError(f"stack {stack} lists no Lambda functions (the offline cloud has none: `make local-invoke` runs it)")
        Path(args.env_vars).write_text(json.dumps(deployed_environment(session, target), indent=2) + "\n")
    function = EVENTS[name]
    print(f"# sam local invoke {function} -e {args.out or 'EVENT.json'}"
          + (f" --env-vars {args.env_vars}" if args.env_vars else " --env-vars ENV.json"), file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    event = sub.add_parser("event", help="print a sample event of events/ for what exists in a stack (for sam local invoke)",
                           description=__doc__.split("\n\n")[0])
    event.add_argument("name", metavar="EVENT", help=f"a sample event ({', '.join(EVENTS)}) or a function ({', '.join(ALIASES)})")
    event.add_argument("--stack", help="a deployed stack (default: the offline cloud of `mlpipe cloud`, its exports in this shell)")
    event.add_argument("--region", help="the stack's region")
    event.add_argument("--key", help="the object the event is about (S3 events, failure_function_gave_up); default: the newest fitting one")
    event.add_argument("--job", help="the SageMaker job (job events); default: the newest of the stack with the event's status")
    event.add_argument("--dataset", help="the dataset (approval, predict); default: the stack's default dataset")
    event.add_argument("--version", type=int, help="the model version (approval); default: the dataset's newest approved one")
    event.add_argument("--out", help="write the event to this file instead of printing it")
    event.add_argument("--env-vars", metavar="FILE", help="also write the deployed functions' environment here (sam local invoke --env-vars)")
    event.set_defaults(func=cmd_event)
