"""The fair cursor in the DynamoDB state table (key from :mod:`logstream.state_table`).

One item for the deployment. Scheduled runs do not overlap (the function's
reserved concurrency is 1), so a plain put is enough: if two runs ever did,
the later write wins and the walk re-checks or skips one run's groups once;
it never stalls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from logstream.reconcile.cursor import Cursor
from logstream.state_table import n, reconcile_cursor_key, s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class CursorStore(Protocol):
    def load(self) -> Cursor: ...

    def save(self, cursor: Cursor) -> None: ...


class MemoryCursorStore:
    """The cursor in memory (no STATE_TABLE, and tests): it lasts one container."""

    def __init__(self) -> None:
        self.cursor = Cursor()

    def load(self) -> Cursor:
        return self.cursor

    def save(self, cursor: Cursor) -> None:
        self.cursor = cursor


class DynamoCursorStore:
    """``pk=reconcile-cursor``, ``sk=cursor``."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time):
        self._client = client
        self._table = table
        self._clock = clock

    def load(self) -> Cursor:
        item = self._client.get_item(
            TableName=self._table, Key=reconcile_cursor_key(), ConsistentRead=True
        ).get("Item")
        if not item:
            return Cursor()
        return Cursor(
            after=item["after"]["S"] if "after" in item else None,
            resume=item["resume"]["S"] if "resume" in item else None,
            cycle=int(item["cycle"]["N"]),
            cycle_runs=int(item["cycle_runs"]["N"]),
            cycle_checked=int(item["cycle_checked"]["N"]),
        )

    def save(self, cursor: Cursor) -> None:
        item: dict[str, Any] = {
            **reconcile_cursor_key(),
            "cycle": n(cursor.cycle),
            "cycle_runs": n(cursor.cycle_runs),
            "cycle_checked": n(cursor.cycle_checked),
            "updated_at": n(int(self._clock() * 1000)),
        }
        if cursor.after is not None:
            item["after"] = s(cursor.after)
        if cursor.resume is not None:
            item["resume"] = s(cursor.resume)
        self._client.put_item(TableName=self._table, Item=item)
