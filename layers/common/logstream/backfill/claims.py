"""First sightings of log groups in the state table, claimed once for auto-backfill.

Item and key: :mod:`logstream.state_table` (``subscribed#<group>`` / ``group``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from logstream.state_table import condition_failed, n, subscribed_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class GroupClaims:
    """A conditional put per group: exactly one caller ever claims a group first."""

    def __init__(
        self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def claim(self, log_group: str) -> bool:
        """True exactly once per group: the first time anyone claims it."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**subscribed_key(log_group), "first_seen_ms": n(int(self._clock() * 1000))},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def unclaim(self, log_group: str) -> None:
        """Forget a claim, so that the group's next sighting claims it again."""
        self._client.delete_item(TableName=self._table, Key=subscribed_key(log_group))
