"""The subscriber's block of template.yaml: its permissions, triggers and deletion order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.test_template import (
    REGION,
    REPO,
    Json,
    check_template,
    load_template,
    resources_of,
)

FILTER_ACTIONS = {
    "logs:DescribeLogGroups",
    "logs:DescribeSubscriptionFilters",
    "logs:PutSubscriptionFilter",
    "logs:DeleteSubscriptionFilter",
}


@pytest.fixture(scope="module")
def deployed() -> Iterator[Json]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        checked = check_template(load_template())
    assert checked.problems == []
    assert checked.transformed is not None
    yield checked.transformed


def _statements(deployed: Json, role_id: str) -> list[Json]:
    """Every statement a role may hold: both branches of a conditional one."""
    role = deployed["Resources"][role_id]["Properties"]
    found: list[Json] = []
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                found += [s for s in statement["Fn::If"][1:] if "Action" in s]
            else:
                found.append(statement)
    return found


def _actions(statement: Json) -> set[str]:
    actions: Any = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_only_the_subscriber_may_put_or_delete_filters(deployed: Json) -> None:
    functions = resources_of(deployed, "AWS::Lambda::Function")
    for function_id, function in functions.items():
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        granted = set().union(*(_actions(s) for s in _statements(deployed, role_id)))
        if function_id == "SubscriberFunction":
            assert granted >= FILTER_ACTIONS
        else:
            assert not granted & {"logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter"}


def test_the_subscriber_points_filters_at_the_decoder_under_the_stacks_name(
    deployed: Json,
) -> None:
    function = deployed["Resources"]["SubscriberFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    # The decoder with Transport=lambda; the stream and its role with kinesis.
    assert variables["SUBSCRIPTION_DESTINATION_ARN"] == {
        "Fn::If": [
            "UseKinesis",
            {"Fn::GetAtt": ["LogStream", "Arn"]},
            {"Fn::GetAtt": ["DecoderFunction", "Arn"]},
        ]
    }
    assert variables["SUBSCRIPTION_ROLE_ARN"] == {
        "Fn::If": ["UseKinesis", {"Fn::GetAtt": ["LogsToKinesisRole", "Arn"]}, ""]
    }
    assert variables["SUBSCRIPTION_FILTER_NAME"] == {"Fn::Sub": "${AWS::StackName}-logstream"}
    settings = (REPO / "layers/common/logstream/settings.py").read_text(encoding="utf-8")
    for name in variables:
        if not name.startswith("POWERTOOLS_"):
            assert f'"{name}"' in settings, name
    assert function["ReservedConcurrentExecutions"] == 1  # one writer of the sweep position


def test_new_groups_and_the_sweep_reach_the_subscriber(deployed: Json) -> None:
    resources = deployed["Resources"]
    created = resources["SubscriberNewGroupRule"]["Properties"]
    assert created["EventPattern"]["detail"]["eventName"] == ["CreateLogGroup"]
    assert created["EventPattern"]["detail-type"] == ["AWS API Call via CloudTrail"]
    sweep = resources["SubscriberSweepRule"]["Properties"]
    assert sweep["ScheduleExpression"] == {"Fn::Sub": "rate(${SubscriberSweepMinutes} minutes)"}
    for rule_id in ("SubscriberNewGroupRule", "SubscriberSweepRule"):
        (target,) = resources[rule_id]["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": ["SubscriberFunction", "Arn"]}
        permissions = [
            p["Properties"]
            for p in resources_of(deployed, "AWS::Lambda::Permission").values()
            if p["Properties"].get("SourceArn") == {"Fn::GetAtt": [rule_id, "Arn"]}
        ]
        assert [p["Principal"] for p in permissions] == ["events.amazonaws.com"]


def test_stack_deletion_removes_the_filters_after_the_triggers_are_gone(deployed: Json) -> None:
    resources = deployed["Resources"]
    setup = resources["SubscriberSetup"]
    assert setup["Type"] == "Custom::LogstreamSubscriptions"
    assert setup["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["SubscriberFunction", "Arn"]}
    # CloudFormation deletes dependents first: no rule can start a sweep during the removal.
    for rule_id in ("SubscriberNewGroupRule", "SubscriberSweepRule"):
        depends = resources[rule_id].get("DependsOn")
        assert "SubscriberSetup" in ([depends] if isinstance(depends, str) else depends)
    # The function's own group exists before its first invocation (the setup's).
    assert "SubscriberLogGroup" in setup["DependsOn"]
    # A selection change updates the resource, so the update sweeps at once.
    assert "LogGroupNames" in json.dumps(setup["Properties"])
