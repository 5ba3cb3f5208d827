"""The offline stack as CloudFormation would create it: SAM's own translation of Globals, CloudFormation's
parameter checks and Rules."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlpipe.offline import parameters
from mlpipe.offline.template import load_stack


def test_globals_are_merged_as_sam_merges_them():
    """FailureFunction sets its own EventInvokeConfig destination; SAM deep-merges the rest of Globals' map into it."""
    stack = load_stack()
    failure = stack.functions["FailureFunction"]
    assert failure.max_event_age == 21600 and failure.max_retries == 2  # from Globals, kept beside its own destination
    assert failure.on_failure_queue == stack.name_of("UnhandledFailureQueue")
    assert stack.functions["TrainFunction"].on_failure_queue == stack.name_of("FunctionFailureQueue")
    assert {spec.layers[0] for spec in stack.functions.values()} == {"CommonLayer"}  # Globals' layer comes first everywhere
    assert stack.functions["PreprocessFunction"].layers == ("CommonLayer", "DataLayer", "SpecsLayer")


@pytest.mark.parametrize("overrides, message", [
    ({"NumRound": "0"}, "Parameter 'NumRound' must be a number not less than 1"),
    ({"XGBoostVersion": "0.90-1"}, "Parameter 'XGBoostVersion' must be one of AllowedValues"),
    ({"JobNamePrefix": "Upper"}, "Parameter 'JobNamePrefix' must match pattern"),
    ({"NoSuchParameter": "1"}, "Parameters: [NoSuchParameter] do not exist in the template"),
])
def test_values_cloudformation_refuses_are_refused_offline(overrides, message):
    with pytest.raises(parameters.ParameterError) as raised:
        load_stack(parameter_overrides=overrides)
    assert message in str(raised.value)


def test_rules_evaluate_conditions_and_assertions():
    template = {"Parameters": {"Memory": {"Type": "Number"}, "Input": {"Type": "Number"}},
                "Rules": {"Fits": {"RuleCondition": {"Fn::Equals": [{"Ref": "Memory"}, "1024"]},
                                   "Assertions": [{"Assert": {"Fn::Contains": [["10", "20"], {"Ref": "Input"}]},
                                                   "AssertDescription": "Input too large for Memory"}]}}}
    parameters.check(template, {"Memory": "1024", "Input": "20"})
    parameters.check(template, {"Memory": "2048", "Input": "500"})  # the rule's condition does not hold
    with pytest.raises(parameters.ParameterError, match="Input too large for Memory"):
        parameters.check(template, {"Memory": "1024", "Input": "30"})


def test_the_template_ties_the_largest_input_to_the_data_functions_memory():
    with pytest.raises(parameters.ParameterError, match="MaxInputMegabytes above 125 does not fit a 1024 MB function"):
        load_stack(parameter_overrides={"MaxInputMegabytes": "250"})
    stack = load_stack(parameter_overrides={"MaxInputMegabytes": "250", "DataFunctionMemoryMB": "2048"})
    assert stack.functions["PreprocessFunction"].environment["MAX_INPUT_MEGABYTES"] == "250"
    for name in ("PreprocessFunction", "ScoreFunction"):
        assert stack.functions[name].memory_mb == 2048
    # scoring streams: its limit is its own, set by time rather than memory
    assert stack.functions["ScoreFunction"].environment["MAX_SCORING_MEGABYTES"] == "2000"
    assert stack.functions["TrainFunction"].memory_mb == 256  # the others keep their own size
    assert load_stack(parameter_overrides={"MaxInputMegabytes": "500", "DataFunctionMemoryMB": "3008"}).functions[
        "PreprocessFunction"].memory_mb == 3008  # 153 MB + 4.66 × 500 MB is 77% of it
    with pytest.raises(parameters.ParameterError, match="MaxInputMegabytes above 500 does not fit a 3008 MB function"):
        load_stack(parameter_overrides={"MaxInputMegabytes": "750", "DataFunctionMemoryMB": "3008"})
    largest = load_stack(parameter_overrides={"MaxInputMegabytes": "1500", "DataFunctionMemoryMB": "10240"})
    assert largest.functions["PreprocessFunction"].memory_mb == 10240


def test_reading_the_template_leaves_pyyaml_as_it_was():
    # in a fresh process: samcli's own yaml_parse, which other tests call, changes PyYAML for the rest of a process
    code = """
import yaml
from mlpipe.offline.template import DEFAULT_TEMPLATE, parse_template
template = parse_template(DEFAULT_TEMPLATE.read_text())
assert template["Rules"]["InputFits1024MB"]["RuleCondition"] == {"Fn::Equals": [{"Ref": "DataFunctionMemoryMB"}, "1024"]}
loaded = yaml.safe_load("spec: {name: d}\\n")
assert type(loaded["spec"]) is dict and yaml.safe_dump(loaded) == "spec:\\n  name: d\\n", loaded
try:
    yaml.safe_load("!Ref X")
except yaml.constructor.ConstructorError:
    print("untouched")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "untouched", result.stderr


def test_sagemaker_job_routes_take_only_the_stacks_own_jobs_by_name_and_role():
    """A job state change reaches a function only for a job of this stack: its name prefix, and the role the stack's
    functions start it with (processing: ProcessingRole; training: SageMakerExecutionRole), as the events carry it."""
    stack = load_stack()
    roles = {"SageMaker Processing Job State Change": stack.functions["PreprocessFunction"].environment["PROCESSING_ROLE_ARN"],
             "SageMaker Training Job State Change": stack.functions["TrainFunction"].environment["SAGEMAKER_ROLE_ARN"]}
    seen = set()
    for spec in stack.functions.values():
        for route in spec.routes:
            (kind,) = route.pattern["detail-type"] if "detail-type" in route.pattern else (None,)
            if kind in roles:
                seen.add((spec.logical_id, kind))
                assert route.pattern["detail"]["RoleArn"] == [roles[kind]], (spec.logical_id, kind)
                assert "prefix" in route.pattern["detail"][kind.split()[1] + "JobName"][0]
    assert {("PreprocessFunction", "SageMaker Processing Job State Change"), ("FailureFunction", "SageMaker Processing Job State Change"),
            ("InferFunction", "SageMaker Training Job State Change"), ("FailureFunction", "SageMaker Training Job State Change")} <= seen
