"""`make local-invoke`: every sample event of events/ through the real `sam local invoke`, against an offline cloud.

The offline cloud runs the stack's resources and SageMaker without its functions (``Options(functions=False)``):
here the Lambda runtime is SAM's, the function's built package and layers (``sam build``) in a container of
``public.ecr.aws/lambda/python:3.12-x86_64`` (the real image, or the look-alike of scripts/lambda-image). For
each event, in an order where one function's outputs are the next one's inputs:

1. the offline cloud is seeded with what the event refers to: an upload, or a job that has ended (the chain's
   own, or one made to fail for the failure events);
2. the event is written by ``mlpipe event`` (src/mlpipe/event_cmd.py) for those objects and jobs, as it is
   for a deployed stack;
3. ``sam local invoke FUNCTION --event FILE --env-vars FILE`` runs it; the answer is printed;
4. the bucket, SageMaker and the notifications are checked for the function's work: it read its input, wrote
   its outputs and started its job where it starts one.

The container reaches the offline endpoints through the ``AWS_ENDPOINT_URL_<SERVICE>`` variables boto3 reads,
given with ``--env-vars``, on the host's network (scripts/lambda-image/docker_hostnet_proxy.py: SAM ignores
``--docker-network host``). SAM passes a function only the variables its template declares, so the template
SAM reads here is the built one with those variables declared (empty) on every function.

    python -m mlpipe.local_invoke [EVENT ...] [--logs]

EVENT: sample events or functions (as `mlpipe event` names them), with the events they need first; default all.
Exit status 0 only when every event's function did its work.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from pipeline_common import layout
from pipeline_common.transform_jobs import TransformSettings, transform_request

from . import event_cmd
from .offline.template import ACCOUNT_ID

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / ".aws-sam" / "build"
IMAGE = "public.ecr.aws/lambda/python:3.12-x86_64"
PROXY = ROOT / "scripts" / "lambda-image" / "docker_hostnet_proxy.py"
DATA = ROOT / "data" / "titanic.csv"
PARAMETERS = {"EnableEndpoint": "true"}  # every function of the template, the PredictFunction included
JOB_TIMEOUT = 600  # seconds a seeded or started SageMaker job may take


class SetupError(RuntimeError):
    """What is missing before anything can be invoked (Docker, the image, sam build's output)."""


class SeedError(RuntimeError):
    """The offline cloud could not be given what an event refers to."""


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def invoke_template(built: Path, out: Path, declared: list[str]) -> None:
    """The built template as `sam local invoke` reads it here: code and layer folders as absolute paths, and the
    ``declared`` variables (empty) on every function, so that ``--env-vars`` can give them values."""
    from .offline.template import parse_template

    template = parse_template(built.read_text())
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        uri = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(resource.get("Type"))
        if uri and isinstance(props.get(uri), str) and not props[uri].startswith("s3://"):
            props[uri] = str((built.parent / props[uri]).resolve())
        if resource.get("Type") == "AWS::Serverless::Function":
            variables = props.setdefault("Environment", {}).setdefault("Variables", {})
            for name in declared:
                variables.setdefault(name, "")
    out.write_text(json.dumps(template, indent=1))


@dataclass
class Invocation:
    answer: dict | list | str | None
    seconds: float
    returncode: int
    log: str


@dataclass
class Check:
    """What an invocation was seen to do (``done``) and what it should have done but did not (``missing``)."""

    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def need(self, condition, text: str) -> bool:
        (self.done if condition else self.missing).append(text)
        return bool(condition)


@dataclass
class Result:
    step: "Step"
    event: dict | None = None
    invocation: Invocation | None = None
    check: Check = field(default_factory=Check)
    error: str | None = None  # the step could not be run (seeding failed, a step it needs failed)

    @property
    def ok(self) -> bool:
        return self.error is None and self.invocation is not None and not self.check.missing


class Session:
    """An offline cloud without functions, SAM's template and environment for it, and the Docker socket proxy."""

    def __init__(self, build_dir: Path = BUILD_DIR, sam: Path | None = None):
        self.build_dir = build_dir
        self.sam = sam or Path(sys.executable).parent / "sam"
        self.cloud = None
        self.target: event_cmd.Target | None = None
        self.state: dict[str, object] = {}
        self.workdir: Path | None = None
        self._proxy: subprocess.Popen | None = None
        self._notes: list[dict] = []
        self._count = 0
        self._lock = threading.Lock()

    # -- life cycle -------------------------------------------------------------------------------------------------
    def __enter__(self) -> "Session":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "Session":
        self.check_prerequisites()
        from .offline.cloud import OfflineCloud, Options

        self.workdir = Path(tempfile.mkdtemp(prefix="mlpipe-local-invoke-"))
        try:
            self.cloud = OfflineCloud(options=Options(functions=False), parameter_overrides=PARAMETERS).start()
            stack = self.cloud.stack
            self.target = event_cmd.Target(
                self.cloud.client("s3"), self.cloud.client("sagemaker"), self.cloud.bucket, self.cloud.job_prefix, self.cloud.region,
                ACCOUNT_ID, stack.outputs(), {lid: stack.name_of(lid) for lid in stack.functions})
            endpoints = {k: v for k, v in self.cloud.aws_environment().items() if k.startswith("AWS_ENDPOINT_URL_")}
            self.template = self.workdir / "template.json"
            invoke_template(self.build_dir / "template.yaml", self.template, sorted(endpoints))
            self.env_vars = self.workdir / "env.json"
            self.env_vars.write_text(json.dumps({lid: {**spec.environment, **endpoints} for lid, spec in stack.functions.items()},
                                                indent=1))
            self._start_proxy()
        except BaseException:
            self.stop()
            raise
        return self

    def check_prerequisites(self) -> None:
        if not (self.build_dir / "template.yaml").is_file():
            raise SetupError(f"no `sam build` output in {self.build_dir}: `make local-invoke` builds it")
        if not self.sam.exists():
            raise SetupError(f"no sam at {self.sam}: `make venv` installs it")
        if shutil.which("docker") is None or _run(["docker", "info"], timeout=20).returncode != 0:
            raise SetupError("no Docker daemon answers `docker info`: `make docker` installs and starts one")
        if _run(["docker", "image", "inspect", IMAGE], timeout=20).returncode != 0:
            raise SetupError(f"no image {IMAGE}: `make lambda-image` pulls it, or builds a look-alike")

    def image_description(self) -> str:
        label = _run(["docker", "image", "inspect", "-f", '{{ index .Config.Labels "mlpipe.lambda-image.base" }}', IMAGE]).stdout.strip()
        return f"look-alike on {label}" if label and label != "<no value>" else "pulled from the registry"

    def _start_proxy(self) -> None:
        self.socket = self.workdir / "docker.sock"
        self._proxy_log = (self.workdir / "proxy.log").open("w")
        self._proxy = subprocess.Popen([sys.executable, str(PROXY), "--socket", str(self.socket)],
                                       stdout=self._proxy_log, stderr=self._proxy_log)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self._proxy.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"the Docker socket proxy did not start: {(self.workdir / 'proxy.log').read_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._proxy and self._proxy.poll() is None:
            self._proxy.terminate()
            try:
                self._proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proxy.kill()
            self._proxy_log.close()
        if self.cloud:
            self.cloud.stop()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- the offline cloud ------------------------------------------------------------------------------------------
    @property
    def s3(self):
        return self.cloud.client("s3")

    @property
    def sagemaker(self):
        return self.cloud.client("sagemaker")

    @property
    def bucket(self) -> str:
        return self.cloud.bucket

    @property
    def prefix(self) -> str:
        return self.cloud.job_prefix

    def put(self, key: str, body: bytes) -> str:
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)["VersionId"]

    def head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return None

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError:
            return None

    def json(self, key: str) -> dict | None:
        body = self.read(key)
        return json.loads(body) if body is not None else None

    def keys_under(self, prefix: str) -> list[str]:
        from .buckets import keys_under

        return keys_under(self.s3, self.bucket, prefix)

    def describe(self, kind: str, name: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return getattr(self.sagemaker, f"describe_{kind}")(**{f"{kind.title().replace('_', '')}Name": name})
        except ClientError:
            return None

    def wait_job(self, kind: str, name: str, want: str = "Completed", timeout: float = JOB_TIMEOUT) -> dict:
        """Wait for a training or transform job to end; its description, which must have status ``want``."""
        field_name = {"training_job": "TrainingJobStatus", "transform_job": "TransformJobStatus"}[kind]
        deadline = time.monotonic() + timeout
        while True:
            job = self.describe(kind, name)
            if job is None:
                raise SeedError(f"no {kind.replace('_', ' ')} {name}")
            if job[field_name] != "InProgress":
                break
            if time.monotonic() > deadline:
                raise SeedError(f"{kind.replace('_', ' ')} {name} still InProgress after {timeout:.0f} s")
            time.sleep(0.1)
        if job[field_name] != want:
            raise SeedError(f"{kind.replace('_', ' ')} {name} ended {job[field_name]}, not {want}: {job.get('FailureReason')}")
        return job

    def notified(self, run_id: str) -> dict | None:
        """The notification published for a run's failure, if any (the offline cloud subscribes a queue to every topic)."""
        with self._lock:
            self._notes += self.cloud.notifications()
            return next((note for note in self._notes if note.get("run_id") == run_id), None)

    def function_spec(self, logical_id: str):
        return self.cloud.stack.functions[logical_id]

    # -- SAM --------------------------------------------------------------------------------------------------------
    def sam_environment(self) -> dict[str, str]:
        from .offline.cloud import CREDENTIALS

        # Nothing of the user's AWS configuration: the offline credentials and region, SAM's Docker through the proxy.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(CREDENTIALS, AWS_DEFAULT_REGION=self.cloud.region, AWS_REGION=self.cloud.region, SAM_CLI_TELEMETRY="0",
                   DOCKER_HOST=f"unix://{self.socket}")
        # SAM asks STS for the account id before each invocation; the offline STS answers at once (AWS's, with the
        # offline credentials, after retries: 5 s).
        env["AWS_ENDPOINT_URL_STS"] = self.cloud.endpoints["moto"]
        return env

    def invoke(self, function: str, event: dict) -> Invocation:
        with self._lock:
            self._count += 1
            path = self.workdir / f"event-{self._count:02d}-{function}.json"
        path.write_text(json.dumps(event, indent=1))
        cmd = [str(self.sam), "local", "invoke", function, "--template", str(self.template), "--event", str(path),
               "--env-vars", str(self.env_vars), "--skip-pull-image", "--docker-network", "host", "--region", self.cloud.region]
        started = time.monotonic()
        done = _run(cmd, env=self.sam_environment(), cwd=self.workdir, timeout=self.function_spec(function).timeout + 300)
        seconds = time.monotonic() - started
        return Invocation(last_json(done.stdout), seconds, done.returncode, done.stderr)

    # -- steps ------------------------------------------------------------------------------------------------------
    def run_step(self, step: "Step", **event_args) -> Result:
        """Seed (unless ``event_args`` say which object or job the event is about), write the event, invoke, check."""
        result = Result(step)
        try:
            event_args = event_args or step.seed(self)
            result.event = event_cmd.build(step.event, self.target, **event_args)
        except (Exception, SystemExit) as err:  # noqa: BLE001 - mlpipe event's errors are SystemExit
            result.error = f"could not seed the offline cloud: {err}"
            return result
        result.invocation = self.invoke(step.function, result.event)
        answer = result.invocation.answer
        if not isinstance(answer, dict) or "errorType" in answer or result.invocation.returncode != 0:
            result.check.missing.append(f"an answer from the function (sam exited {result.invocation.returncode}; "
                                        f"answer {trimmed(answer)})")
            return result
        try:
            step.check(self, result.check, answer, result.event)
        except Exception as err:  # noqa: BLE001 - a check that breaks is a check that failed
            result.check.missing.append(f"the check itself failed: {err!r}")
        return result

    def run(self, names: list[str] | None = None, on_result: Callable[[int, int, Result], None] | None = None,
            jobs: int = 1) -> list[Result]:
        """The steps of ``names`` (all by default), each once the steps it needs are done, up to ``jobs`` at a time;
        a step whose need did not do its work is skipped. Results in the order they ended."""
        steps = plan(names)
        results: dict[str, Result] = {}
        running: dict = {}

        def record(result: Result) -> None:
            results[result.step.event] = result
            if on_result:
                on_result(len(results), len(steps), result)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            while len(results) < len(steps):
                for step in steps:
                    if step.event in results or step in running.values() or len(running) >= jobs:
                        continue
                    if not all(need in results for need in step.needs):
                        continue
                    failed = [need for need in step.needs if not results[need].ok]
                    if failed:
                        record(Result(step, error=f"skipped: {', '.join(failed)} did not do its work"))
                    else:
                        running[pool.submit(self.run_step, step)] = step
                if running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        running.pop(future)
                        record(future.result())
        return list(results.values())


def last_json(stdout: str):
    """SAM prints the function's answer as the last line of its standard output."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return stdout.strip() or None


def trimmed(value, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + " …"


# -- the steps: what each event needs in the cloud, and what its function must have done ----------------------------------
@dataclass(frozen=True)
class Step:
    event: str
    seed: Callable[[Session], dict]  # puts what the event refers to; returns event_cmd.build's arguments
    check: Callable[[Session, Check, dict, dict], None]  # (session, check, answer, event)
    needs: tuple[str, ...] = ()

    @property
    def function(self) -> str:
        return event_cmd.EVENTS[self.event]


def _status(s: Session, c: Check, run_id: str, expect: Callable[[dict], bool], text: str) -> dict | None:
    status = s.json(layout.RunKeys(run_id).status)
    c.need(status is not None and expect(status), f"runs/{run_id}/status.json: {text}"
           + ("" if status is None or expect(status) else f" (is: status {status['status']}, stage {status.get('stage')})"))
    return status


def _stage(status: dict, stage: str) -> dict:
    return (status.get("stages") or {}).get(stage) or {}


def _object(s: Session, c: Check, key: str, what: str = "wrote") -> dict | None:
    head = s.head(key)
    c.need(head is not None, f"{what} {key}" + (f" ({head['ContentLength']} bytes)" if head else ""))
    return head


def _upload(s: Session, key: str, body: bytes) -> dict:
    s.put(key, body)
    return {"key": key}


def seed_preprocess(s: Session) -> dict:
    return _upload(s, "raw/titanic.csv", DATA.read_bytes())


def check_preprocess(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = answer.get("run_id", "?")
    obj = event["detail"]["object"]
    c.need(answer.get("status") == "done", f"answer status done, {answer.get('rows')} rows: {answer.get('n_train')} train / "
                                           f"{answer.get('n_test')} test")
    keys = layout.RunKeys(run_id)
    manifest = s.json(keys.split_manifest)
    if c.need(manifest is not None, f"wrote the split manifest {keys.split_manifest}"):
        files = manifest.get("files", {})
        present = [entry for entry in files.values() if (s.head(entry["key"]) or {}).get("ContentLength") == entry["bytes"]]
        c.need(files and len(present) == len(files), f"wrote the {len(files)} data files it names ({', '.join(files)}), sizes as named")
    for key in (keys.frozen_spec, keys.transform, keys.profile):
        _object(s, c, key)
    status = _status(s, c, run_id, lambda doc: _stage(doc, "preprocess").get("status") == "succeeded", "stage preprocess succeeded")
    source = (status or {}).get("source") or {}
    c.need(source.get("key") == unquote(obj["key"]) and source.get("version_id") == obj.get("version-id"),
           f"read {unquote(obj['key'])} version {obj.get('version-id')}")
    if not c.missing:
        s.state["run"] = run_id  # the run the next events are about


def seed_train(s: Session) -> dict:
    return {"key": layout.RunKeys(s.state["run"]).split_manifest}


def check_train(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = s.state["run"]
    name = layout.job_name(s.prefix, run_id)
    c.need(answer.get("status") == "started" and answer.get("training_job") == name, f"answer: training job {name} started")
    job = s.describe("training_job", name)
    if c.need(job is not None, f"started SageMaker training job {name}"):
        channel = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        c.need(channel == f"s3://{s.bucket}/{layout.RunKeys(run_id).train_prefix}", f"its train channel is the run's split data ({channel})")
    _status(s, c, run_id, lambda doc: _stage(doc, "train").get("training_job") == name, f"stage train names {name}")
    s.state["training_job"] = name


def seed_infer(s: Session) -> dict:
    s.wait_job("training_job", s.state["training_job"])
    return {"job": s.state["training_job"]}


def check_infer(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id, name = s.state["run"], s.state["training_job"]
    c.need(answer.get("status") == "started" and answer.get("transform_job") == name, f"answer: transform job {name} started")
    artifact = event["detail"]["ModelArtifacts"]["S3ModelArtifacts"]
    model = s.describe("model", name)
    c.need(model is not None and model["PrimaryContainer"]["ModelDataUrl"] == artifact, f"created model {name} from {artifact}")
    job = s.describe("transform_job", name)
    if c.need(job is not None, f"started SageMaker transform job {name}"):
        source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        c.need(source == f"s3://{s.bucket}/{layout.RunKeys(run_id).test_prefix}", f"on the run's test rows ({source})")
    _status(s, c, run_id, lambda doc: _stage(doc, "train").get("status") == "succeeded" and name in (_stage(doc, "infer").get("transform_jobs") or []),
            "stage train succeeded, stage infer names the transform job")
    s.state["transform_job"] = name


def seed_evaluate(s: Session) -> dict:
    status = s.json(layout.RunKeys(s.state["run"]).status) or {}
    for name in _stage(status, "infer").get("transform_jobs") or [s.state["transform_job"]]:
        s.wait_job("transform_job", name)
    return {"job": s.state["transform_job"]}


def check_evaluate(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = s.state["run"]
    keys = layout.RunKeys(run_id)
    c.need(answer.get("status") == "done" and answer.get("model_version"),
           f"answer: evaluated, verdict {answer.get('verdict')}, model version {answer.get('model_version')}")
    metrics = s.json(keys.metrics) or {}
    c.need(metrics.get("run_id") == run_id, f"wrote {keys.metrics} (accuracy {metrics.get('accuracy')}, roc_auc {metrics.get('roc_auc')})")
    answers = len((s.read(keys.transform_output(0)) or b"").splitlines())
    c.need(answers and metrics.get("n_test") == answers, f"read the transform's {answers} answers (metrics on n_test {metrics.get('n_test')})")
    for key in (keys.report, keys.predictions):
        _object(s, c, key)
    package = (metrics.get("model_package") or {}).get("arn")
    described = s.sagemaker.describe_model_package(ModelPackageName=package) if package else None
    c.need(described is not None and described["ModelApprovalStatus"] == answer.get("verdict"),
           f"registered model version {package} ({(described or {}).get('ModelApprovalStatus')})")
    _status(s, c, run_id, lambda doc: doc["status"] == "succeeded", "run succeeded")
    s.state["dataset"], s.state["version"] = metrics.get("dataset"), answer.get("model_version")


def seed_approval(s: Session) -> dict:
    return {"dataset": s.state["dataset"], "version": s.state["version"]}


def check_approval(s: Session, c: Check, answer: dict, event: dict) -> None:
    dataset, version = s.state["dataset"], s.state["version"]
    c.need(answer.get("status") == "Approved" and answer.get("version") == version, f"answer: version {version} Approved")
    name = layout.endpoint_name(s.prefix, dataset)
    endpoint = s.describe("endpoint", name)
    serving = layout.serving_name(s.prefix, dataset, version)
    c.need(endpoint is not None and endpoint["EndpointConfigName"] == serving,
           f"created endpoint {name} serving {serving} ({answer.get('change')})")
    _status(s, c, s.state["run"], lambda doc: (doc.get("gate") or {}).get("status") == "Approved" and (doc.get("gate") or {}).get("decided_at"),
            "gate Approved, with the time it was recorded")


def seed_predict(s: Session) -> dict:
    name = layout.endpoint_name(s.prefix, s.state["dataset"])
    deadline = time.monotonic() + 30
    while (s.describe("endpoint", name) or {}).get("EndpointStatus") != "InService":
        if time.monotonic() > deadline:
            raise SeedError(f"endpoint {name} is not InService")
        time.sleep(0.1)
    return {"dataset": s.state["dataset"]}


def check_predict(s: Session, c: Check, answer: dict, event: dict) -> None:
    rows = json.loads(event["body"])["rows"]
    c.need(answer.get("statusCode") == 200, f"answer: HTTP {answer.get('statusCode')}")
    body = json.loads(answer.get("body") or "{}")
    predictions = body.get("predictions") or []
    c.need(len(predictions) == len(rows) and all("probability" in p and "prediction" in p for p in predictions),
           f"{len(predictions)} predictions for {len(rows)} rows from the endpoint: "
           + ", ".join(f"{p.get('prediction')} ({p.get('probability', 0):.3f})" for p in predictions))
    c.need(body.get("model_version") == s.state["version"], f"by model version {body.get('model_version')}")


def passengers(count: int = 20) -> bytes:
    """The first rows of the Titanic file without the target, as someone would send them to be scored."""
    rows = list(csv.reader(io.StringIO(DATA.read_text())))
    keep = [i for i, name in enumerate(rows[0]) if name != "Survived"]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[row[i] for i in keep] for row in rows[:count + 1]])
    return out.getvalue().encode()


def seed_score(s: Session) -> dict:
    return _upload(s, f"score/{s.state['dataset']}/passengers.csv", passengers())


def check_score(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = answer.get("run_id", "?")
    keys = layout.RunKeys(run_id)
    c.need(answer.get("status") == "started" and answer.get("rows") == 20, f"answer: scoring started, {answer.get('rows')} rows")
    _object(s, c, keys.scoring_input(0))
    _object(s, c, keys.scoring_manifest)
    name = layout.job_name(s.prefix, run_id)
    job = s.describe("transform_job", name)
    c.need(job is not None and job["TransformOutput"]["S3OutputPath"].endswith(keys.scoring_output_prefix),
           f"started SageMaker transform job {name}")
    _status(s, c, run_id, lambda doc: doc.get("kind") == "scoring" and _stage(doc, "transform").get("transform_job") == name,
            "a scoring run at stage transform")
    s.state["scoring_run"], s.state["scoring_job"] = run_id, name


def seed_score_transform(s: Session) -> dict:
    s.wait_job("transform_job", s.state["scoring_job"])
    return {"job": s.state["scoring_job"]}


def check_score_transform(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = s.state["scoring_run"]
    key = answer.get("predictions") or "?"
    c.need(answer.get("status") == "done", f"answer: {answer.get('rows')} rows predicted")
    answers = len((s.read(layout.RunKeys(run_id).scoring_output(0)) or b"").splitlines())
    lines = (s.read(key) or b"").decode().splitlines()
    c.need(lines and lines[0].endswith(",prediction,probability") and len(lines) - 1 == answers == 20,
           f"read the transform's {answers} answers, wrote {key} ({len(lines) - 1} rows, prediction and probability added)")
    _object(s, c, layout.predictions_manifest(s.state["dataset"], run_id))
    _status(s, c, run_id, lambda doc: doc["status"] == "succeeded", "scoring run succeeded")


def _failed_run(s: Session, c: Check, run_id: str, stage: str, reason_has: str) -> None:
    """A failure recorded as runs.fail records it: the error record, the run's status, one notification."""
    error = s.json(layout.RunKeys(run_id).error)
    c.need(error is not None and error.get("stage") == stage and reason_has in error.get("reason", ""),
           f"wrote errors/{run_id}/error.json: stage {stage}, reason {trimmed((error or {}).get('reason', '?'), 120)}")
    _status(s, c, run_id, lambda doc: doc["status"] == "failed" and (doc.get("failure") or {}).get("notified_at"),
            f"run failed at {stage}, notified")
    c.need(s.notified(run_id) is not None, f"published the failure of {run_id} to the notification topic")


def _new_run_id(slug: str) -> str:
    return f"{slug}-{uuid.uuid4().hex[:10]}"


def seed_training_failed(s: Session) -> dict:
    """A training job of another run that fails in XGBoost: its labels are not 0 or 1 for binary:logistic."""
    run_id = _new_run_id("broken-labels")
    keys = layout.RunKeys(run_id)
    s.put(keys.train_part(0), b"2,1.0,3.0\n3,0.5,1.0\n2,0.1,0.2\n")
    env = s.function_spec("TrainFunction").environment
    name = layout.job_name(s.prefix, run_id)
    s.sagemaker.create_training_job(
        TrainingJobName=name, RoleArn=env["SAGEMAKER_ROLE_ARN"], HyperParameters={"objective": "binary:logistic", "num_round": "5"},
        AlgorithmSpecification={"TrainingImage": env["TRAINING_IMAGE"], "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{s.bucket}/{keys.train_prefix}", "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{s.bucket}/{keys.model_output_prefix}"},
        ResourceConfig={"InstanceType": env["TRAINING_INSTANCE_TYPE"], "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600}, Tags=layout.run_tags(run_id))
    s.wait_job("training_job", name, want="Failed")
    s.state["broken_training"] = run_id
    return {"job": name}


def check_training_failed(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = s.state["broken_training"]
    c.need(answer.get("status") == "failed" and answer.get("stage") == "train", f"answer: run {run_id} failed at train")
    _failed_run(s, c, run_id, "train", event["detail"]["FailureReason"])


def seed_transform_failed(s: Session) -> dict:
    """A training run's transform job that fails: its model's artifact was never written."""
    run_id = _new_run_id("lost-model")
    keys = layout.RunKeys(run_id)
    env = s.function_spec("InferFunction").environment
    name = layout.job_name(s.prefix, run_id)
    s.sagemaker.create_model(ModelName=name, ExecutionRoleArn=env["SAGEMAKER_ROLE_ARN"], Tags=layout.run_tags(run_id),
                             PrimaryContainer={"Image": s.function_spec("TrainFunction").environment["TRAINING_IMAGE"],
                                               "ModelDataUrl": f"s3://{s.bucket}/{keys.model_output_prefix}{name}/output/model.tar.gz"})
    settings = TransformSettings(role_arn=env["SAGEMAKER_ROLE_ARN"], instance_type=env["TRANSFORM_INSTANCE_TYPE"], instance_count=1)
    s.sagemaker.create_transform_job(**transform_request(name, name, layout.s3_uri(s.bucket, keys.test_prefix),
                                                         layout.s3_uri(s.bucket, keys.transform_output_prefix), settings, run_id))
    s.wait_job("transform_job", name, want="Failed")
    s.state["broken_transform"] = run_id
    return {"job": name}


def check_transform_failed(s: Session, c: Check, answer: dict, event: dict) -> None:
    run_id = s.state["broken_transform"]
    c.need(answer.get("status") == "failed" and answer.get("stage") == "infer", f"answer: run {run_id} failed at infer")
    _failed_run(s, c, run_id, "infer", event["detail"]["FailureReason"])


def seed_gave_up(s: Session) -> dict:
    """An upload whose preprocess gave up (the record says so: Runtime.ExitError after its retries)."""
    return _upload(s, "raw/titanic-gave-up.csv", DATA.read_bytes())


def check_gave_up(s: Session, c: Check, answer: dict, event: dict) -> None:
    c.need(answer == {"batchItemFailures": []}, "answer: no batch item failures (the record was recorded)")
    record = json.loads(event["Records"][0]["body"])
    obj = record["requestPayload"]["detail"]["object"]
    run_id = layout.run_id_for_upload(obj["key"], obj.get("version-id"), obj.get("sequencer"))
    _failed_run(s, c, run_id, "preprocess", "gave up after")


STEPS = {step.event: step for step in (
    Step("preprocess_raw_csv_created", seed_preprocess, check_preprocess),
    Step("train_split_manifest_created", seed_train, check_train, ("preprocess_raw_csv_created",)),
    # while the training job runs: the failure events, which need nothing of the chain
    Step("failure_function_gave_up", seed_gave_up, check_gave_up),
    Step("failure_training_job_failed", seed_training_failed, check_training_failed),
    Step("evaluate_transform_job_failed", seed_transform_failed, check_transform_failed),
    Step("infer_training_job_completed", seed_infer, check_infer, ("train_split_manifest_created",)),
    Step("evaluate_transform_job_completed", seed_evaluate, check_evaluate, ("infer_training_job_completed",)),
    Step("approval_model_package_approved", seed_approval, check_approval, ("evaluate_transform_job_completed",)),
    Step("predict_function_url_request", seed_predict, check_predict, ("approval_model_package_approved",)),
    Step("score_csv_created", seed_score, check_score, ("evaluate_transform_job_completed",)),
    Step("score_transform_job_completed", seed_score_transform, check_score_transform, ("score_csv_created",)),
)}


def plan(names: list[str] | None = None) -> list[Step]:
    """The steps of the named events (all by default) and of the events they need, in the order they run."""
    wanted = set()
    pending = [event_cmd.resolve_name(name) for name in names] if names else list(STEPS)
    while pending:
        name = pending.pop()
        if name not in wanted:
            wanted.add(name)
            pending += STEPS[name].needs
    return [step for name, step in STEPS.items() if name in wanted]


def print_result(index: int, total: int, result: Result, logs: bool = False) -> None:
    step, invocation = result.step, result.invocation
    took = f"  (sam local invoke {invocation.seconds:.1f} s)" if invocation else ""
    print(f"[{index}/{total}] {step.event} -> {step.function}{took}", flush=True)
    if result.error:
        print(f"    FAILED {result.error}")
        return
    print(f"    answer: {trimmed(invocation.answer)}")
    for line in result.check.done:
        print(f"    ok  {line}")
    for line in result.check.missing:
        print(f"    NOT {line}")
    if invocation.log and (logs or not result.ok):
        print("    --- sam and function log (end) ---")
        for line in invocation.log.strip().splitlines()[-40:]:
            print(f"    | {line}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpipe.local_invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("events", nargs="*", metavar="EVENT", help="sample events or functions (default: every event in events/)")
    parser.add_argument("--logs", action="store_true", help="print each invocation's log (SAM's and the function's)")
    parser.add_argument("--jobs", type=int, default=2, help="invocations at a time, of events that need nothing of each other (default 2)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        with Session() as session:
            print(f"local-invoke: offline stack {session.cloud.stack.name}, bucket {session.bucket}; "
                  f"image {IMAGE} ({session.image_description()})", flush=True)
            results = session.run(args.events or None, lambda i, n, r: print_result(i, n, r, args.logs), jobs=args.jobs)
    except SetupError as err:
        print(f"local-invoke: {err}", file=sys.stderr)
        return 2
    good = sum(r.ok for r in results)
    invoked = sum(r.invocation.seconds for r in results if r.invocation)
    print(f"local-invoke: {good} of {len(results)} events did their work in `sam local invoke` "
          f"({invoked:.0f} s in sam local invoke, {time.monotonic() - started:.0f} s in all)")
    return 0 if good == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
