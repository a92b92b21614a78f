"""Kinesis on-failure records in the failure replay: the range is read back, shipped record by
record, and the message deleted only when the whole range was there and shipped."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from logstream.operations.failures import FailureReplay
from logstream.operations.kinesis_failures import (
    KinesisBatchInfo,
    KinesisRangeReader,
    kinesis_batch_info,
)
from logstream.retry import Deadline
from logstream.shipping.live import LiveShipper
from tests.unit.cli.test_failures import FakeShipper, FakeSqs

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/logstream"


def _failure(first: str = "10", last: str = "12", size: int | None = 2) -> str:
    info: dict[str, Any] = {
        "shardId": "shardId-000000000000",
        "startSequenceNumber": first,
        "endSequenceNumber": last,
        "streamArn": STREAM,
    }
    if size is not None:
        info["batchSize"] = size
    return json.dumps({"version": "1.0", "KinesisBatchInfo": info})


def test_the_batch_info_is_read_from_an_on_failure_record() -> None:
    info = kinesis_batch_info(json.loads(_failure()))
    assert info == KinesisBatchInfo(STREAM, "shardId-000000000000", "10", "12", 2)
    assert kinesis_batch_info({"requestPayload": {}}) is None
    with pytest.raises(ValueError, match="lacks one of"):
        kinesis_batch_info({"KinesisBatchInfo": {"shardId": "x"}})


class FakeRanges:
    """What the stream still holds, per first sequence number."""

    def __init__(self, held: dict[str, list[tuple[str, str]]]) -> None:
        self.held = held

    def payloads(self, info: KinesisBatchInfo, deadline: Deadline) -> list[tuple[str, str]]:
        return self.held.get(info.start, [])


def _replay(sqs: FakeSqs, ranges: FakeRanges | None) -> FailureReplay:
    reader = cast(KinesisRangeReader, ranges) if ranges is not None else None
    return FailureReplay(cast(Any, sqs), "url", cast(LiveShipper, FakeShipper()), reader)


def test_a_whole_range_is_shipped_and_its_message_deleted() -> None:
    sqs = FakeSqs([_failure("10", "12", 2), _failure("20", "29", 3), _failure("30", "31", None)])
    ranges = FakeRanges(
        {
            "10": [("10", "ok-a"), ("12", "ok-b")],
            "20": [("20", "ok-c")],  # two of three records are past the retention
            "30": [("30", "fails")],  # the cluster refuses it again
        }
    )
    report = _replay(sqs, ranges).run(Deadline.after_seconds(60))
    assert (report.messages, report.replayed, report.unreadable, report.failed) == (3, 1, 1, 1)
    assert report.events == 4  # two records of two events each
    assert sqs.deleted == ["r0"]
    assert sorted(sqs.made_visible) == ["r1", "r2"]
    assert any("1 of 3 records" in error for error in report.errors)


def test_without_a_kinesis_client_the_message_stays() -> None:
    sqs = FakeSqs([_failure()])
    report = _replay(sqs, None).run(Deadline.after_seconds(60))
    assert (report.unreadable, sqs.deleted) == (1, [])
