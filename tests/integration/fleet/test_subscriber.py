"""The subscriber on moto with 1,000 log groups: the built SubscriberFunction sweeps
(over several deadline-bounded runs), subscribes new groups from real-shaped CloudTrail
events with their backfill planned, and the stack's Delete removes only its own filters.

moto checks a Lambda destination exists, so the decoder and a foreign forwarder are
created as moto functions (never invoked: no events are put into subscribed groups).
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.lambda_context import FakeLambdaContext
from logstream import clients
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

EVENTS = Path(__file__).resolve().parents[3] / "events"
STACK = "itfleet"
OWN_PREFIX = f"/aws/lambda/{STACK}-"
FILTER_NAME = f"{STACK}-logstream"
SUBSCRIBER = "SubscriberFunction"


@dataclass
class Fleet:
    deployment: Deployment
    decoder_arn: str
    foreign_arn: str
    groups: dict[str, str]  # name -> kind
    foreign_filters: dict[str, list[str]]  # name -> foreign filter names put before the sweep

    def filters(self, group: str) -> dict[str, str]:
        rows = self.deployment.logs.describe_subscription_filters(logGroupName=group)
        return {row["filterName"]: row["destinationArn"] for row in rows["subscriptionFilters"]}


def _moto_function(aws_env: dict[str, str], name: str) -> str:
    """A function moto knows (a subscription destination must exist); never invoked."""
    kwargs: Any = {
        "endpoint_url": aws_env["AWS_ENDPOINT_URL"],
        "region_name": aws_env["AWS_REGION"],
        "aws_access_key_id": aws_env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": aws_env["AWS_SECRET_ACCESS_KEY"],
    }
    iam = boto3.client("iam", **kwargs)
    try:
        role = iam.get_role(RoleName="fleet-test")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="fleet-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    arn: str = boto3.client("lambda", **kwargs).create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    return arn


def _kinds() -> dict[str, str]:
    """1,000 groups: what the sweep must subscribe, leave alone, or report."""
    groups: dict[str, str] = {}
    groups.update({f"/app/svc-{i:04d}": "match" for i in range(650)})
    groups.update({f"/app/one-foreign-{i:03d}": "one-foreign" for i in range(50)})
    groups.update({f"/app/two-foreign-{i:03d}": "two-foreign" for i in range(20)})
    groups.update({f"/aws/lambda/orders-{i:03d}": "match" for i in range(100)})
    groups.update({f"{OWN_PREFIX}Decoder{i:03d}-x": "own" for i in range(50)})
    groups.update({f"/app/excluded-{i:03d}": "excluded" for i in range(30)})
    groups.update({f"/ecs/other-{i:03d}": "other" for i in range(100)})
    assert len(groups) == 1000
    return groups


@pytest.fixture
def fleet(
    deployment: Deployment, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    suffix = deployment.settings.index_prefix  # unique per test
    decoder = _moto_function(aws_env, f"{STACK}-DecoderFunction-{suffix}")
    foreign = _moto_function(aws_env, f"forwarder-{suffix}")
    for name, value in {
        "LOG_GROUP_SELECTION": "prefixes",
        "LOG_GROUP_PREFIXES": "/app/,/aws/lambda/",
        "EXCLUDED_LOG_GROUPS": "/app/excluded-*",
        "LOGSTREAM_OWN_LOG_GROUP_PREFIXES": OWN_PREFIX,
        "SUBSCRIPTION_FILTER_NAME": FILTER_NAME,
        "SUBSCRIPTION_DESTINATION_ARN": decoder,
        "BACKFILL_DAYS": "1",
        "DEADLINE_MARGIN_MS": "1000",
    }.items():
        monkeypatch.setenv(name, value)
    clients.reset()
    logs = deployment.logs
    groups = _kinds()
    foreign_filters: dict[str, list[str]] = {}
    for name, kind in groups.items():
        logs.create_log_group(logGroupName=name)
        wanted = {"one-foreign": ["datadog"], "two-foreign": ["datadog", "splunk"]}.get(kind, [])
        for filter_name in wanted:
            logs.put_subscription_filter(
                logGroupName=name,
                filterName=filter_name,
                filterPattern="",
                destinationArn=foreign,
            )
        foreign_filters[name] = wanted
    yield Fleet(deployment, decoder, foreign, groups, foreign_filters)
    clients.reset()


def _countdown(total_ms: int, step_ms: int) -> FakeLambdaContext:
    """A run that ends after a fixed number of looks at the clock, however fast the machine."""
    left = [total_ms]

    def remaining() -> int:
        left[0] -= step_ms
        return left[0]

    return FakeLambdaContext(function_name=f"{STACK}-SubscriberFunction-1", remaining_ms=remaining)


def _scheduled() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "subscriber-scheduled.json").read_text())
    return event


def _created(group: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "subscriber-create-log-group.json").read_text())
    event["detail"]["requestParameters"]["logGroupName"] = group
    return event


def _claimed(fleet: Fleet, group: str) -> bool:
    item = fleet.deployment.dynamodb.get_item(
        TableName=fleet.deployment.settings.state_table or "",
        Key={"pk": {"S": f"subscribed#{group}"}, "sk": {"S": "group"}},
    )
    return "Item" in item


def _planned_groups(fleet: Fleet) -> set[str]:
    """Groups of every backfill job in the state table (the job index, then each job)."""
    table = fleet.deployment.settings.state_table or ""
    dynamodb = fleet.deployment.dynamodb
    planned: set[str] = set()
    for page in dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "backfill-jobs"}},
    ):
        for row in page["Items"]:
            job_id = row["sk"]["S"].rsplit("#", 1)[1]
            job = dynamodb.get_item(
                TableName=table, Key={"pk": {"S": f"backfill#{job_id}"}, "sk": {"S": "job"}}
            )["Item"]
            planned.update(g["S"] for g in job["log_groups"]["L"])
    return planned


def test_a_thousand_groups_swept_subscribed_and_removed(fleet: Fleet) -> None:
    # 1. The sweep, in runs that each end after 300 looks at the clock (1 s apart with
    #    DEADLINE_MARGIN_MS=1000 and a 30 s reserve: ~270 looks of work a run).
    reports: list[dict[str, Any]] = []
    while not reports or not reports[-1]["complete"]:
        assert len(reports) < 40, "the sweep never completes"
        reports.append(invoke(SUBSCRIBER, _scheduled(), context=_countdown(300_000, 1_000)))
    runs = len(reports)
    assert runs > 1, "the budget was meant to need several runs"
    assert reports[-1]["runs"] == runs
    outcomes: Counter[str] = Counter()
    for report in reports:
        outcomes.update(report["outcomes"])
    calls = dict(clients.fleet_service().subscriber.filters.calls)

    kinds = Counter(fleet.groups.values())
    # Exactly the matching groups got logstream's filter; foreign filters are untouched.
    for group, kind in fleet.groups.items():
        found = fleet.filters(group)
        foreign = {name: fleet.foreign_arn for name in fleet.foreign_filters[group]}
        if kind in {"match", "one-foreign"}:
            assert found == {**foreign, FILTER_NAME: fleet.decoder_arn}, group
        else:
            assert found == foreign, group
    assert outcomes["subscribed"] == kinds["match"] + kinds["one-foreign"]
    assert outcomes["refused-two-filters"] == kinds["two-foreign"]
    assert outcomes["own"] == kinds["own"]
    assert outcomes["excluded"] == kinds["excluded"]
    assert "other" not in outcomes  # /ecs/ is never even listed

    registry = clients.fleet_service().subscriber.registry
    records = {record.log_group: record for record in registry.records()}
    refused = {g for g, r in records.items() if r.status == "refused"}
    assert refused == {g for g, k in fleet.groups.items() if k == "two-foreign"}
    assert all("datadog" in (records[g].reason or "") for g in refused)
    subscribed = {g for g, r in records.items() if r.status == "subscribed"}
    assert subscribed == {g for g, k in fleet.groups.items() if k in {"match", "one-foreign"}}
    assert set(registry.shipped_groups()) == subscribed
    # Each subscribed group's history was planned, through the decoder's own claim.
    assert all(_claimed(fleet, group) for group in subscribed)
    assert _planned_groups(fleet) == subscribed

    # 2. A second sweep changes nothing and plans nothing again.
    again = invoke(SUBSCRIBER, _scheduled(), timeout_seconds=900)
    assert again["complete"] is True
    assert again["outcomes"].get("subscribed", 0) == 0
    assert again["outcomes"]["already"] == len(subscribed)

    # 3. Groups created afterwards: the CloudTrail event subscribes and plans the match only.
    new = {
        "/app/new-orders": "subscribed",
        f"{OWN_PREFIX}NewFn-1": "own",
        "/ecs/new": "not-selected",
    }
    for group, expected in new.items():
        fleet.deployment.logs.create_log_group(logGroupName=group)
        answer = invoke(SUBSCRIBER, _created(group))
        assert (answer["ok"], answer["outcome"]) == (True, expected), group
    assert fleet.filters("/app/new-orders") == {FILTER_NAME: fleet.decoder_arn}
    assert fleet.filters(f"{OWN_PREFIX}NewFn-1") == {}
    assert "/app/new-orders" in _planned_groups(fleet)

    # 4. Stack deletion: logstream's filters go, every foreign one stays.
    with _ResponseSink() as sink:
        event = json.loads((EVENTS / "subscriber-custom-resource.json").read_text())
        event.update({"RequestType": "Delete", "ResponseURL": sink.url})
        event["PhysicalResourceId"] = "logstream-fleet-subscriptions"
        sent = invoke(SUBSCRIBER, event, timeout_seconds=900)
    assert sink.bodies == [sent]
    assert sent["Status"] == "SUCCESS", sent["Reason"]
    assert sent["Data"]["removed"] == str(len(subscribed) + 1)
    for group in fleet.groups:
        assert fleet.filters(group) == {n: fleet.foreign_arn for n in fleet.foreign_filters[group]}
    assert fleet.filters("/app/new-orders") == {}

    print(
        f"\nfleet sweep: {len(fleet.groups)} groups, {runs} runs of ~270 deadline looks, "
        f"outcomes {dict(sorted(outcomes.items()))}, CloudWatch calls {calls}"
    )


class _ResponseSink:
    """A local stand-in for CloudFormation's presigned response URL."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/response"

    def __enter__(self) -> _ResponseSink:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
