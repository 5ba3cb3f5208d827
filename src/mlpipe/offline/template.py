"""What the offline cloud reads from template.yaml: functions, their routes, code, layers and settings.

The template is first translated by the SAM translator, as `sam deploy` does, so Globals are merged
the way SAM merges them and every function's rules, invoke configuration, event source mappings and
URL are the CloudFormation resources AWS would get. Intrinsics are resolved by SAM CLI's own
resolver, to the names the offline cloud gives the resources; resources whose Condition is false
are left out. Nothing here restates a route.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

ACCOUNT_ID = "123456789012"  # moto's default account
STACK_NAME = "mlpipe-offline"  # the offline stack's name, which its resources' names start with
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
# Translating and resolving the template takes a second and a half (SAM's translator and resolver); the result
# depends only on the template, the parameters, the region and the stack's name, so it is kept per venv.
CACHE = Path(sys.prefix) / "mlpipe-stack-cache"
URL_PLACEHOLDER = "{offline-function-url:%s}"
# The resources the offline cloud creates or reads; the others (roles, alarms, the dashboard) keep only their type.
OFFLINE_TYPES = {"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::DynamoDB::Table", "AWS::Lambda::Function",
                 "AWS::Events::Rule", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Url"}


@dataclass(frozen=True)
class Route:
    rule_name: str
    pattern: dict


@dataclass(frozen=True)
class SqsSource:
    queue_name: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout: int
    memory_mb: int
    routes: tuple[Route, ...]
    sqs_sources: tuple[SqsSource, ...] = ()
    max_retries: int = 2  # Lambda's default for asynchronous invocations
    max_event_age: int = 21600  # seconds an asynchronous event may wait before it is sent to the on-failure destination
    on_failure_queue: str | None = None  # on-failure destination of asynchronous invocations
    url_auth: str | None = None  # AuthType of the function's URL, if it has one
    layers: tuple[str, ...] = ()  # the template's logical ids of its layers, in order


@dataclass
class Stack:
    """The stack as the offline cloud creates it: resources with their properties resolved, and the functions."""

    name: str
    region: str
    template_path: Path
    resources: dict  # logical id -> {"Type", "Properties" (resolved)} of the resources whose Condition holds
    physical_names: dict[str, str]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    resolved_outputs: dict[str, str] = field(default_factory=dict)
    function_urls: dict[str, str] = field(default_factory=dict)

    def resources_of_type(self, resource_type: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == resource_type]

    def name_of(self, logical_id: str) -> str:
        return self.physical_names[logical_id]

    def properties(self, logical_id: str) -> dict:
        """A resource's Properties with intrinsics resolved to the offline names."""
        return self.resources[logical_id].get("Properties", {})

    def set_function_url(self, function_id: str, url: str) -> None:
        """The offline address of a function's URL, as Fn::GetAtt <Function>Url.FunctionUrl answers it."""
        self.function_urls[function_id] = url

    def outputs(self) -> dict[str, str]:
        """The template's Outputs whose Condition holds, resolved to the offline names (what DescribeStacks would list)."""
        values = {}
        for name, value in self.resolved_outputs.items():
            for function_id, url in self.function_urls.items():
                value = value.replace(URL_PLACEHOLDER % function_id, url)
            values[name] = value
        return values

    # -- the cache --------------------------------------------------------------------------------------------------
    def to_json(self) -> str:
        functions = {lid: {**dataclasses.asdict(spec), "code_dir": str(spec.code_dir), "layer_dirs": [str(d) for d in spec.layer_dirs]}
                     for lid, spec in self.functions.items()}
        return json.dumps({"name": self.name, "region": self.region, "template_path": str(self.template_path),
                           "resources": self.resources, "physical_names": self.physical_names, "functions": functions,
                           "parameters": self.parameters, "resolved_outputs": self.resolved_outputs}, default=str)

    @classmethod
    def from_json(cls, text: str) -> "Stack":
        doc = json.loads(text)
        functions = {}
        for lid, spec in doc["functions"].items():
            spec.update(code_dir=Path(spec["code_dir"]), layer_dirs=tuple(Path(d) for d in spec["layer_dirs"]),
                        routes=tuple(Route(**r) for r in spec["routes"]), sqs_sources=tuple(SqsSource(**q) for q in spec["sqs_sources"]),
                        layers=tuple(spec["layers"]))
            functions[lid] = FunctionSpec(**spec)
        return cls(doc["name"], doc["region"], Path(doc["template_path"]), doc["resources"], doc["physical_names"], functions,
                   doc["parameters"], doc["resolved_outputs"])


class _NoManagedPolicies:
    """The translator expands managed policy names to ARNs; the template names none."""

    def load(self) -> dict:
        return {}


def _name_from_arn(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _physical_name(stack_name: str, logical_id: str) -> str:
    # Short, lower-case and unique per resource: valid as a bucket, queue or function name.
    return f"{stack_name}-{logical_id}".lower()[:63]


def _arn(resource_type: str, name: str, region: str) -> str:
    service = {
        "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}",
        "AWS::SNS::Topic": f"arn:aws:sns:{region}:{ACCOUNT_ID}:{name}",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}",
    }
    return service.get(resource_type, f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}")


def translate(template: dict, parameters: dict[str, str], region: str) -> tuple[dict, dict[str, Path], dict[str, str]]:
    """The CloudFormation template `sam deploy` would create, with each function's and layer's local folder.

    Returns the translated template, the code folder of each function, and the template's layer id of each
    translated layer (the translator adds a content hash to layer ids).
    """
    sam = copy.deepcopy(template)
    code_dirs, layer_ids = {}, {}
    for lid, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            code_dirs[lid] = resource["Properties"]["CodeUri"]
            resource["Properties"]["CodeUri"] = f"s3://offline/{lid}.zip"  # as `sam package` leaves it
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            layer_ids[lid] = resource["Properties"]["ContentUri"]
            resource["Properties"]["ContentUri"] = f"s3://offline/{lid}.zip"
    from samtranslator.translator.transform import transform

    # The translator counts what it did for its own telemetry and warns, when it is collected, that nobody published it.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region  # the translator asks boto for the region of its ARNs
    try:
        translated = transform(sam, parameters, _NoManagedPolicies())
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous
    translated_layers = {}
    for lid, resource in translated["Resources"].items():
        if resource["Type"] == "AWS::Lambda::LayerVersion":
            translated_layers[lid] = max((original for original in layer_ids if lid.startswith(original)), key=len)
    return translated, code_dirs, {**translated_layers, **{f"{lid}:dir": layer_ids[lid] for lid in layer_ids}}


def _ref_of(value) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def load_stack(
    template_path: Path = DEFAULT_TEMPLATE,
    stack_name: str = STACK_NAME,
    region: str = "us-east-1",
    parameter_overrides: dict[str, str] | None = None,
) -> Stack:
    template_path = Path(template_path).resolve()
    text = template_path.read_text()
    key = hashlib.sha256(json.dumps([text, str(template_path), stack_name, region, sorted((parameter_overrides or {}).items()),
                                     Path(__file__).read_text()]).encode()).hexdigest()[:32]
    cached = CACHE / f"{key}.json"
    if cached.is_file():
        return Stack.from_json(cached.read_text())
    stack = build_stack(template_path, text, stack_name, region, parameter_overrides)
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(stack.to_json())
    partial.replace(cached)  # atomic: a concurrent reader sees all of it or nothing
    return stack


def parse_template(text: str) -> dict:
    """The template as SAM CLI reads it (short-form intrinsics as their Fn:: maps, timestamps as text), with a loader
    of its own: samcli's yaml_parse installs those constructors on PyYAML's SafeLoader for the whole process, so
    every later yaml.safe_load would return OrderedDicts that yaml.safe_dump cannot write."""
    import yaml
    from samcli.yamlhelper import intrinsics_multi_constructor

    class TemplateLoader(yaml.SafeLoader):
        pass

    TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    TemplateLoader.add_multi_constructor("!", intrinsics_multi_constructor)
    return yaml.load(text, Loader=TemplateLoader)  # noqa: S506 - a SafeLoader subclass


def build_stack(template_path: Path, text: str, stack_name: str, region: str, parameter_overrides: dict[str, str] | None) -> Stack:
    from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
    from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable
    template = parse_template(text)
    parameters = {name: str(spec.get("Default")) for name, spec in template.get("Parameters", {}).items() if "Default" in spec}
    parameters.update(parameter_overrides or {})
    from .parameters import check

    check(template, parameters)  # what CloudFormation refuses is refused here, before anything starts
    translated, code_dirs, layers = translate(template, parameters, region)
    resources = translated.get("Resources", {})

    physical = {lid: _physical_name(stack_name, lid) for lid in resources}
    symbols: dict = {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": stack_name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        **parameters,
    }
    for lid, res in resources.items():
        arn = _arn(res.get("Type", ""), physical[lid], region)
        # Ref of a topic is its ARN; of most other resources, their name.
        symbols[lid] = {"Ref": arn if res.get("Type") == "AWS::SNS::Topic" else physical[lid], "Arn": arn,
                        "QueueName": physical[lid], "FunctionUrl": URL_PLACEHOLDER % lid.removesuffix("Url")}
    resolver = IntrinsicResolver(template=translated, symbol_resolver=IntrinsicsSymbolTable(template=translated,
                                                                                           logical_id_translator=symbols))
    conditions = translated.get("Conditions", {})

    def holds(condition: str | None) -> bool:
        return condition is None or bool(resolver.resolve_attribute({"condition": conditions[condition]})["condition"])

    def resolved(value):
        return resolver.resolve_attribute({"value": value})["value"]  # wrapped: dict keys that are logical ids stay keys

    existing = {lid: res for lid, res in resources.items() if holds(res.get("Condition"))}
    outputs = {name: str(resolved(output["Value"])) for name, output in translated.get("Outputs", {}).items()
               if holds(output.get("Condition"))}
    stack = Stack(stack_name, region, template_path,
                  {lid: {"Type": res["Type"], "Properties": resolved(res.get("Properties", {})) if res["Type"] in OFFLINE_TYPES else {}}
                   for lid, res in existing.items()},
                  physical, parameters=parameters, resolved_outputs=outputs)
    by_function: dict[str, dict] = {lid: {"routes": [], "sqs": [], "invoke": {}, "url": None}
                                    for lid, res in existing.items() if res["Type"] == "AWS::Lambda::Function"}
    for lid, res in existing.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Events::Rule":
            for target in props.get("Targets", []):
                if _ref_of(target["Arn"]) in by_function:
                    by_function[_ref_of(target["Arn"])]["routes"].append(Route(physical[lid][:64], stack.properties(lid)["EventPattern"]))
        elif res["Type"] == "AWS::Lambda::EventSourceMapping" and _ref_of(props["FunctionName"]) in by_function:
            source = stack.properties(lid)
            by_function[_ref_of(props["FunctionName"])]["sqs"].append(SqsSource(
                queue_name=_name_from_arn(source["EventSourceArn"]), batch_size=int(source.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in (source.get("FunctionResponseTypes") or [])))
        elif res["Type"] == "AWS::Lambda::EventInvokeConfig" and _ref_of(props["FunctionName"]) in by_function:
            by_function[_ref_of(props["FunctionName"])]["invoke"] = stack.properties(lid)
        elif res["Type"] == "AWS::Lambda::Url" and _ref_of(props["TargetFunctionArn"]) in by_function:
            by_function[_ref_of(props["TargetFunctionArn"])]["url"] = props["AuthType"]

    for lid, found in by_function.items():
        props = stack.properties(lid)
        on_failure = ((found["invoke"].get("DestinationConfig") or {}).get("OnFailure") or {})
        layer_ids = [layers[_ref_of(layer)] for layer in existing[lid]["Properties"].get("Layers", [])]
        stack.functions[lid] = FunctionSpec(
            logical_id=lid,
            name=physical[lid],
            handler=props["Handler"],
            code_dir=template_path.parent / code_dirs[lid],
            layer_dirs=tuple(template_path.parent / layers[f"{layer}:dir"] for layer in layer_ids),
            layers=tuple(layer_ids),
            environment={k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()},
            timeout=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            routes=tuple(found["routes"]),
            sqs_sources=tuple(found["sqs"]),
            max_retries=int(found["invoke"].get("MaximumRetryAttempts", 2)),
            max_event_age=int(found["invoke"].get("MaximumEventAgeInSeconds", 21600)),
            on_failure_queue=_name_from_arn(on_failure["Destination"]) if on_failure.get("Destination") else None,
            url_auth=found["url"],
        )
    return stack
