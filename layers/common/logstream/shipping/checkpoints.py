"""Acknowledged watermarks: per log group and stream, the newest event time the cluster holds.

A watermark is written only after the cluster acknowledged the documents, and
with a conditional write so it never moves backwards, whatever order
concurrent invocations finish in.

A write is only started when the deadline leaves room for the slowest a
DynamoDB call can be (``call_bound_secs``, from the boto timeouts and retries
set in :mod:`logstream.clients`); otherwise it is skipped with a warning and
the ``CheckpointsSkipped`` metric. Skipping is safe: a watermark only lags.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.shipping.documents import Document
from logstream.state_table import checkpoint_key, condition_failed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

StreamKey = tuple[str, str]  # (log group, log stream)


class CheckpointStore(Protocol):
    def advance(self, watermarks: Mapping[StreamKey, int], deadline: Deadline) -> int:
        """Move each watermark forward while time allows; returns how many moved."""
        ...

    def get(self, log_group: str, log_stream: str) -> int | None: ...


def acknowledged_watermarks(
    acknowledged: Iterable[Document], unacknowledged: Iterable[Document]
) -> dict[StreamKey, int]:
    """Per stream, the newest acknowledged event time below the oldest unacknowledged one.

    A stream whose oldest undelivered event is at time t only gets a watermark
    below t, so a watermark always means "everything up to here is in".
    """
    floor: dict[StreamKey, int] = {}
    for document in unacknowledged:
        key = (document.log_group, document.log_stream)
        floor[key] = min(floor.get(key, document.timestamp), document.timestamp)
    marks: dict[StreamKey, int] = {}
    for document in acknowledged:
        key = (document.log_group, document.log_stream)
        limit = floor.get(key)
        if limit is not None and document.timestamp >= limit:
            continue
        if document.timestamp > marks.get(key, -1):
            marks[key] = document.timestamp
    return marks


class DynamoCheckpointStore:
    """Checkpoints in the state table (item schema: :mod:`logstream.state_table`)."""

    def __init__(self, client: DynamoDBClient, table: str, *, call_bound_secs: float) -> None:
        self._client = client
        self._table = table
        self._call_bound = call_bound_secs

    def advance(self, watermarks: Mapping[StreamKey, int], deadline: Deadline) -> int:
        moved = 0
        now = str(int(time.time() * 1000))
        for done, ((log_group, log_stream), watermark) in enumerate(watermarks.items()):
            if deadline.remaining() < self._call_bound:
                count(Metric.CHECKPOINTS_SKIPPED, len(watermarks) - done)
                logger.warning(
                    "no time left to write watermarks; they lag until the next batch",
                    extra={"skipped": len(watermarks) - done, "log_group": log_group},
                )
                break
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=checkpoint_key(log_group, log_stream),
                    UpdateExpression="SET watermark = :w, updated_at = :now",
                    ConditionExpression="attribute_not_exists(watermark) OR watermark < :w",
                    ExpressionAttributeValues={":w": {"N": str(watermark)}, ":now": {"N": now}},
                )
                moved += 1
            except ClientError as error:
                if not condition_failed(error):
                    raise
                # Already at or past this point: another invocation got there first.
        return moved

    def get(self, log_group: str, log_stream: str) -> int | None:
        item = self._client.get_item(
            TableName=self._table, Key=checkpoint_key(log_group, log_stream), ConsistentRead=True
        ).get("Item")
        if not item or "watermark" not in item:
            return None
        return int(item["watermark"]["N"])
