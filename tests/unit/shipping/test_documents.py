from __future__ import annotations

from typing import Any

import orjson

from logstream.shipping.documents import (
    MAX_MESSAGE_BYTES,
    Document,
    EventOrigin,
    build_documents,
)
from logstream.shipping.lambda_lines import parse_lambda_platform_line

ORIGIN = EventOrigin(
    log_group="/aws/lambda/Orders",
    log_stream="2026/11/24/[$LATEST]ab",
    owner="123456789012",
    region="eu-west-1",
)


def _one(message: str, **extra: Any) -> dict[str, Any]:
    event = {
        "id": "36000000000000000000000000000000000000000000000000000001",
        "timestamp": 1764000000123,
        "message": message,
        **extra,
    }
    batch = build_documents([event], ORIGIN, "logs")
    source = orjson.loads(batch.documents[0].source)
    assert isinstance(source, dict)
    return source


def test_envelope_fields_and_event_time() -> None:
    doc = _one("plain text line")
    assert doc["@timestamp"] == 1764000000123
    assert doc["event_id"] == "36000000000000000000000000000000000000000000000000000001"
    assert doc["message"] == "plain text line"
    assert (doc["log_group"], doc["log_stream"]) == (ORIGIN.log_group, ORIGIN.log_stream)
    assert (doc["owner"], doc["region"]) == ("123456789012", "eu-west-1")
    assert "json" not in doc and "lambda" not in doc


def test_document_metadata_matches_the_event() -> None:
    events = [
        {"id": "a", "timestamp": 0, "message": "x"},
        {"id": "b", "timestamp": 86_400_000, "message": "y"},
    ]
    docs = build_documents(events, ORIGIN, "logs").documents
    assert [d.doc_id for d in docs] == ["a", "b"]
    assert docs[0].index.endswith("-1970.01.01")
    assert docs[1].index.endswith("-1970.01.02")
    assert all(d.op == "create" for d in docs)


def test_json_messages_keep_native_types() -> None:
    doc = _one('{"status": 200, "latency": 1.5, "ok": true, "user": {"id": 7}, "tags": ["a"]}')
    assert doc["json"] == {
        "status": 200,
        "latency": 1.5,
        "ok": True,
        "user": {"id": 7},
        "tags": ["a"],
    }
    assert doc["message"].startswith('{"status"')


def test_json_look_alikes_stay_text() -> None:
    for message in ['{"broken": ', "[1, 2, 3]", "{}x"]:
        doc = _one(message)
        assert doc["message"] == message
        assert "json" not in doc


def test_integers_beyond_64_bits_stay_numeric_and_exact_in_the_message() -> None:
    message = '{"huge": 123456789012345678901234567890}'
    doc = _one(message)
    assert isinstance(doc["json"]["huge"], float)
    assert doc["message"] == message


def test_empty_messages_are_kept() -> None:
    batch = build_documents([{"id": "1", "timestamp": 1, "message": ""}], ORIGIN, "logs")
    assert batch.empty_messages == 1
    assert orjson.loads(batch.documents[0].source)["message"] == ""


def test_oversize_messages_are_cut_and_the_original_kept() -> None:
    message = "é" * MAX_MESSAGE_BYTES
    batch = build_documents([{"id": "1", "timestamp": 1, "message": message}], ORIGIN, "logs")
    source = orjson.loads(batch.documents[0].source)
    assert source["message_truncated"] is True
    assert source["message_bytes"] == 2 * MAX_MESSAGE_BYTES
    assert len(source["message"].encode()) <= MAX_MESSAGE_BYTES
    assert batch.oversize[0].original_message == message


def test_ingestion_time_and_per_event_stream_are_used_when_given() -> None:
    doc = _one("x", ingestionTime=1764000000999, logStream="other-stream")
    assert doc["ingestion_time"] == 1764000000999
    assert doc["log_stream"] == "other-stream"


def test_lambda_report_line() -> None:
    fields = parse_lambda_platform_line(
        "REPORT RequestId: 0b1c-22\tDuration: 102.25 ms\tBilled Duration: 103 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 150.12 ms\t\n"
    )
    assert fields == {
        "type": "report",
        "request_id": "0b1c-22",
        "duration_ms": 102.25,
        "billed_duration_ms": 103,
        "memory_size_mb": 128,
        "max_memory_used_mb": 70,
        "init_duration_ms": 150.12,
    }


def test_lambda_start_and_end_lines() -> None:
    assert parse_lambda_platform_line("START RequestId: r-1 Version: $LATEST\n") == {
        "type": "start",
        "request_id": "r-1",
        "version": "$LATEST",
    }
    assert parse_lambda_platform_line("END RequestId: r-1\n") == {
        "type": "end",
        "request_id": "r-1",
    }


def test_lambda_lines_become_structured_fields_in_documents() -> None:
    doc = _one(
        "REPORT RequestId: r-9\tDuration: 1.00 ms\tBilled Duration: 1 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 80 MB\t"
    )
    assert doc["lambda"]["duration_ms"] == 1.0
    assert doc["lambda"]["memory_size_mb"] == 512


def test_fast_and_general_lambda_parsers_agree() -> None:
    from logstream.shipping.lambda_lines import _parse_platform_fields  # noqa: PLC0415

    lines = [
        "START RequestId: 6c0f Version: $LATEST\n",
        "START RequestId: 6c0f Version: 12",
        "REPORT RequestId: 6c0f\tDuration: 41.27 ms\tBilled Duration: 42 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 88 MB\tInit Duration: 312.44 ms\t\n",
        "REPORT RequestId: 6c0f\tDuration: 41.27 ms\tBilled Duration: 42 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 88 MB\t",
    ]
    for line in lines:
        assert parse_lambda_platform_line(line) == _parse_platform_fields(line), line


def test_unusual_report_fields_are_kept() -> None:
    fields = parse_lambda_platform_line(
        "REPORT RequestId: r\tDuration: 3.00 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 60 MB\tRestore Duration: 200.5 ms\tBilled Restore Duration: 100 ms\t"
        "Status: timeout\n"
    )
    assert fields["restore_duration_ms"] == 200.5
    assert fields["billed_restore_duration_ms"] == 100
    assert fields["status"] == "timeout"


def test_end_lines_with_extra_fields_keep_them() -> None:
    assert parse_lambda_platform_line("END RequestId: r-1\tStatus: error\n") == {
        "type": "end",
        "request_id": "r-1",
        "status": "error",
    }


def test_bad_events_are_set_aside_and_good_ones_kept() -> None:
    events: list[object] = [
        {"id": "1", "timestamp": 1, "message": "good"},
        {"timestamp": 2, "message": "no id"},
        {"id": "3", "message": "no timestamp"},
        {"id": "4", "timestamp": -5, "message": "negative"},
        {"id": "5", "timestamp": 5, "message": {"not": "a string"}},
        "not an object",
        {"id": "7", "timestamp": 7},
        {"id": "8", "timestamp": True, "message": "a bool is no timestamp"},
        {"id": "9", "timestamp": 253_402_300_800_000, "message": "year 10000"},
    ]
    batch = build_documents(events, ORIGIN, "logs")
    assert [d.doc_id for d in batch.documents] == ["1", "7"]
    assert orjson.loads(batch.documents[1].source)["message"] == ""
    assert [b.position for b in batch.bad_events] == [1, 2, 3, 4, 5, 7, 8]
    assert batch.bad_events[0].reason == "event has no id"
    assert batch.bad_events[3].raw == {"id": "5", "timestamp": 5, "message": {"not": "a string"}}


def test_line_is_the_action_line_then_the_source_line() -> None:
    event = {"id": '4"2', "timestamp": 1764000000123, "message": 'say "hi"\n'}
    document = build_documents([event], ORIGIN, "logs").documents[0]
    action, source, end = document.line.split(b"\n")
    assert end == b""
    assert orjson.loads(action) == {"create": {"_index": document.index, "_id": '4"2'}}
    assert source == document.source
    assert orjson.loads(source)["message"] == 'say "hi"\n'


def test_documents_built_from_a_source_have_the_same_layout() -> None:
    built = build_documents([{"id": "7", "timestamp": 5, "message": "m"}], ORIGIN, "logs")
    original = built.documents[0]
    rebuilt = Document.from_source(
        index=original.index,
        doc_id=original.doc_id,
        timestamp=original.timestamp,
        log_group=original.log_group,
        log_stream=original.log_stream,
        source=original.source,
    )
    assert rebuilt == original
    changed = original.with_source(b'{"message":"other"}')
    assert changed.source == b'{"message":"other"}'
    assert (changed.index, changed.doc_id, changed.op) == (original.index, "7", "create")
    record = Document.from_source(
        index="logs-quarantine", doc_id="q", timestamp=0, log_group="", log_stream="",
        source=b"{}", op="index",
    )  # fmt: skip
    assert orjson.loads(record.line.split(b"\n")[0]) == {
        "index": {"_index": "logs-quarantine", "_id": "q"}
    }


def test_malformed_report_numbers_are_kept_as_text_not_fatal() -> None:
    fields = parse_lambda_platform_line(
        "REPORT RequestId: r\tDuration: 1.2.3 ms\tBilled Duration: 99999999999999999999 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 7 MB"
    )
    assert fields["duration_ms"] == "1.2.3 ms"
    assert fields["billed_duration_ms"] == "99999999999999999999 ms"
    assert (fields["memory_size_mb"], fields["max_memory_used_mb"]) == (512, 7)


def test_ingestion_time_is_left_out_unless_a_plausible_epoch_ms() -> None:
    for odd in (2**64, -1, True, "17", 1.5):
        assert "ingestion_time" not in _one("m", ingestionTime=odd)
    assert _one("m", ingestionTime=17)["ingestion_time"] == 17
