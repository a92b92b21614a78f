"""One bad thing must not sink its neighbours: each fault found against the decoder, as a test.

Every case here once failed the whole batch (or the whole invocation). The
rule they pin down: a bad event becomes a :class:`BadEvent` and is parked with
its reason; a payload nothing can be read from is parked whole with its
reason; only an infrastructure failure (parking itself failing) may raise.
"""

from __future__ import annotations

import base64
import json
import tracemalloc
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest

from devstack.payloads import encode_data
from logstream.retry import Deadline
from logstream.shipping.delivery import DeliveryReport, Undelivered
from logstream.shipping.documents import BadEvent, Document, EventOrigin, build_documents
from logstream.shipping.live import LiveShipper
from logstream.shipping.parking import Parking
from logstream.shipping.payload import (
    MAX_DECOMPRESSED_BYTES,
    PayloadError,
    PayloadErrorKind,
    decode_payload,
    scrub_surrogates,
    subscription_data,
)
from logstream.shipping.quarantine import bad_event_record, bad_payload_record
from logstream.shipping.report import DeliveryIncomplete
from logstream.shipping.service import Shipper

ORIGIN = EventOrigin(log_group="/g", log_stream="s", owner="1", region="eu-west-1")
HEADER = b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s",'


def _event(message: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"id": "1", "timestamp": 5, "message": message, **extra}


def _payload(**fields: Any) -> str:
    body = {
        "messageType": "DATA_MESSAGE",
        "owner": "1",
        "logGroup": "/g",
        "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [_event()],
        **fields,
    }
    return encode_data(json.dumps(body).encode())


def _accounted(events: list[Any]) -> tuple[list[Document], list[BadEvent]]:
    built = build_documents(events, ORIGIN, "logs")
    assert len(built.documents) + len(built.bad_events) == len(events)
    return built.documents, built.bad_events


# --- Deep nesting ----------------------------------------------------------------


@pytest.mark.parametrize("depth", [256, 300, 1_100, 20_000])
def test_a_deeply_nested_json_message_is_kept_as_text(depth: int) -> None:
    message = '{"a":' + "[" * depth + "]" * depth + "}"
    documents, bad = _accounted([_event(message), _event("neighbour", id="2")])
    assert bad == []
    source = orjson.loads(documents[0].source)
    assert source["message"] == message
    assert "json" not in source


@pytest.mark.parametrize("depth", [900, 5_000, 9_000])
def test_the_lenient_path_handles_nesting_orjson_refuses(depth: int) -> None:
    # Lone surrogate: orjson refuses it (and anything over 1,024 deep), so the lenient path runs.
    deep = "[" * depth + '"\\ud800"' + "]" * depth
    raw = HEADER + b'"logEvents":[{"id":"1","timestamp":1,"message":"m"}],"deep":'
    batch = decode_payload(encode_data(raw + deep.encode() + b"}"))
    assert batch.repaired_utf8
    assert batch.events == [{"id": "1", "timestamp": 1, "message": "m"}]


def test_a_payload_nested_deeper_than_json_allows_is_parked_with_its_reason() -> None:
    deep = "[" * 200_000 + "]" * 200_000
    raw = HEADER + b'"x":"\\ud800","logEvents":[],"deep":' + deep.encode() + b"}"
    with pytest.raises(PayloadError) as caught:
        decode_payload(encode_data(raw))
    assert caught.value.kind is PayloadErrorKind.JSON
    assert "nested" in caught.value.detail


def test_scrubbing_surrogates_does_not_recurse() -> None:
    value: Any = "\udc80"
    for _ in range(100_000):
        value = [{"k\ud800": value}]
    scrubbed, found = scrub_surrogates(value)
    assert found
    for _ in range(100_000):
        (value,) = scrubbed
        ((key, scrubbed),) = value.items()
        assert key == "k\ufffd"
    assert scrubbed == "\ufffd"


# --- Fields of the wrong type ------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [(5, ()), ("f", ("f",)), ({"a": 1}, ()), (["a", 1, None, ["x"]], ("a",)), (None, ())],
)
def test_subscription_filters_of_the_wrong_type_are_coerced(
    filters: object, expected: tuple[str, ...]
) -> None:
    batch = decode_payload(_payload(subscriptionFilters=filters))
    assert batch.subscription_filters == expected
    assert len(batch.events) == 1


@pytest.mark.parametrize("stream", [{"a": 1}, [1], 5, True])
def test_a_payload_log_stream_that_is_not_a_string_parks_the_payload(stream: object) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_payload(_payload(logStream=stream))
    assert caught.value.kind is PayloadErrorKind.SHAPE


@pytest.mark.parametrize("owner", [{"a": 1}, [1], None, 1.5])
def test_an_owner_that_is_not_an_account_parks_the_payload(owner: object) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_payload(_payload(owner=owner))
    assert caught.value.kind is PayloadErrorKind.SHAPE


def test_a_numeric_owner_is_read_as_the_account() -> None:
    assert decode_payload(_payload(owner=123456789012)).owner == "123456789012"


@pytest.mark.parametrize("odd", [{"a": 1}, [1], 5, None])
def test_a_control_message_with_odd_fields_is_still_recognised(odd: object) -> None:
    batch = decode_payload(_payload(messageType="CONTROL_MESSAGE", logGroup=odd, owner=odd))
    assert batch.is_control
    hash(batch.log_group)


@pytest.mark.parametrize("stream", [{"a": 1}, [1], 5, True])
def test_an_event_log_stream_that_is_not_a_string_costs_only_that_event(stream: object) -> None:
    documents, bad = _accounted([_event(logStream=stream), _event(id="2", logStream="t")])
    assert [d.doc_id for d in documents] == ["2"]
    assert [d.log_stream for d in documents] == ["t"]
    assert bad[0].position == 0
    assert "logStream" in bad[0].reason


def test_an_event_log_stream_that_is_empty_falls_back_to_the_payloads() -> None:
    documents, _ = _accounted([_event(logStream=""), _event(id="2", logStream=None)])
    assert [d.log_stream for d in documents] == ["s", "s"]


def test_unencodable_strings_cost_only_their_event() -> None:
    # Only the backfill and reconcile paths can hand these in (the payload path scrubs them).
    events = [_event("x \ud800"), _event(id="\udc00"), _event(logStream="s\ud800"), _event(id="4")]
    documents, bad = _accounted(events)
    assert [d.doc_id for d in documents] == ["4"]
    assert [b.position for b in bad] == [0, 1, 2]
    assert all("UTF-8" in b.reason for b in bad)


# --- Event ids -------------------------------------------------------------------


def test_an_event_id_over_512_bytes_is_a_bad_event() -> None:
    long_ascii, long_utf8 = "9" * 513, "é" * 257  # 513 and 514 bytes
    fits_ascii, fits_utf8 = "8" * 512, "é" * 256  # 512 bytes each
    events = [_event(id=i) for i in (long_ascii, long_utf8, fits_ascii, fits_utf8)]
    documents, bad = _accounted(events)
    assert [d.doc_id for d in documents] == [fits_ascii, fits_utf8]
    assert [b.position for b in bad] == [0, 1]
    assert all("512 bytes" in b.reason for b in bad)


# --- Records of what is parked -----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"id": 10**30, "timestamp": 1},
        {"\ud800": 1, "timestamp": "x"},
        ["\udfff", -(10**40)],
        {"deep": json.loads("[" * 900 + "]" * 900)},
        "\ud800",
    ],
)
def test_a_bad_event_record_is_written_whatever_the_event_holds(raw: object) -> None:
    record = bad_event_record("logs-quarantine", "/g", "s", BadEvent(0, "event has no id", raw))
    source = orjson.loads(record.source)
    assert source["reason"] == "event has no id"
    assert isinstance(source["raw"], str)
    assert source["raw"]


def test_big_integers_on_the_lenient_path_are_parked_not_fatal() -> None:
    raw = HEADER + (
        b'"logEvents":[{"id":"1","timestamp":1' + b"0" * 25 + b',"message":"\xff"},'
        b'{"id":"2","timestamp":1,"message":"ok","n":' + b"9" * 40 + b"}]}"
    )
    batch = decode_payload(encode_data(raw))
    documents, bad = _accounted(batch.events)
    assert [d.doc_id for d in documents] == ["2"]
    record = orjson.loads(bad_event_record("q", "/g", "s", bad[0]).source)
    assert "1" + "0" * 25 in record["raw"]


def test_a_bad_payload_record_is_written_whatever_the_payload_holds() -> None:
    error = PayloadError(PayloadErrorKind.BASE64, "bad")
    source = orjson.loads(bad_payload_record("q", "abc\ud800", error).source)
    assert source["raw"].startswith("abc")


# --- A payload of the wrong shape for the decoder ------------------------------------


class _Sink:
    """Records what it is asked to deliver; ``fail`` leaves everything undelivered."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[Document] = []

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        self.sent += documents
        if self.fail:
            return DeliveryReport(undelivered=[Undelivered(d, "cluster down") for d in documents])
        return DeliveryReport(delivered=list(documents), requests=1)

    def stream_part_size(self, total: int) -> int:
        return max(1, total)

    def deliver_stream(
        self, parts: Iterable[Sequence[Document]], deadline: Deadline
    ) -> DeliveryReport:
        return self.deliver([d for part in parts for d in part], deadline)


def _live(sink: _Sink) -> LiveShipper:
    parking = Parking(sink, "logs-quarantine", None)
    return LiveShipper(
        Shipper(sink, parking, index_prefix="logs", region="eu-west-1"), checkpoints=None
    )


@pytest.mark.parametrize(
    "event", [{"records": []}, {}, {"awslogs": {}}, {"awslogs": {"data": 5}}, [], "x", None]
)
def test_a_non_subscription_event_is_a_payload_error(event: object) -> None:
    with pytest.raises(PayloadError) as caught:
        subscription_data(event)
    assert caught.value.kind is PayloadErrorKind.NOT_SUBSCRIPTION
    assert "not a CloudWatch Logs subscription event" in caught.value.detail


def test_a_non_subscription_event_is_parked_and_the_invocation_ends_normally() -> None:
    sink = _Sink()
    report = _live(sink).ship_event({"records": [{"x": 10**30}]}, Deadline.after_seconds(60))
    assert report.events == 0
    (record,) = sink.sent
    source = orjson.loads(record.source)
    assert source["error_type"] == PayloadErrorKind.NOT_SUBSCRIPTION.value
    assert "records" in source["raw"]


def test_a_huge_non_subscription_event_is_parked_cut() -> None:
    sink = _Sink()
    _live(sink).ship_event({"records": ["x" * 5_000_000]}, Deadline.after_seconds(60))
    source = orjson.loads(sink.sent[0].source)
    assert len(source["raw"]) <= 1024 * 1024
    assert source["raw_truncated"] is True


def test_failing_to_park_a_non_subscription_event_still_raises() -> None:
    with pytest.raises(DeliveryIncomplete):
        _live(_Sink(fail=True)).ship_event({"records": []}, Deadline.after_seconds(60))


def test_a_subscription_event_is_shipped_through_ship_event() -> None:
    sink = _Sink()
    report = _live(sink).ship_event({"awslogs": {"data": _payload()}}, Deadline.after_seconds(60))
    assert report.delivered == 1


# --- Decompression bombs -----------------------------------------------------------


def _gzip_of_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + compressor.flush()


def test_a_decompression_bomb_is_refused_with_bounded_memory() -> None:
    bomb = base64.b64encode(_gzip_of_zeros(200 * 1024 * 1024)).decode()
    assert len(bomb) < 300 * 1024  # fits Lambda's 256 KB async limit, give or take
    tracemalloc.start()
    try:
        with pytest.raises(PayloadError) as caught:
            decode_payload(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind is PayloadErrorKind.TOO_LARGE
    assert str(MAX_DECOMPRESSED_BYTES) in caught.value.detail
    assert peak < 2 * MAX_DECOMPRESSED_BYTES + len(bomb) * 2


def test_a_payload_just_under_the_cap_is_decoded() -> None:
    message = "x" * (MAX_DECOMPRESSED_BYTES - 1024)
    batch = decode_payload(_payload(logEvents=[_event(message)]))
    assert batch.events[0]["message"] == message
