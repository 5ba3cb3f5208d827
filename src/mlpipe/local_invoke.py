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

What each event needs and what its function must have done are the steps of ``local_invoke_steps.py``; this
module runs them.

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
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


from . import event_cmd
from .local_invoke_steps import STEPS, SeedError, Step, plan, trimmed  # noqa: F401 - STEPS: read through this module too
from .offline.template import ACCOUNT_ID

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / ".aws-sam" / "build"
IMAGE = "public.ecr.aws/lambda/python:3.12-x86_64"
PROXY = ROOT / "scripts" / "lambda-image" / "docker_hostnet_proxy.py"
PARAMETERS = {"EnableEndpoint": "true"}  # every function of the template, the PredictFunction included
JOB_TIMEOUT = 600  # seconds a seeded or started SageMaker job may take


class SetupError(RuntimeError):
    """What is missing before anything can be invoked (Docker, the image, sam build's output)."""


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
        from .offline.endpoints import CREDENTIALS

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
