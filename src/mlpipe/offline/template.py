"""What the offline cloud reads from template.yaml: functions, their routes, code, layers and settings.

Nothing here restates a route: the EventBridgeRule patterns, handlers, CodeUri, Layers and
Environment come from the template, with intrinsics resolved by SAM CLI's own resolver to
the names the offline cloud gives the resources.
"""

from __future__ import annotations

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


@dataclass
class Stack:
    name: str
    region: str
    template_path: Path
    resources: dict
    physical_names: dict[str, str]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    resolver: IntrinsicResolver | None = None

    def resources_of_type(self, resource_type: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == resource_type]

    def name_of(self, logical_id: str) -> str:
        return self.physical_names[logical_id]

    def outputs(self) -> dict[str, str]:
        """The template's Outputs, resolved to the offline names (what DescribeStacks would list)."""
        template = yaml_parse(self.template_path.read_text())
        names = list(template.get("Outputs", {}))
        # Resolved as a list: the resolver would also resolve dict keys that happen to be logical ids.
        values = self.resolver.resolve_attribute({"values": [template["Outputs"][name]["Value"] for name in names]})["values"]
        return {name: str(value) for name, value in zip(names, values)}

    def properties(self, logical_id: str) -> dict:
        """A resource's Properties with intrinsics resolved to the offline names."""
        return self.resolver.resolve_attribute(self.resources[logical_id].get("Properties", {}))


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


def load_stack(
    template_path: Path = DEFAULT_TEMPLATE,
    stack_name: str = "mlpipe-offline",
    region: str = "us-east-1",
    parameter_overrides: dict[str, str] | None = None,
) -> Stack:
    template_path = Path(template_path).resolve()
    template = yaml_parse(template_path.read_text())
    resources = template.get("Resources", {})
    parameters = {
        name: str(spec.get("Default")) for name, spec in template.get("Parameters", {}).items() if "Default" in spec
    }
    parameters.update(parameter_overrides or {})

    physical = {lid: _physical_name(stack_name, lid) for lid in resources}
    translator: dict = {
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
        translator[lid] = {"Ref": arn if res.get("Type") == "AWS::SNS::Topic" else physical[lid], "Arn": arn}
    resolver = IntrinsicResolver(template=template, symbol_resolver=IntrinsicsSymbolTable(template=template, logical_id_translator=translator))
    globals_fn = (template.get("Globals") or {}).get("Function", {})
    stack = Stack(stack_name, region, template_path, resources, physical, parameters=parameters, resolver=resolver)

    for lid, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_fn, **res.get("Properties", {})}
        env = {
            **((globals_fn.get("Environment") or {}).get("Variables") or {}),
            **((res["Properties"].get("Environment") or {}).get("Variables") or {}),
        }
        layers = [*(globals_fn.get("Layers") or []), *(res["Properties"].get("Layers") or [])]
        layer_dirs = []
        for layer in layers:
            layer_id = layer.get("Ref") if isinstance(layer, dict) else None
            if layer_id not in resources:
                raise ValueError(f"{lid}: layer {layer!r} is not a layer of this template")
            layer_dirs.append(template_path.parent / resources[layer_id]["Properties"]["ContentUri"])
        routes, sqs_sources = [], []
        for event_id, event in (res["Properties"].get("Events") or {}).items():
            event_props = resolver.resolve_attribute(event["Properties"])
            if event.get("Type") == "EventBridgeRule":
                routes.append(Route(rule_name=f"{physical[lid]}-{event_id}".lower()[:64], pattern=event_props["Pattern"]))
            elif event.get("Type") == "SQS":
                sqs_sources.append(SqsSource(
                    queue_name=_name_from_arn(event_props["Queue"]),
                    batch_size=int(event_props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures" in (event_props.get("FunctionResponseTypes") or []),
                ))
            else:
                raise ValueError(f"{lid}.{event_id}: the offline cloud routes EventBridgeRule and SQS events, not {event.get('Type')}")
        invoke_config = resolver.resolve_attribute(props.get("EventInvokeConfig") or {})
        on_failure = ((invoke_config.get("DestinationConfig") or {}).get("OnFailure") or {})
        if on_failure and on_failure.get("Type") != "SQS":
            raise ValueError(f"{lid}: the offline cloud delivers on-failure destinations of Type SQS only")
        stack.functions[lid] = FunctionSpec(
            logical_id=lid,
            name=physical[lid],
            handler=props["Handler"],
            code_dir=template_path.parent / props["CodeUri"],
            layer_dirs=tuple(layer_dirs),
            environment={k: str(v) for k, v in resolver.resolve_attribute(env).items()},
            timeout=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            routes=tuple(routes),
            sqs_sources=tuple(sqs_sources),
            max_retries=int(invoke_config.get("MaximumRetryAttempts", 2)),
            on_failure_queue=_name_from_arn(on_failure["Destination"]) if on_failure else None,
        )
    return stack
