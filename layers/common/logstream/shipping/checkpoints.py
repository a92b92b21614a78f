"""Acknowledged watermarks: per log group and stream, the newest event time the cluster holds.

A watermark is written only after the cluster acknowledged the documents, and
with a conditional write so it never moves backwards, whatever order
concurrent invocations finish in.

A batch that ends with undelivered events holds a floor (its oldest
undelivered time) in each stream's item until a later delivery of the same
payload (Lambda's retry, or a replay from the on-failure queue) settles
without one. No watermark of that stream reaches an open floor, so another
invocation's success never claims the failed batch's events are in. A batch
that is never delivered again keeps its floor: the watermark stays honest,
below it, until the batch is replayed.

A write is only started when the deadline leaves room for the slowest a
DynamoDB call can be (``call_bound_secs``, from the boto timeouts and retries
set in :mod:`logstream.clients`); otherwise it is skipped with a warning and
the ``CheckpointsSkipped`` metric. Skipping is safe: a watermark only lags.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.shipping.documents import Document
from logstream.state_table import checkpoint_key, condition_failed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

StreamKey = tuple[str, str]  # (log group, log stream)


class CheckpointStore(Protocol):
    def settle(
        self,
        batch: str,
        marks: Mapping[StreamKey, int],
        floors: Mapping[StreamKey, int],
        deadline: Deadline,
    ) -> int:
        """Record one batch's outcome per stream; returns how many watermarks moved.

        ``marks``: the newest acknowledged time per stream (below any of the
        batch's undelivered events). ``floors``: the oldest undelivered time per
        stream, held open under ``batch`` until a later delivery of the same
        batch settles without one.
        """
        ...

    def get(self, log_group: str, log_stream: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class LiveCheckpoints:
    """The live path's checkpoints for one payload (``batch`` is stable across Lambda's retries)."""

    store: CheckpointStore
    batch: str

    @classmethod
    def for_payload(cls, store: CheckpointStore, raw_data: str) -> LiveCheckpoints:
        digest = hashlib.sha256(raw_data.encode("utf-8", "surrogatepass")).hexdigest()
        return cls(store, digest[:24])

    def settle(
        self, acknowledged: Iterable[Document], undelivered: Iterable[Document], deadline: Deadline
    ) -> int:
        unacknowledged = list(undelivered)
        marks = acknowledged_watermarks(acknowledged, unacknowledged)
        return self.store.settle(self.batch, marks, oldest_by_stream(unacknowledged), deadline)


def oldest_by_stream(documents: Iterable[Document]) -> dict[StreamKey, int]:
    """Per stream, the oldest event time among ``documents``."""
    oldest: dict[StreamKey, int] = {}
    for document in documents:
        key = (document.log_group, document.log_stream)
        oldest[key] = min(oldest.get(key, document.timestamp), document.timestamp)
    return oldest


def acknowledged_watermarks(
    acknowledged: Iterable[Document], unacknowledged: Iterable[Document]
) -> dict[StreamKey, int]:
    """Per stream, the newest acknowledged event time below the oldest unacknowledged one.

    A stream whose oldest undelivered event is at time t only gets a watermark
    below t, so a watermark always means "everything up to here is in".
    """
    floor = oldest_by_stream(unacknowledged)
    marks: dict[StreamKey, int] = {}
    for document in acknowledged:
        key = (document.log_group, document.log_stream)
        limit = floor.get(key)
        if limit is not None and document.timestamp >= limit:
            continue
        if document.timestamp > marks.get(key, -1):
            marks[key] = document.timestamp
    return marks


#: Conditional writes lost to a concurrent writer are tried again this often.
_RACE_ATTEMPTS = 4
#: A stream's open floors are attributes named ``floor_<batch>``.
_FLOOR = "floor_"


class DynamoCheckpointStore:
    """Checkpoints in the state table (item schema: :mod:`logstream.state_table`).

    Each stream's item holds ``watermark`` and, per batch that ended with
    undelivered events, ``floor_<batch>``: its oldest undelivered time. The
    watermark never reaches an open floor. ``rev`` changes whenever a floor
    does, and every watermark write is conditional on the ``rev`` it read, so
    a floor written meanwhile is never overtaken.
    """

    def __init__(self, client: DynamoDBClient, table: str, *, call_bound_secs: float) -> None:
        self._client = client
        self._table = table
        self._call_bound = call_bound_secs

    def settle(
        self,
        batch: str,
        marks: Mapping[StreamKey, int],
        floors: Mapping[StreamKey, int],
        deadline: Deadline,
    ) -> int:
        moved = 0
        # Floors first: they protect data; a skipped watermark only lags.
        streams = sorted(set(floors)) + sorted(set(marks) - set(floors))
        for done, stream in enumerate(streams):
            if not self._time_for(3 if stream in floors else 2, deadline):
                self._skip(streams[done:], floors)
                break
            if stream in floors:
                self._hold(stream, batch, floors[stream])
            release = stream not in floors
            moved += self._advance(stream, batch, marks.get(stream), release, deadline)
        return moved

    def _time_for(self, calls: int, deadline: Deadline) -> bool:
        return deadline.remaining() >= calls * self._call_bound

    def _skip(self, streams: list[StreamKey], floors: Mapping[StreamKey, int]) -> None:
        count(Metric.CHECKPOINTS_SKIPPED, len(streams))
        held = [s for s in streams if s in floors]
        log = logger.error if held else logger.warning
        log(
            "no time left to write watermarks"
            + ("; undelivered events could not be held below them" if held else ""),
            extra={"skipped": len(streams), "log_group": streams[0][0]},
        )

    def _hold(self, stream: StreamKey, batch: str, floor: int) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=checkpoint_key(*stream),
            UpdateExpression="SET #floor = :floor ADD rev :one",
            ExpressionAttributeNames={"#floor": _FLOOR + batch},
            ExpressionAttributeValues={":floor": {"N": str(floor)}, ":one": {"N": "1"}},
        )

    def _advance(
        self, stream: StreamKey, batch: str, mark: int | None, release: bool, deadline: Deadline
    ) -> int:
        """Move the watermark towards ``mark``, below every other open floor; 1 if it moved."""
        for attempt in range(_RACE_ATTEMPTS):
            if attempt and not self._time_for(2, deadline):
                return 0
            item = self._client.get_item(
                TableName=self._table, Key=checkpoint_key(*stream), ConsistentRead=True
            ).get("Item", {})
            floors = {k: int(v["N"]) for k, v in item.items() if k.startswith(_FLOOR)}
            releasing = release and (_FLOOR + batch) in floors
            floors.pop(_FLOOR + batch, None)
            current = int(item["watermark"]["N"]) if "watermark" in item else None
            target = mark
            if target is not None and floors:
                target = min(target, min(floors.values()) - 1)
            moves = target is not None and (current is None or target > current)
            if not moves and not releasing:
                return 0
            try:
                self._write(stream, batch, item, target if moves else None, releasing)
            except ClientError as error:
                if not condition_failed(error):
                    raise
                continue  # a floor or the watermark changed meanwhile: read again
            return 1 if moves else 0
        return 0

    def _write(
        self,
        stream: StreamKey,
        batch: str,
        item: Mapping[str, Any],
        watermark: int | None,
        releasing: bool,
    ) -> None:
        values: dict[str, Any] = {":now": {"N": str(_now_ms())}}
        expression = "SET updated_at = :now"
        condition = "attribute_not_exists(rev)"
        if "rev" in item:
            condition = "rev = :rev"
            values[":rev"] = item["rev"]
        if watermark is not None:
            expression += ", watermark = :w"
            condition += " AND (attribute_not_exists(watermark) OR watermark < :w)"
            values[":w"] = {"N": str(watermark)}
        request: dict[str, Any] = {}
        if releasing:
            expression += " REMOVE #floor ADD rev :one"
            values[":one"] = {"N": "1"}
            request["ExpressionAttributeNames"] = {"#floor": _FLOOR + batch}
        self._client.update_item(
            TableName=self._table,
            Key=checkpoint_key(*stream),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            **request,
        )

    def get(self, log_group: str, log_stream: str) -> int | None:
        item = self._client.get_item(
            TableName=self._table, Key=checkpoint_key(log_group, log_stream), ConsistentRead=True
        ).get("Item")
        if not item or "watermark" not in item:
            return None
        return int(item["watermark"]["N"])


def _now_ms() -> int:
    return int(time.time() * 1000)
