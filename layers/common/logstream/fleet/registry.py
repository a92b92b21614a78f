"""The state-table record of each group the subscriber handled, and why.

Item and key: :mod:`logstream.state_table` (``fleet-groups`` / ``group#<group>``).
All records share one partition so a Query lists the fleet in name order:
reconciliation and backfill take their group set from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from logstream.state_table import (
    FLEET_GROUP_SK_PREFIX,
    FLEET_GROUPS_PK,
    fleet_group_key,
    n,
    s,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class GroupStatus(StrEnum):
    SUBSCRIBED = "subscribed"  # logstream's filter is on the group
    REFUSED = "refused"  # it could not be subscribed; ``reason`` says why
    ACCOUNT_POLICY = "account-policy"  # the account-level policy subscribes it
    REMOVED = "removed"  # logstream's filter was deleted (stack deletion)


@dataclass(frozen=True, slots=True)
class GroupRecord:
    log_group: str
    status: GroupStatus
    reason: str | None
    filter_name: str | None
    first_ms: int
    updated_ms: int


class SubscriptionRegistry:
    """Reads and writes the ``fleet-groups`` items."""

    def __init__(
        self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def record(
        self,
        log_group: str,
        status: GroupStatus,
        *,
        reason: str | None = None,
        filter_name: str | None = None,
    ) -> None:
        """Upsert the group's record; ``first_ms`` keeps the first time it was recorded."""
        now = n(int(self._clock() * 1000))
        names = {"#status": "status", "#reason": "reason", "#filter": "filter_name"}
        values: dict[str, Any] = {":status": s(status.value), ":now": now}
        sets = [
            "#status = :status",
            "updated_ms = :now",
            "first_ms = if_not_exists(first_ms, :now)",
        ]
        removes: list[str] = []
        for placeholder, value in (("#reason", reason), ("#filter", filter_name)):
            if value is None:
                removes.append(placeholder)
            else:
                values[f":{placeholder[1:]}"] = s(value)
                sets.append(f"{placeholder} = :{placeholder[1:]}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self._client.update_item(
            TableName=self._table,
            Key=fleet_group_key(log_group),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def get(self, log_group: str) -> GroupRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key=fleet_group_key(log_group), ConsistentRead=True
        ).get("Item")
        return _record(item) if item else None

    def records(self, status: GroupStatus | None = None) -> Iterator[GroupRecord]:
        """Every recorded group in name order (optionally of one status), page by page."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": s(FLEET_GROUPS_PK),
                ":prefix": s(FLEET_GROUP_SK_PREFIX),
            },
        }
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items", []):
                record = _record(item)
                if status is None or record.status is status:
                    yield record
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def shipped_groups(self) -> list[str]:
        """The groups whose events reach the decoder: subscribed, or under the account policy.

        Reconciliation and backfill take their group set from here (plus the selection)."""
        shipping = {GroupStatus.SUBSCRIBED, GroupStatus.ACCOUNT_POLICY}
        return [record.log_group for record in self.records() if record.status in shipping]


def _record(item: Any) -> GroupRecord:
    return GroupRecord(
        log_group=item["sk"]["S"].removeprefix(FLEET_GROUP_SK_PREFIX),
        status=GroupStatus(item["status"]["S"]),
        reason=item["reason"]["S"] if "reason" in item else None,
        filter_name=item["filter_name"]["S"] if "filter_name" in item else None,
        first_ms=int(item["first_ms"]["N"]),
        updated_ms=int(item["updated_ms"]["N"]),
    )
