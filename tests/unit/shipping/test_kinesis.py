"""The Kinesis batch path: per-record outcomes, the failure rule, time shares, routing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from devstack.kinesis_events import esm_event, esm_record
from devstack.payloads import encode_data, make_events, subscription_payload
from logstream.own_groups import OwnGroups
from logstream.retry import Deadline
from logstream.settings import Transport
from logstream.shipping.delivery import DeliveryReport, Undelivered
from logstream.shipping.documents import Document
from logstream.shipping.intake import DecoderIntake
from logstream.shipping.kinesis import (
    KinesisBatchFailed,
    KinesisBatchShipper,
    TimeShares,
    is_kinesis_batch,
)
from logstream.shipping.live import LiveShipper
from logstream.shipping.parking import Parking
from logstream.shipping.service import Shipper

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/logstream"


class _Sink:
    """Delivers everything except documents of ``down_groups`` (the cluster refuses them)."""

    def __init__(self, down_groups: Sequence[str] = ()) -> None:
        self.down_groups = set(down_groups)
        self.sent: list[Document] = []

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        self.sent += documents
        down = [d for d in documents if d.log_group in self.down_groups]
        up = [d for d in documents if d.log_group not in self.down_groups]
        return DeliveryReport(
            delivered=up, undelivered=[Undelivered(d, "503 from the cluster") for d in down]
        )

    def stream_part_size(self, total: int) -> int:
        return max(1, total)

    def deliver_stream(
        self, parts: Iterable[Sequence[Document]], deadline: Deadline
    ) -> DeliveryReport:
        return self.deliver([d for part in parts for d in part], deadline)


def _live(sink: _Sink) -> LiveShipper:
    shipper = Shipper(
        sink, Parking(sink, "logs-quarantine", None), index_prefix="logs", region="us-east-1"
    )
    own = OwnGroups(prefixes=("/aws/lambda/logstream-",))
    return LiveShipper(shipper, checkpoints=None, own_log_groups=own)


def _data(group: str, count: int = 3, *, message_type: str = "DATA_MESSAGE") -> bytes:
    payload = subscription_payload(
        group, "stream", make_events(count, 1_700_000_000_000), message_type=message_type
    )
    return _raw_gzip(payload["awslogs"]["data"])


def _raw_gzip(awslogs_data: str) -> bytes:
    import base64  # noqa: PLC0415 - only this helper needs it

    return base64.b64decode(awslogs_data)


def _batch(*datas: bytes) -> dict[str, Any]:
    return esm_event(
        esm_record(data, f"4959{i:052d}", stream_arn=STREAM) for i, data in enumerate(datas)
    )


def _sequence(event: dict[str, Any], index: int) -> str:
    sequence: str = event["Records"][index]["kinesis"]["sequenceNumber"]
    return sequence


def test_every_record_is_shipped_and_nothing_fails() -> None:
    sink = _Sink()
    event = _batch(_data("/a"), _data("/b", 5), _data("/c", 2))
    response = KinesisBatchShipper(_live(sink)).ship_batch(event, Deadline.after_seconds(60))
    assert response == {"batchItemFailures": []}
    assert sorted(d.log_group for d in sink.sent) == ["/a"] * 3 + ["/b"] * 5 + ["/c"] * 2


def test_an_undeliverable_record_is_reported_alone() -> None:
    sink = _Sink(down_groups=["/b"])
    event = _batch(_data("/a"), _data("/b"), _data("/c"))
    response = KinesisBatchShipper(_live(sink)).ship_batch(event, Deadline.after_seconds(60))
    assert response == {"batchItemFailures": [{"itemIdentifier": _sequence(event, 1)}]}
    # Its neighbours were shipped in this invocation.
    assert {d.log_group for d in sink.sent} == {"/a", "/b", "/c"}


def test_a_corrupt_record_is_parked_with_its_sequence_number_not_failed() -> None:
    sink = _Sink()
    event = _batch(_data("/a"), b"not gzip at all", _data("/c"))
    response = KinesisBatchShipper(_live(sink)).ship_batch(event, Deadline.after_seconds(60))
    assert response == {"batchItemFailures": []}
    parked = [d for d in sink.sent if d.index == "logs-quarantine"]
    assert len(parked) == 1
    record = json.loads(parked[0].source)
    assert record["kind"] == "bad_payload"
    assert record["error_type"] == "corrupt_gzip"
    assert _sequence(event, 1) in record["reason"]
    assert STREAM in record["reason"]


def test_a_corrupt_record_fails_when_it_cannot_be_parked() -> None:
    class _QuarantineDown(_Sink):
        def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
            if any(d.index == "logs-quarantine" for d in documents):
                return DeliveryReport(undelivered=[Undelivered(d, "down") for d in documents])
            return super().deliver(documents, deadline)

    event = _batch(_data("/a"), b"\x1f\x8b broken", _data("/c"))
    response = KinesisBatchShipper(_live(_QuarantineDown())).ship_batch(
        event, Deadline.after_seconds(60)
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": _sequence(event, 1)}]}


def test_control_messages_and_own_groups_are_acknowledged() -> None:
    sink = _Sink()
    event = _batch(
        _data("/a", message_type="CONTROL_MESSAGE"),
        _data("/aws/lambda/logstream-DecoderFunction-x"),
        _data("/a"),
    )
    response = KinesisBatchShipper(_live(sink)).ship_batch(event, Deadline.after_seconds(60))
    assert response == {"batchItemFailures": []}
    assert [d.log_group for d in sink.sent] == ["/a"] * 3


def test_a_batch_where_every_record_fails_fails_the_invocation() -> None:
    sink = _Sink(down_groups=["/a", "/b"])
    event = _batch(_data("/a"), _data("/b"))
    with pytest.raises(KinesisBatchFailed, match="all 2 Kinesis records failed"):
        KinesisBatchShipper(_live(sink)).ship_batch(event, Deadline.after_seconds(60))


class _Clock:
    """Milliseconds left, moved by the test (no wall clock)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def remaining(self) -> int:
        return self.ms


def test_each_record_gets_an_equal_share_of_the_time_still_left() -> None:
    clock = _Clock(90_000)
    shares = TimeShares(Deadline(clock.remaining), 3)
    first = shares.next()
    assert first.remaining() == pytest.approx(30.0)
    clock.ms -= 30_000  # the first record used its whole share
    assert first.expired
    second = shares.next()
    assert second.remaining() == pytest.approx(30.0)
    clock.ms -= 5_000  # the second finished early: the third inherits the rest
    third = shares.next()
    assert third.remaining() == pytest.approx(55.0)
    clock.ms = 10_000  # never past the invocation's own deadline
    assert third.remaining() == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_batch(b"x"), True),
        ({"Records": []}, False),
        ({"Records": [{"eventSource": "aws:sqs"}]}, False),
        ({"awslogs": {"data": "x"}}, False),
        ([], False),
        (None, False),
    ],
)
def test_a_kinesis_batch_is_told_by_its_shape(event: Any, expected: bool) -> None:
    assert is_kinesis_batch(event) is expected


@pytest.mark.parametrize("transport", list(Transport))
def test_the_intake_routes_either_shape_whatever_the_transport(transport: Transport) -> None:
    sink = _Sink()
    live = _live(sink)
    intake = DecoderIntake(live, KinesisBatchShipper(live), transport)
    direct = {"awslogs": {"data": encode_data(_gunzip(_data("/direct")))}}
    assert intake.handle(direct, Deadline.after_seconds(60))["delivered"] == 3
    assert intake.handle(_batch(_data("/kinesis")), Deadline.after_seconds(60)) == {
        "batchItemFailures": []
    }
    assert {d.log_group for d in sink.sent} == {"/direct", "/kinesis"}


def _gunzip(data: bytes) -> bytes:
    import gzip  # noqa: PLC0415 - only this helper needs it

    return gzip.decompress(data)


def test_groups_of_other_accounts_are_shipped_without_a_backfill() -> None:
    sink = _Sink()
    planned: list[tuple[str, str]] = []
    shipper = Shipper(
        sink, Parking(sink, "logs-quarantine", None), index_prefix="logs", region="us-east-1"
    )
    live = LiveShipper(
        shipper,
        checkpoints=None,
        on_live_batch=lambda batch, deadline: planned.append((batch.owner, batch.log_group)),
    )
    other = subscription_payload("/b", "s", make_events(2, 1_700_000_000_000), owner="222222222222")
    event = _batch(_data("/a"), base64.b64decode(other["awslogs"]["data"]))
    response = KinesisBatchShipper(live).ship_batch(event, Deadline.after_seconds(60))
    assert response == {"batchItemFailures": []}
    assert {d.log_group for d in sink.sent} == {"/a", "/b"}
    # The stream is in 123456789012: only that account's group gets its history planned.
    assert planned == [("123456789012", "/a")]
