"""Lambda's event-source-mapping event for Kinesis, built from records as GetRecords returns them.

The tests play the event source mapping (moto runs no Lambda): they read a
stream with GetRecords and hand the decoder the same shape Lambda would.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from devstack.payloads import ACCOUNT


def esm_record(
    data: bytes,
    sequence_number: str,
    *,
    stream_arn: str,
    partition_key: str = "logstream",
    region: str = "us-east-1",
    arrival: float = 0.0,
) -> dict[str, Any]:
    """One record of the ESM event; ``data`` is the record's bytes (GetRecords' ``Data``)."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/logstream-decoder",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def esm_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The ESM event holding ``records`` (each from :func:`esm_record`)."""
    return {"Records": list(records)}


def from_get_records(
    records: Iterable[dict[str, Any]], *, stream_arn: str, region: str = "us-east-1"
) -> dict[str, Any]:
    """The ESM event for records exactly as boto3's ``get_records`` returns them."""
    return esm_event(
        esm_record(
            record["Data"],
            record["SequenceNumber"],
            stream_arn=stream_arn,
            partition_key=record["PartitionKey"],
            region=region,
            arrival=record["ApproximateArrivalTimestamp"].timestamp(),
        )
        for record in records
    )


def read_stream(kinesis: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every record of the stream, shard by shard from the trim horizon, via GetRecords."""
    records: list[dict[str, Any]] = []
    for shard in kinesis.list_shards(StreamARN=stream_arn)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamARN=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, StreamARN=stream_arn, Limit=1000)
            records += page["Records"]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records
