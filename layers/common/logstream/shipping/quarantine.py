"""Quarantine records: every document or payload the pipeline cannot deliver as is.

Records go to ``${INDEX_PREFIX}-quarantine`` with op ``index`` and a
deterministic id, so parking the same thing twice keeps one record with the
latest reason. The original is kept verbatim in a field the cluster stores but
never indexes, so a quarantine record itself can never hit a mapping conflict.
"""

from __future__ import annotations

import hashlib
import time
from enum import StrEnum
from typing import Any

import orjson

from logstream.schema.diagnosis import diagnosis_of
from logstream.shipping.bulk import Rejection
from logstream.shipping.documents import BadEvent, Document, OversizeEvent
from logstream.shipping.payload import PayloadError


class QuarantineKind(StrEnum):
    REJECTED_DOCUMENT = "rejected_document"  # the cluster refused it (mapping, parsing...)
    BAD_PAYLOAD = "bad_payload"  # the whole subscription payload could not be decoded
    BAD_EVENT = "bad_event"  # one event of a good payload had no id/timestamp/message
    OVERSIZE_MESSAGE = "oversize_message"  # delivered cut; the full message is kept here


def _record(
    quarantine_index: str,
    record_id: str,
    fields: dict[str, Any],
    *,
    log_group: str,
    log_stream: str,
    timestamp: int,
    now_ms: int | None,
) -> Document:
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    body = {"@timestamp": now, "log_group": log_group, "log_stream": log_stream, **fields}
    return Document.from_source(
        index=quarantine_index,
        doc_id=record_id,
        timestamp=timestamp,
        log_group=log_group,
        log_stream=log_stream,
        source=orjson.dumps(body),
        op="index",
    )


def rejection_record(
    quarantine_index: str, rejection: Rejection, now_ms: int | None = None
) -> Document:
    """A document the cluster refused, with why, where it was going and its ``_id``.

    The reason is parsed (:func:`logstream.schema.diagnosis.diagnosis_of`) into
    ``error_class``, ``field``, ``established_type`` and ``seen_type``: what the
    schema healer acts on.
    """
    document = rejection.document
    cause = rejection.cause
    return _record(
        quarantine_index,
        f"{document.doc_id}@{document.index}",
        {
            "kind": QuarantineKind.REJECTED_DOCUMENT.value,
            "target_index": document.index,
            "doc_id": document.doc_id,
            "event_timestamp": document.timestamp,
            "status": rejection.status,
            "error_type": rejection.error_type,
            "reason": rejection.reason,
            "cause_type": cause.get("type"),
            "cause_reason": cause.get("reason"),
            **diagnosis_of(rejection).as_record(),
            "document": document.source.decode("utf-8"),
        },
        log_group=document.log_group,
        log_stream=document.log_stream,
        timestamp=document.timestamp,
        now_ms=now_ms,
    )


def bad_payload_record(
    quarantine_index: str, raw_payload: str, error: PayloadError, now_ms: int | None = None
) -> Document:
    """A subscription payload that could not be decoded, kept byte for byte (base64)."""
    digest = hashlib.sha256(raw_payload.encode("utf-8", "replace")).hexdigest()[:32]
    return _record(
        quarantine_index,
        f"payload-{digest}",
        {
            "kind": QuarantineKind.BAD_PAYLOAD.value,
            "error_type": error.kind.value,
            "reason": error.detail,
            "raw": raw_payload,
        },
        log_group="",
        log_stream="",
        timestamp=0,
        now_ms=now_ms,
    )


def bad_event_record(
    quarantine_index: str,
    log_group: str,
    log_stream: str,
    bad_event: BadEvent,
    now_ms: int | None = None,
) -> Document:
    """One malformed event of an otherwise good payload."""
    raw = orjson.dumps(bad_event.raw, default=str).decode("utf-8")
    digest = hashlib.sha256(f"{log_group}\n{log_stream}\n{raw}".encode()).hexdigest()[:32]
    return _record(
        quarantine_index,
        f"event-{digest}",
        {
            "kind": QuarantineKind.BAD_EVENT.value,
            "error_type": "invalid_event",
            "reason": bad_event.reason,
            "raw": raw,
        },
        log_group=log_group,
        log_stream=log_stream,
        timestamp=0,
        now_ms=now_ms,
    )


def oversize_record(
    quarantine_index: str, oversize: OversizeEvent, now_ms: int | None = None
) -> Document:
    """The full text of a message whose indexed copy had to be cut."""
    document = oversize.document
    return _record(
        quarantine_index,
        f"{document.doc_id}@{document.index}#full",
        {
            "kind": QuarantineKind.OVERSIZE_MESSAGE.value,
            "target_index": document.index,
            "doc_id": document.doc_id,
            "event_timestamp": document.timestamp,
            "error_type": "message_too_large",
            "reason": f"message of {len(oversize.original_message.encode())} bytes was cut",
            "raw": oversize.original_message,
        },
        log_group=document.log_group,
        log_stream=document.log_stream,
        timestamp=document.timestamp,
        now_ms=now_ms,
    )
