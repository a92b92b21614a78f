"""Where the sweep stopped, so a huge account is swept over several runs.

Item and key: :mod:`logstream.state_table` (``fleet-sweep`` / ``cursor``).
A position is (listing prefix, DescribeLogGroups token of the page, groups of
that page already done): a run that stops mid-page resumes at the same page
and skips what it did. Re-doing a group is harmless (subscribing is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from logstream.state_table import fleet_sweep_key, n, s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


@dataclass(frozen=True, slots=True)
class SweepPosition:
    prefix_index: int = 0
    page_token: str | None = None  # None: the first page of the prefix
    done_in_page: int = 0
    started_ms: int = 0  # when this sweep began (its first run)
    runs: int = 0  # runs this sweep has taken so far
    #: The listing prefixes it walks (hashed): a changed selection starts a new sweep.
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class SweepState:
    position: SweepPosition | None  # None: no sweep in progress, the next run starts one
    completed_ms: int | None  # when the last whole sweep finished
    last_runs: int | None  # how many runs it took


class SweepCursorStore:
    """Reads and writes the one ``fleet-sweep`` item."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def load(self) -> SweepState:
        item = self._client.get_item(
            TableName=self._table, Key=fleet_sweep_key(), ConsistentRead=True
        ).get("Item")
        if not item:
            return SweepState(None, None, None)
        return SweepState(
            position=_position(item) if "prefix_index" in item else None,
            completed_ms=_number(item, "completed_ms"),
            last_runs=_number(item, "last_runs"),
        )

    def save(self, position: SweepPosition) -> None:
        values: dict[str, Any] = {
            ":i": n(position.prefix_index),
            ":d": n(position.done_in_page),
            ":st": n(position.started_ms),
            ":r": n(position.runs),
            ":f": s(position.fingerprint or "-"),
        }
        expression = (
            "SET prefix_index = :i, done_in_page = :d, started_ms = :st, runs = :r,"
            " fingerprint = :f"
        )
        if position.page_token is None:
            expression += " REMOVE next_token"
        else:
            values[":t"] = s(position.page_token)
            expression += ", next_token = :t"
        self._client.update_item(
            TableName=self._table,
            Key=fleet_sweep_key(),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )

    def complete(self, completed_ms: int, runs: int) -> None:
        """The sweep finished: forget its position, remember when and in how many runs."""
        self._client.put_item(
            TableName=self._table,
            Item={**fleet_sweep_key(), "completed_ms": n(completed_ms), "last_runs": n(runs)},
        )


def _number(item: Any, name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


def _position(item: Any) -> SweepPosition:
    return SweepPosition(
        prefix_index=int(item["prefix_index"]["N"]),
        page_token=item["next_token"]["S"] if "next_token" in item else None,
        done_in_page=int(item["done_in_page"]["N"]),
        started_ms=int(item["started_ms"]["N"]),
        runs=int(item["runs"]["N"]),
        fingerprint=item["fingerprint"]["S"],
    )
