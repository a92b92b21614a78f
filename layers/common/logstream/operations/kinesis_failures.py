"""Kinesis on-failure records: the range Lambda gave up on, read back from the stream.

With ``Transport=kinesis`` the event source mapping's on-failure destination
receives no data, only where it was: ``KinesisBatchInfo`` names the stream,
the shard and the first and last sequence number of the batch. The records
are still in the stream until its retention (24 hours) ends, so a replay
reads that range again (``AT_SEQUENCE_NUMBER``) and ships each record's data
through the live path, as the decoder would have.

A record past the retention is gone: the read then finds fewer records (or
none), and the replay reports the message instead of deleting it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from logstream.errors import InfrastructureError
from logstream.retry import Deadline

if TYPE_CHECKING:
    from mypy_boto3_kinesis.client import KinesisClient

#: Records per GetRecords call (the API allows 10,000; a delivery is up to 1 MB).
_PAGE: Final = 100


@dataclass(frozen=True, slots=True)
class KinesisBatchInfo:
    """Where a failed batch was: ``stream_arn``, ``shard_id``, first and last sequence number."""

    stream_arn: str
    shard_id: str
    start: str
    end: str
    batch_size: int | None = None


def kinesis_batch_info(record: Mapping[str, Any]) -> KinesisBatchInfo | None:
    """The ``KinesisBatchInfo`` of an on-failure record, or None when it has none."""
    info = record.get("KinesisBatchInfo")
    if not isinstance(info, Mapping):
        return None
    fields = ("streamArn", "shardId", "startSequenceNumber", "endSequenceNumber")
    values = [info.get(name) for name in fields]
    if not all(isinstance(value, str) and value for value in values):
        raise ValueError(f"KinesisBatchInfo lacks one of {', '.join(fields)}")
    size = info.get("batchSize")
    return KinesisBatchInfo(
        stream_arn=str(values[0]),
        shard_id=str(values[1]),
        start=str(values[2]),
        end=str(values[3]),
        batch_size=size if isinstance(size, int) else None,
    )


class KinesisStreamUnreadable(InfrastructureError):
    """The range could not be read (no permission, no such stream, throttled)."""


class KinesisRangeReader:
    """Reads one shard's records from ``start`` through ``end`` (base64 data, as Lambda sends)."""

    def __init__(self, kinesis: KinesisClient) -> None:
        self._kinesis = kinesis

    def payloads(self, info: KinesisBatchInfo, deadline: Deadline) -> list[tuple[str, str]]:
        """``(sequence number, base64 data)`` of each record in the range, in order."""
        end = int(info.end)
        found: list[tuple[str, str]] = []
        try:
            iterator: str | None = self._kinesis.get_shard_iterator(
                StreamARN=info.stream_arn,
                ShardId=info.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=info.start,
            )["ShardIterator"]
            while iterator and not deadline.expired:
                page = self._kinesis.get_records(
                    ShardIterator=iterator, StreamARN=info.stream_arn, Limit=_PAGE
                )
                for record in page["Records"]:
                    if int(record["SequenceNumber"]) > end:
                        return found
                    data = base64.b64encode(record["Data"]).decode("ascii")
                    found.append((record["SequenceNumber"], data))
                if not page["Records"] and not page.get("MillisBehindLatest"):
                    return found  # the shard holds nothing more yet
                iterator = page.get("NextShardIterator")
        except ClientError as error:
            raise KinesisStreamUnreadable(
                f"cannot read {info.shard_id} of {info.stream_arn}: {error}"
            ) from error
        if deadline.expired:
            raise KinesisStreamUnreadable(f"ran out of time reading {info.shard_id}")
        return found
