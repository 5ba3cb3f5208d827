"""What the offline cloud reads from template.yaml: functions, their routes, code, layers and settings.

The template is first translated by the SAM translator, as `sam deploy` does, so Globals are merged
the way SAM merges them and every function's rules, invoke configuration, event source mappings and
URL are the CloudFormation resources AWS would get. Intrinsics are resolved by SAM CLI's own
resolver, to the names the offline cloud gives the resources; resources whose Condition is false
are left out. Nothing here restates a route.
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable
from samcli.yamlhelper import yaml_parse

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


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
    on_failure_queue: str | None = None  # on-failure destination of asynchronous invocations
    url_auth: str | None = None  # AuthType of the function's URL, if it has one
    layers: tuple[str, ...] = ()  # the template's logical ids of its layers, in order


@dataclass
class Stack:
    name: str
    region: str
    template_path: Path
    resources: dict  # the translated template's resources that exist (their Condition holds)
    physical_names: dict[str, str]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    resolver: IntrinsicResolver | None = None
    outputs_template: dict = field(default_factory=dict)
    symbols: dict = field(default_factory=dict)
    conditions: dict = field(default_factory=dict)

    def resources_of_type(self, resource_type: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == resource_type]

    def name_of(self, logical_id: str) -> str:
        return self.physical_names[logical_id]

    def set_function_url(self, function_id: str, url: str) -> None:
        """The offline address of a function's URL, as Fn::GetAtt <Function>Url.FunctionUrl answers it."""
        self.symbols[f"{function_id}Url"]["FunctionUrl"] = url

    def outputs(self) -> dict[str, str]:
        """The template's Outputs whose Condition holds, resolved to the offline names (what DescribeStacks would list)."""
        names = [n for n, o in self.outputs_template.items() if self.condition(o.get("Condition"))]
        # Resolved as a list: the resolver would also resolve dict keys that happen to be logical ids.
        values = self.resolver.resolve_attribute({"values": [self.outputs_template[n]["Value"] for n in names]})["values"]
        return {name: str(value) for name, value in zip(names, values)}

    def properties(self, logical_id: str) -> dict:
        """A resource's Properties with intrinsics resolved to the offline names."""
        return self.resolver.resolve_attribute(self.resources[logical_id].get("Properties", {}))

    def condition(self, name: str | None) -> bool:
        if name is None:
            return True
        return bool(self.resolver.resolve_attribute({"condition": self.conditions[name]})["condition"])


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
    stack_name: str = "mlpipe-offline",
    region: str = "us-east-1",
    parameter_overrides: dict[str, str] | None = None,
) -> Stack:
    template_path = Path(template_path).resolve()
    template = yaml_parse(template_path.read_text())
    parameters = {name: str(spec.get("Default")) for name, spec in template.get("Parameters", {}).items() if "Default" in spec}
    parameters.update(parameter_overrides or {})
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
                        "QueueName": physical[lid], "FunctionUrl": ""}
    resolver = IntrinsicResolver(template=translated, symbol_resolver=IntrinsicsSymbolTable(template=translated,
                                                                                           logical_id_translator=symbols))
    stack = Stack(stack_name, region, template_path, resources, physical, parameters=parameters, resolver=resolver,
                  outputs_template=translated.get("Outputs", {}), symbols=symbols, conditions=translated.get("Conditions", {}))
    stack.resources = {lid: res for lid, res in resources.items() if stack.condition(res.get("Condition"))}
    by_function: dict[str, dict] = {lid: {"routes": [], "sqs": [], "invoke": {}, "url": None}
                                    for lid in stack.resources_of_type("AWS::Lambda::Function")}
    for lid, res in stack.resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Events::Rule":
            for target in props.get("Targets", []):
                if _ref_of(target["Arn"]) in by_function:
                    pattern = resolver.resolve_attribute(props["EventPattern"])
                    by_function[_ref_of(target["Arn"])]["routes"].append(Route(physical[lid][:64], pattern))
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
        layer_ids = [layers[_ref_of(layer)] for layer in stack.resources[lid]["Properties"].get("Layers", [])]
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
            on_failure_queue=_name_from_arn(on_failure["Destination"]) if on_failure.get("Destination") else None,
            url_auth=found["url"],
        )
    return stack
