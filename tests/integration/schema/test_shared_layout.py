"""Two groups that disagree on a field's type, in one shared daily index (shared-daily).

In ``shared-daily`` a day's groups share one index and its mapping, so one
group's number and another's string for ``json.code`` conflict exactly like
one group that drifts: refused and parked within a day, mapped differently on
different days. The built SchemaHealFunction heals them the same way: one
decision for the shared scope, the shared drift template, a rebuild of the
disagreeing shared daily index, a replay of the parked document. Nothing is
lost, and afterwards both groups' shapes land directly.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.payloads import subscription_payload
from logstream.naming import SHARED_SCOPE
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

ORDERS, WEB = "/app/orders", "/app/Web_Front"
DAY1 = int(datetime(2025, 11, 23, 8, tzinfo=UTC).timestamp() * 1000)
DAY2 = DAY1 + 86_400_000
DAY3 = DAY2 + 86_400_000

pytestmark = pytest.mark.parametrize("index_layout", ["shared-daily"], indirect=True)


def _event(n: int, ts: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{ts:020d}{n:036d}", "timestamp": ts, "message": json.dumps(body)}


def _send(deployment: Deployment, group: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    report: dict[str, Any] = deployment.decode(subscription_payload(group, "s", events))
    assert report["undelivered"] == 0
    return report


def _conflicts(deployment: Deployment) -> dict[str, list[str]]:
    caps = deployment.search.field_caps(index=deployment.settings.alias, fields="json.*")
    return {name: sorted(types) for name, types in caps["fields"].items() if len(types) > 1}


def _heal() -> dict[str, Any]:
    result: dict[str, Any] = invoke(
        "SchemaHealFunction", {"log_groups": [ORDERS, WEB]}, timeout_seconds=600
    )
    return result


def _shared_decisions(deployment: Deployment) -> dict[str, str]:
    items = deployment.dynamodb.query(
        TableName=str(deployment.settings.state_table),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"drift#{SHARED_SCOPE}"}},
    )["Items"]
    return {item["field"]["S"]: item["established_type"]["S"] for item in items}


def _source(deployment: Deployment, group: str, event: dict[str, Any]) -> dict[str, Any]:
    index = deployment.daily_index(group, event["timestamp"])
    found: dict[str, Any] = deployment.search.get(index=index, id=event["id"])["_source"]
    return found


def test_two_groups_that_disagree_on_a_type_are_healed_like_one_group_that_drifts(
    deployment: Deployment,
) -> None:
    orders_day1 = _event(1, DAY1, {"code": 200, "path": "/pay"})
    web_day1 = _event(2, DAY1 + 1, {"code": "E42"})  # refused: the day's index says double
    web_day2 = _event(3, DAY2, {"code": "E43"})  # day 2 starts with a string: keyword
    orders_day2 = _event(4, DAY2 + 1, {"code": 201})  # a number fits a keyword
    assert deployment.daily_index(ORDERS, DAY1) == deployment.daily_index(WEB, DAY1)

    _send(deployment, ORDERS, [orders_day1])
    assert _send(deployment, WEB, [web_day1])["quarantined"] == 1
    _send(deployment, WEB, [web_day2])
    _send(deployment, ORDERS, [orders_day2])
    (parked,) = deployment.quarantine()
    assert (parked["log_group"], parked["field"], parked["established_type"]) == (
        WEB,
        "json.code",
        "double",
    )
    assert _conflicts(deployment) == {"json.code": ["double", "keyword"]}

    first = _heal()
    assert [g["group"] for g in first["groups"]] == [SHARED_SCOPE]
    assert (first["conflicts_after"], first["still_quarantined"]) == (0, 0)
    (shared,) = first["groups"]
    assert shared["indices_rebuilt"] == [deployment.daily_index(WEB, DAY2)]
    assert deployment.quarantine() == []
    assert _conflicts(deployment) == {}
    assert _shared_decisions(deployment) == {"json.code": "double"}

    everything = {ORDERS: [orders_day1, orders_day2], WEB: [web_day1, web_day2]}
    expected = Counter(
        deployment.daily_index(g, e["timestamp"])
        for g, events in everything.items()
        for e in events
    )
    assert deployment.counts_by_index() == dict(expected)
    # Each group's documents under their own _id; the numbers stay numbers, the strings
    # moved to a typed sibling beside them, exactly as for one group that drifts.
    for group, events in everything.items():
        for event in events:
            body = _source(deployment, group, event)
            assert body["log_group"] == group
            value = json.loads(event["message"])["code"]
            if isinstance(value, int):
                assert body["json"]["code"] == value
            else:
                assert "code" not in body["json"]
                assert [v for k, v in body["json"].items() if k.startswith("code_")] == [value]
    numeric_orders = deployment.search.count(
        index=deployment.settings.alias,
        body={
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"log_group": ORDERS}},
                        {"range": {"json.code": {"gte": 200}}},
                    ]
                }
            }
        },
    )["count"]
    assert numeric_orders == 2

    second = _heal()
    assert second["changes"] == 0
    assert deployment.counts_by_index() == dict(expected)

    # Afterwards both shapes land directly, on a day the shared drift template starts.
    web_day3 = _event(5, DAY3, {"code": "E44"})
    orders_day3 = _event(6, DAY3 + 1, {"code": 202})
    assert _send(deployment, WEB, [web_day3])["quarantined"] == 0
    assert _send(deployment, ORDERS, [orders_day3])["quarantined"] == 0
    assert deployment.quarantine() == []
    assert _conflicts(deployment) == {}
    assert _source(deployment, ORDERS, orders_day3)["json"]["code"] == 202
