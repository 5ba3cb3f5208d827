"""What CloudFormation checks before it creates a stack: each parameter's constraints, then the template's Rules.

A value that CloudFormation would refuse is refused offline too, with the parameter named, so a
combination that cannot deploy (say, a larger input than the function's memory can hold) never
passes offline first. Rules support the rule-specific intrinsics CloudFormation documents for
assertions on parameter values: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains, Fn::EachMemberIn,
Fn::EachMemberEquals and Ref to a parameter.
"""

from __future__ import annotations

import re


class ParameterError(ValueError):
    """CloudFormation's ValidationError for a parameter value or a failed rule assertion."""


def _number(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ParameterError(f"Parameter '{name}' must be a number, not {value!r}") from None


def check_value(name: str, declared: dict, value: str) -> None:
    if "AllowedValues" in declared and value not in [str(v) for v in declared["AllowedValues"]]:
        raise ParameterError(f"Parameter '{name}' must be one of AllowedValues ({', '.join(map(str, declared['AllowedValues']))}), not {value!r}")
    if declared.get("Type") == "Number":
        number = _number(name, value)
        if "MinValue" in declared and number < float(declared["MinValue"]):
            raise ParameterError(f"Parameter '{name}' must be a number not less than {declared['MinValue']}")
        if "MaxValue" in declared and number > float(declared["MaxValue"]):
            raise ParameterError(f"Parameter '{name}' must be a number not greater than {declared['MaxValue']}")
    if "AllowedPattern" in declared and not re.fullmatch(declared["AllowedPattern"], value):
        raise ParameterError(f"Parameter '{name}' must match pattern {declared['AllowedPattern']}")


def _evaluate(expression, parameters: dict[str, str]):
    if isinstance(expression, dict) and len(expression) == 1:
        (function, argument), = expression.items()
        if function == "Ref":
            return parameters[argument]
        values = [_evaluate(a, parameters) for a in argument] if isinstance(argument, list) else _evaluate(argument, parameters)
        if function == "Fn::Equals":
            return str(values[0]) == str(values[1])
        if function == "Fn::Not":
            return not values[0]
        if function == "Fn::And":
            return all(values)
        if function == "Fn::Or":
            return any(values)
        if function == "Fn::Contains":
            return str(values[1]) in [str(v) for v in values[0]]
        if function == "Fn::EachMemberIn":
            return all(str(v) in [str(w) for w in values[1]] for v in values[0])
        if function == "Fn::EachMemberEquals":
            return all(str(v) == str(values[1]) for v in values[0])
        raise ParameterError(f"rule function {function} is not supported offline")
    if isinstance(expression, list):
        return [_evaluate(e, parameters) for e in expression]
    return expression


def check(template: dict, parameters: dict[str, str]) -> None:
    """Raise ParameterError for the first value or rule CloudFormation would refuse."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ParameterError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    for name, spec in declared.items():
        if name not in parameters:
            raise ParameterError(f"Parameters: [{name}] must have values")
        check_value(name, spec, parameters[name])
    for rule_name, rule in (template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], parameters):
            continue
        for assertion in rule.get("Assertions", []):
            if not _evaluate(assertion["Assert"], parameters):
                raise ParameterError(assertion.get("AssertDescription") or f"rule {rule_name} failed")
