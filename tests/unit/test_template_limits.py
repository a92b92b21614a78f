"""Fleet limits (issue 11): every configuration deploys inside AWS's quotas, with headroom.

Each row of :data:`CONFIGURATIONS` is compiled the way CloudFormation would
(SAM transform, then cfn-lint, through ``test_template.check_template``) and
measured, with its parameter values bound, against the quotas that stopped
the per-group template at about 30 to 156 groups:

* 500 resources per template;
* 4,096 bytes per parameter value;
* 10,240 characters of inline policy per IAM role (all its inline policies
  together; IAM does not count whitespace);
* 20 KB for the decoder's resource policy (its Lambda::Permission statements);
* 4 KB of environment variables per function;
* account mode: 25 KB of selection criteria, 30,720 characters of policy document.

Every test prints its figures (``pytest -s``). The searches find the largest
list-mode fleet of 40-character names, the most prefixes, and the most
exclusions that still fit, and fail when the README's "Fleet limits" states
other figures (a change that moves a limit updates the README too). A new row
(Transport=kinesis) is one more :class:`Configuration`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.cfn_values import Deployment, ParameterValue
from tests.unit.test_template import SAMPLE_PARAMETERS, Json, check_template, load_template

REGION = "us-east-1"
#: A stack name of realistic length: it is part of every generated name.
STACK_NAME = "logstream-central-logging"

MAX_RESOURCES = 500
MAX_PARAMETER_BYTES = 4096
MAX_ROLE_INLINE_POLICY_CHARS = 10_240
MAX_FUNCTION_POLICY_BYTES = 20 * 1024
MAX_ENVIRONMENT_BYTES = 4096
MAX_SELECTION_CRITERIA_BYTES = 25 * 1024
MAX_ACCOUNT_POLICY_DOCUMENT_CHARS = 30_720

#: The issue measured the per-group template with names of this length.
NAME_LENGTH = 40

#: The README's "Fleet limits" table states the searches' results; they must agree.
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def names(count: int, stem: str = "/aws/lambda/fleet-service-") -> tuple[str, ...]:
    """``count`` distinct log group names of exactly NAME_LENGTH characters."""
    width = NAME_LENGTH - len(stem)
    return tuple(f"{stem}{index:0{width}d}" for index in range(count))


def prefixes(count: int) -> tuple[str, ...]:
    """``count`` distinct name prefixes of NAME_LENGTH characters (ending in "-")."""
    return tuple(f"{name[:-1]}-" for name in names(count, stem="/ecs/cluster-team-service-"))


# Base values shared by every row: a SigV4 domain (its statements in every policy).
BASE: Mapping[str, ParameterValue] = {
    name: value for name, value in SAMPLE_PARAMETERS.items() if name != "LogGroupNames"
}
VPC: Mapping[str, ParameterValue] = {
    "VpcSubnetIds": ("subnet-0a1b2c3d4e5f60718", "subnet-1b2c3d4e5f6071829"),
    "VpcSecurityGroupIds": ("sg-0a1b2c3d4e5f60718",),
}


@dataclass(frozen=True, slots=True)
class Configuration:
    """One way to deploy the stack: its id and the parameter values it sets."""

    name: str
    parameters: Mapping[str, ParameterValue]

    def bound(self) -> dict[str, ParameterValue]:
        return {**BASE, **self.parameters}


CONFIGURATIONS = (
    Configuration("list-30", {"SelectionMode": "list", "LogGroupNames": names(30)}),
    Configuration("prefixes-50", {"SelectionMode": "prefixes", "LogGroupPrefixes": prefixes(50)}),
    Configuration(
        "account",
        {
            "SelectionMode": "account",
            "LogGroupPrefixes": prefixes(10),
            "ExcludedLogGroups": (*names(20), "/aws/lambda/noisy-*"),
        },
    ),
    Configuration("vpc-list-30", {"SelectionMode": "list", "LogGroupNames": names(30), **VPC}),
    Configuration(
        "kinesis-prefixes-50",
        {
            "SelectionMode": "prefixes",
            "LogGroupPrefixes": prefixes(50),
            "Transport": "kinesis",
            # The most the stream role's trust policy takes (test_template_kinesis.py).
            "SourceAccountIds": tuple(f"{100000000000 + n}" for n in range(45)),
            "OrganizationId": "o-abcdef1234",
        },
    ),
)


@dataclass(slots=True)
class Figures:
    """What one deployment measures against each quota."""

    resources: int = 0
    parameters: dict[str, int] = field(default_factory=dict)
    role_inline_policies: dict[str, int] = field(default_factory=dict)
    decoder_policy: int = 0
    environments: dict[str, int] = field(default_factory=dict)
    selection_criteria: int | None = None
    account_policy_document: int | None = None

    def usage(self) -> list[tuple[str, str, int, int]]:
        """(quota, what, used, limit) for every measured figure."""
        rows = [("resources", "resources", self.resources, MAX_RESOURCES)]
        rows += [
            ("parameter", f"parameter {name}", size, MAX_PARAMETER_BYTES)
            for name, size in self.parameters.items()
        ]
        rows += [
            ("role", f"inline policies of {role}", size, MAX_ROLE_INLINE_POLICY_CHARS)
            for role, size in self.role_inline_policies.items()
        ]
        rows.append(
            ("decoder", "decoder resource policy", self.decoder_policy, MAX_FUNCTION_POLICY_BYTES)
        )
        rows += [
            ("environment", f"environment of {name}", size, MAX_ENVIRONMENT_BYTES)
            for name, size in self.environments.items()
        ]
        if self.selection_criteria is not None:
            rows.append(
                (
                    "criteria",
                    "account policy selection criteria",
                    self.selection_criteria,
                    MAX_SELECTION_CRITERIA_BYTES,
                )
            )
        if self.account_policy_document is not None:
            rows.append(
                (
                    "document",
                    "account policy document",
                    self.account_policy_document,
                    MAX_ACCOUNT_POLICY_DOCUMENT_CHARS,
                )
            )
        return rows

    def exceeded(self) -> list[str]:
        return [
            f"{what}: {used} > {limit}" for _, what, used, limit in self.usage() if used > limit
        ]

    def tightest(self) -> str:
        """The figure with the least headroom, relative to its limit."""
        _, what, used, limit = max(self.usage(), key=lambda row: row[2] / row[3])
        return f"{what} {used} of {limit}"

    def headroom(self) -> str:
        """The tightest figure of each quota, one printed line each."""
        tightest: dict[str, tuple[str, int, int]] = {}
        for quota, what, used, limit in self.usage():
            if quota not in tightest or used / limit > tightest[quota][1] / tightest[quota][2]:
                tightest[quota] = (what, used, limit)
        return "\n".join(
            f"  {what:<52} {used:>6} of {limit:>6}  ({limit - used} left, {used / limit:.0%})"
            for what, used, limit in tightest.values()
        )


def _compact(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def _points_at(deployment: Deployment, target: Any, logical_id: str) -> bool:
    return target in {deployment.physical_name(logical_id), deployment.arn(logical_id)}


def _existing(deployment: Deployment, resource_type: str) -> Iterator[tuple[str, Json]]:
    for logical_id, resource in deployment.template["Resources"].items():
        if resource["Type"] == resource_type and deployment.exists(logical_id):
            yield logical_id, resource


def _role_inline_policies(deployment: Deployment) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for role_id, role in _existing(deployment, "AWS::IAM::Role"):
        own = deployment.value(role["Properties"].get("Policies", []))
        sizes[role_id] = sum(_compact(policy["PolicyDocument"]) for policy in own)
    for _, policy in _existing(deployment, "AWS::IAM::Policy"):
        properties = deployment.value(policy["Properties"])
        for role_id in sizes:
            if deployment.physical_name(role_id) in properties.get("Roles", []):
                sizes[role_id] += _compact(properties["PolicyDocument"])
    return sizes


def _decoder_policy(deployment: Deployment) -> int:
    """The decoder's resource policy as Lambda renders it: one statement per permission."""
    decoder_arn = deployment.arn("DecoderFunction")
    statements = []
    for logical_id, permission in _existing(deployment, "AWS::Lambda::Permission"):
        properties = deployment.value(permission["Properties"])
        if not _points_at(deployment, properties["FunctionName"], "DecoderFunction"):
            continue
        principal = properties["Principal"]
        condition: Json = {}
        if "SourceAccount" in properties:
            condition["StringEquals"] = {"AWS:SourceAccount": properties["SourceAccount"]}
        if "SourceArn" in properties:
            condition["ArnLike"] = {"AWS:SourceArn": properties["SourceArn"]}
        statements.append(
            {
                "Sid": deployment.physical_name(logical_id),
                "Effect": "Allow",
                "Principal": (
                    {"Service": principal}
                    if principal.endswith(".amazonaws.com")
                    else {"AWS": principal}
                ),
                "Action": properties["Action"],
                "Resource": decoder_arn,
                "Condition": condition,
            }
        )
    return _compact({"Version": "2012-10-17", "Id": "default", "Statement": statements})


def measure(transformed: Json, parameters: Mapping[str, ParameterValue]) -> Figures:
    deployment = Deployment(transformed, parameters, stack_name=STACK_NAME, region=REGION)
    figures = Figures(resources=len(transformed["Resources"]))
    figures.parameters = {
        name: len((",".join(value) if isinstance(value, tuple) else value).encode())
        for name, value in parameters.items()
    }
    figures.role_inline_policies = _role_inline_policies(deployment)
    figures.decoder_policy = _decoder_policy(deployment)
    for logical_id, function in _existing(deployment, "AWS::Lambda::Function"):
        variables = deployment.value(function["Properties"].get("Environment", {}))
        figures.environments[logical_id] = _compact(variables.get("Variables", {}))
    if deployment.exists("AccountSubscriptionPolicy"):
        policy = transformed["Resources"]["AccountSubscriptionPolicy"]["Properties"]
        criteria = str(deployment.value(policy["SelectionCriteria"]))
        document = str(deployment.value(policy["PolicyDocument"]))
        json.loads(document)  # must stay JSON
        figures.selection_criteria = len(criteria.encode())
        figures.account_policy_document = len(document)
    return figures


@pytest.fixture(scope="module", autouse=True)
def aws_region() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        yield


@pytest.fixture(scope="module")
def source() -> Json:
    return load_template()


@pytest.mark.parametrize("configuration", CONFIGURATIONS, ids=lambda c: c.name)
def test_each_configuration_compiles_within_the_quotas(
    source: Json, configuration: Configuration
) -> None:
    checked = check_template(source, configuration.bound())
    assert checked.problems == []
    assert checked.transformed is not None
    figures = measure(checked.transformed, configuration.bound())
    print(f"\n{configuration.name}: tightest per quota\n{figures.headroom()}")
    assert figures.exceeded() == []
    assert figures.resources < MAX_RESOURCES


def _fits(source: Json, parameters: Mapping[str, ParameterValue]) -> tuple[bool, str]:
    checked = check_template(source, parameters, lint_it=False)
    if checked.transformed is None:
        return False, "; ".join(checked.problems)
    figures = measure(checked.transformed, parameters)
    exceeded = figures.exceeded()
    return not exceeded, "; ".join(exceeded) or figures.tightest()


def largest_that_fits(
    source: Json, parameters_for: Callable[[int], Mapping[str, ParameterValue]], high: int
) -> tuple[int, str]:
    """The largest count in [1, high) whose deployment fits, and what stops the next one."""
    low = 1  # fits (asserted)
    fits, _ = _fits(source, parameters_for(low))
    assert fits
    too_many, reason = _fits(source, parameters_for(high))
    assert not too_many, f"{high} still fits: raise the search bound"
    while high - low > 1:
        middle = (low + high) // 2
        fits, why = _fits(source, parameters_for(middle))
        low, high, reason = (middle, high, reason) if fits else (low, middle, why)
    return low, reason


def test_the_largest_list_mode_fleet(source: Json) -> None:
    def listing(count: int) -> Mapping[str, ParameterValue]:
        return {**BASE, "SelectionMode": "list", "LogGroupNames": names(count)}

    largest, stopped_by = largest_that_fits(source, listing, high=200)
    print(f"\nlist mode: at most {largest} groups of {NAME_LENGTH} characters; then {stopped_by}")
    # The first limit was about 30 groups (a role's inline policies).
    assert largest >= 30
    assert f"| {largest} groups of {NAME_LENGTH}-character names;" in README, "update README"


def test_the_most_prefixes(source: Json) -> None:
    def by_prefix(count: int) -> Mapping[str, ParameterValue]:
        return {**BASE, "SelectionMode": "prefixes", "LogGroupPrefixes": prefixes(count)}

    largest, stopped_by = largest_that_fits(source, by_prefix, high=200)
    print(f"\nprefixes mode: at most {largest} prefixes of {NAME_LENGTH} characters; {stopped_by}")
    assert largest >= 50
    assert f"at most {largest} prefixes of {NAME_LENGTH} characters" in README, "update README"


def test_the_most_exclusions_in_account_mode(source: Json) -> None:
    def excluding(count: int) -> Mapping[str, ParameterValue]:
        return {**BASE, "SelectionMode": "account", "ExcludedLogGroups": names(count)}

    largest, stopped_by = largest_that_fits(source, excluding, high=200)
    print(f"\naccount mode: at most {largest} exclusions of {NAME_LENGTH} characters; {stopped_by}")
    assert largest >= 50
    assert f"at most {largest} exclusions of {NAME_LENGTH} characters" in README, "update README"


def test_the_measures_see_what_they_measure(source: Json) -> None:
    """The figures grow with what they count (a measure stuck at 0 would pass every limit)."""
    small, large = (
        measure(
            check_template(source, parameters, lint_it=False).transformed or {},
            parameters,
        )
        for parameters in (
            {**BASE, "SelectionMode": "list", "LogGroupNames": names(2)},
            {**BASE, "SelectionMode": "list", "LogGroupNames": names(20)},
        )
    )
    for role in ("BackfillFunctionRole", "ReconcileFunctionRole"):
        grown = large.role_inline_policies[role] - small.role_inline_policies[role]
        assert grown > 18 * 2 * NAME_LENGTH, role  # two ARNs per name, each holding it
    assert large.environments["DecoderFunction"] - small.environments["DecoderFunction"] >= (
        18 * (NAME_LENGTH + 1)
    )
    assert large.parameters["LogGroupNames"] == 20 * (NAME_LENGTH + 1) - 1
    assert small.decoder_policy == large.decoder_policy > 200
    assert small.resources == large.resources > 20
