"""Evaluate a template's intrinsic functions as one deployment would, for template tests.

CloudFormation resolves ``Ref``, ``Fn::Sub``, ``Fn::Join``, ``Fn::If`` and the
rest at deploy time; the template tests need the strings that come out (an
IAM policy's size, the account policy's JSON, the functions' environment), so
:class:`Deployment` evaluates them for bound parameter values. Resources get
placeholder physical names of the length CloudFormation gives them
(``<stack>-<LogicalId>-<suffix>``, at most 64 characters), so sizes measured
here are what a real stack of that name would have.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
ParameterValue = str | tuple[str, ...]

#: What Fn::If and the lists hold when a branch is AWS::NoValue: dropped by the caller.
NO_VALUE = object()

#: CloudFormation's generated names end in a 12-13 character random suffix.
_SUFFIX = "A1B2C3D4E5F6G"
_MAX_GENERATED_NAME = 64
_SUBSTITUTION = re.compile(r"\$\{([^}!]+)\}")

#: The service in an ARN of each resource type the tests meet.
_ARN_SERVICES = {
    "AWS::Lambda::Function": ("lambda", "function:"),
    "AWS::SQS::Queue": ("sqs", ""),
    "AWS::SNS::Topic": ("sns", ""),
    "AWS::DynamoDB::Table": ("dynamodb", "table/"),
    "AWS::IAM::Role": ("iam", "role/"),
    "AWS::Kinesis::Stream": ("kinesis", "stream/"),
    "AWS::Logs::Destination": ("logs", "destination:"),
    "AWS::CloudWatch::Alarm": ("cloudwatch", "alarm:"),
}


class UnsupportedIntrinsic(ValueError):
    """The template uses a function or reference this evaluator does not know."""


@dataclass(frozen=True, slots=True)
class Deployment:
    """A template bound to parameter values, stack name, account and region."""

    template: Json
    parameters: Mapping[str, ParameterValue]
    stack_name: str = "logstream"
    region: str = "us-east-1"
    account: str = "123456789012"
    partition: str = "aws"

    # -- parameters and conditions -------------------------------------------

    def parameter(self, name: str) -> str | list[str]:
        declared = self.template["Parameters"][name]
        is_list = declared["Type"] == "CommaDelimitedList" or declared["Type"].startswith("List<")
        raw = self.parameters.get(name, declared.get("Default"))
        if raw is None:
            raise UnsupportedIntrinsic(f"parameter {name} has no value and no default")
        if is_list:
            return list(raw) if isinstance(raw, tuple) else str(raw).split(",")
        return ",".join(raw) if isinstance(raw, tuple) else str(raw)

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def exists(self, logical_id: str) -> bool:
        """Whether the resource is created (its Condition, if any, holds)."""
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    # -- physical names -------------------------------------------------------

    def physical_name(self, logical_id: str) -> str:
        """What ``Ref`` gives for a resource: its declared name or a generated one."""
        resource = self.template["Resources"][logical_id]
        properties = resource.get("Properties", {})
        for key in ("LogGroupName", "FunctionName", "RoleName", "TableName", "PolicyName"):
            if key in properties:
                return str(self.value(properties[key]))
        if resource["Type"] == "AWS::Lambda::Permission":
            return f"{self.stack_name}-{logical_id}-{_SUFFIX}"
        generated = f"{self.stack_name}-{logical_id}-{_SUFFIX}"
        if len(generated) > _MAX_GENERATED_NAME:  # CloudFormation shortens both parts
            keep = (_MAX_GENERATED_NAME - len(_SUFFIX) - 2) // 2
            generated = f"{self.stack_name[:keep]}-{logical_id[:keep]}-{_SUFFIX}"
        return generated

    def arn(self, logical_id: str) -> str:
        resource_type = self.template["Resources"][logical_id]["Type"]
        if resource_type == "AWS::Serverless::Function":
            resource_type = "AWS::Lambda::Function"
        service, kind = _ARN_SERVICES.get(resource_type, ("unknown", ""))
        name = self.physical_name(logical_id)
        region = "" if service == "iam" else self.region
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{kind}{name}"

    def attribute(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in {"QueueName", "Name"}:
            return self.physical_name(logical_id)
        raise UnsupportedIntrinsic(f"Fn::GetAtt {logical_id}.{attribute}")

    # -- evaluation -------------------------------------------------------------

    def reference(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        if name in self.template["Resources"]:
            return self.physical_name(name)
        raise UnsupportedIntrinsic(f"Ref {name}")

    def value(self, node: Any) -> Any:
        """``node`` with every intrinsic function evaluated and AWS::NoValue dropped."""
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return self.reference(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        evaluated = {key: self.value(item) for key, item in node.items()}
        return {key: item for key, item in evaluated.items() if item is not NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:  # noqa: PLR0911 - one branch each
        match name:
            case "Fn::If":
                condition, when_true, when_false = argument
                return self.value(when_true if self.condition(condition) else when_false)
            case "Fn::Join":
                delimiter, items = argument
                return str(delimiter).join(str(item) for item in self.value(items))
            case "Fn::Split":
                delimiter, source = argument
                return str(self.value(source)).split(delimiter)
            case "Fn::Select":
                index, items = argument
                return self.value(items)[int(self.value(index))]
            case "Fn::Sub":
                return self._sub(argument)
            case "Fn::GetAtt":
                logical_id, attribute = (
                    argument.split(".", 1) if isinstance(argument, str) else argument
                )
                return self.attribute(logical_id, attribute)
            case "Fn::FindInMap":
                mapping, key, field = (self.value(part) for part in argument)
                return self.template["Mappings"][mapping][key][field]
            case "Fn::Equals":
                left, right = (self.value(part) for part in argument)
                return left == right
            case "Fn::Not":
                return not self.value(argument[0])
            case "Fn::And":
                return all(self.value(part) for part in argument)
            case "Fn::Or":
                return any(self.value(part) for part in argument)
            case "Fn::Contains":
                items, wanted = (self.value(part) for part in argument)
                return wanted in items
        raise UnsupportedIntrinsic(name)

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        bound = {key: self.value(item) for key, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name in bound:
                return str(bound[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.attribute(logical_id, attribute)
            return str(self.reference(name))

        return _SUBSTITUTION.sub(replace, text)
