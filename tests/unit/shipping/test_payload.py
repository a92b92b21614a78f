from __future__ import annotations

import base64
import gzip
import json

import pytest

from devstack.payloads import encode_data, subscription_payload
from logstream.shipping.payload import (
    PayloadError,
    PayloadErrorKind,
    decode_payload,
    subscription_data,
)


def _data(body: object) -> str:
    return encode_data(json.dumps(body).encode())


def test_decodes_a_subscription_payload() -> None:
    events = [{"id": "1", "timestamp": 5, "message": "hello"}]
    batch = decode_payload(subscription_data(subscription_payload("/g", "s", events)))
    assert (batch.log_group, batch.log_stream, batch.owner) == ("/g", "s", "123456789012")
    assert batch.events == events
    assert not batch.is_control


def test_control_message_is_recognised() -> None:
    batch = decode_payload(
        _data(
            {
                "messageType": "CONTROL_MESSAGE",
                "owner": "CloudwatchLogs",
                "logGroup": "",
                "logStream": "",
                "subscriptionFilters": [],
                "logEvents": [],
            }
        )
    )
    assert batch.is_control
    assert batch.events == []


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ("not base64 at all!!", PayloadErrorKind.BASE64),
        (base64.b64encode(b"plain bytes, not gzip").decode(), PayloadErrorKind.GZIP),
        (base64.b64encode(gzip.compress(b"{not json")).decode(), PayloadErrorKind.JSON),
        (base64.b64encode(gzip.compress(b"[1, 2]")).decode(), PayloadErrorKind.SHAPE),
        (
            base64.b64encode(gzip.compress(b'{"messageType": "DATA_MESSAGE"}')).decode(),
            PayloadErrorKind.SHAPE,
        ),
    ],
)
def test_undecodable_payloads_raise_with_a_kind(data: str, kind: PayloadErrorKind) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_payload(data)
    assert caught.value.kind is kind


def test_truncated_gzip_is_reported_as_corrupt_gzip() -> None:
    whole = base64.b64decode(subscription_data(subscription_payload("/g", "s", [])))
    with pytest.raises(PayloadError) as caught:
        decode_payload(base64.b64encode(whole[: len(whole) // 2]).decode())
    assert caught.value.kind is PayloadErrorKind.GZIP


def test_events_are_passed_on_unchecked_for_the_document_builder() -> None:
    events: list[object] = [{"id": "1", "timestamp": 1, "message": "ok"}, "not an object"]
    batch = decode_payload(_data({**_body(), "logEvents": events}))
    assert batch.events == events


def _body() -> dict[str, object]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "1",
        "logGroup": "/g",
        "logStream": "s",
        "subscriptionFilters": ["f"],
    }


def test_invalid_utf8_is_repaired_and_flagged_not_fatal() -> None:
    raw = (
        b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s",'
        b'"subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":1,"message":"ok"},'
        b'{"id":"2","timestamp":2,"message":"bad \xff\xfe bytes"}]}'
    )
    batch = decode_payload(encode_data(raw))
    assert batch.repaired_utf8
    assert batch.events[0]["message"] == "ok"
    assert batch.events[1]["message"] == "bad \ufffd\ufffd bytes"


def test_lone_surrogate_escapes_are_repaired() -> None:
    raw = (
        b'{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s",'
        b'"logEvents":[{"id":"1","timestamp":1,"message":"x \\ud800 y"}]}'
    )
    batch = decode_payload(encode_data(raw))
    assert batch.repaired_utf8
    assert batch.events[0]["message"].encode("utf-8")


@pytest.mark.parametrize("event", [{}, {"awslogs": {}}, {"awslogs": {"data": 5}}, []])
def test_a_non_subscription_event_is_a_clear_error(event: object) -> None:
    # A PayloadError (was a TypeError): the live path parks such an event instead of failing.
    with pytest.raises(PayloadError, match="not a CloudWatch Logs subscription event"):
        subscription_data(event)
