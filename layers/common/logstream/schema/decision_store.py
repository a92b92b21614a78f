"""Drift decisions in the DynamoDB state table (keys from :mod:`logstream.state_table`).

One item per group and field, ``drift#<group>`` / ``field#<path>``, plus
``drift`` / ``group#<group>`` so the report can list every group.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from logstream.schema.decisions import Decision, Resolution
from logstream.state_table import (
    DRIFT_FIELD_SK_PREFIX,
    DRIFT_GROUP_SK_PREFIX,
    DRIFT_GROUPS_PK,
    drift_decision_key,
    drift_decision_pk,
    drift_group_key,
    n,
    s,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class DynamoDecisionStore:
    """Decisions in the state table: ``drift#<group>`` / ``field#<path>``."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def load(self, group: str) -> dict[str, Decision]:
        out: dict[str, Decision] = {}
        for item in self._query(drift_decision_pk(group), DRIFT_FIELD_SK_PREFIX):
            decision = Decision(
                group=item["group"]["S"],
                field=item["field"]["S"],
                established_type=item["established_type"]["S"],
                resolution=Resolution(item["resolution"]["S"]),
                types_seen=[v["S"] for v in item["types_seen"]["L"]],
                first_seen=int(item["first_seen"]["N"]),
                count=int(item["count"]["N"]),
                decided_at=int(item["decided_at"]["N"]),
                origin=item["origin"]["S"],
            )
            out[decision.field] = decision
        return out

    def save(self, decision: Decision) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **drift_decision_key(decision.group, decision.field),
                "group": s(decision.group),
                "field": s(decision.field),
                "established_type": s(decision.established_type),
                "resolution": s(decision.resolution.value),
                "types_seen": {"L": [s(t) for t in decision.types_seen]},
                "first_seen": n(decision.first_seen),
                "count": n(decision.count),
                "decided_at": n(decision.decided_at),
                "updated_at": n(int(time.time() * 1000)),
                "origin": s(decision.origin),
            },
        )
        self._client.put_item(
            TableName=self._table,
            Item={**drift_group_key(decision.group), "group": s(decision.group)},
        )

    def groups(self) -> list[str]:
        return [item["group"]["S"] for item in self._query(DRIFT_GROUPS_PK, DRIFT_GROUP_SK_PREFIX)]

    def _query(self, pk: str, sk_prefix: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
            "ExpressionAttributeValues": {":pk": s(pk), ":sk": s(sk_prefix)},
        }
        while True:
            page = self._client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
