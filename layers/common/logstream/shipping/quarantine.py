"""Quarantine records: every document or payload the pipeline cannot deliver as is.

Records go to ``${INDEX_PREFIX}-quarantine`` with op ``index`` and a
deterministic id, so parking the same thing twice keeps one record with the
latest reason. The original is kept verbatim in a field the cluster stores but
never indexes, so a quarantine record itself can never hit a mapping conflict.

A record is written whatever the original holds: integers beyond 64 bits,
lone surrogates in keys or values and deep nesting are escaped (see
:func:`json_text`), and an original over :data:`MAX_PARKED_RAW_CHARS` is cut,
with the record saying so.
"""

from __future__ import annotations

import hashlib
import json
import time
from enum import StrEnum
from typing import Any, Final

import orjson

from logstream.schema.diagnosis import diagnosis_of
from logstream.shipping.delivery import Rejection
from logstream.shipping.documents import BadEvent, Document, OversizeEvent
from logstream.shipping.payload import PayloadError

#: The most of an original a record keeps: a real subscription payload (256 KB of
#: base64) fits whole, a forged one cannot make a record too big to write.
MAX_PARKED_RAW_CHARS: Final = 1024 * 1024


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
    try:
        source = orjson.dumps(body)
    except TypeError:
        # Lone surrogates in a field: written as their escapes instead.
        source = orjson.dumps({k: _printable(v) for k, v in body.items()})
    return Document.from_source(
        index=quarantine_index,
        doc_id=_fitting_id(_printable(record_id)),
        timestamp=timestamp,
        log_group=log_group,
        log_stream=log_stream,
        source=source,
        op="index",
    )


#: The cluster's limit for an ``_id``, in UTF-8 bytes.
_MAX_ID_BYTES = 512


def _fitting_id(record_id: str) -> str:
    """``record_id``, or a digest of it when it is over the ``_id`` limit.

    A record id embeds the document's ``_id`` and index, which together may
    exceed 512 bytes; the record must still be writable (same input, same id).
    """
    if len(record_id.encode("utf-8")) <= _MAX_ID_BYTES:
        return record_id
    return "sha256-" + hashlib.sha256(record_id.encode("utf-8")).hexdigest()


def json_text(value: Any) -> str:
    """``value`` as JSON text, whatever it holds; never an error.

    orjson first (fast, exact); the standard library for what orjson refuses
    (integers beyond 64 bits, lone surrogates, which it writes as ``\\udXXX``
    escapes, nesting past 255 levels); a placeholder naming the type if even
    that fails (nesting past the interpreter's recursion limit).
    """
    try:
        return orjson.dumps(value, default=str).decode("utf-8")
    except TypeError:
        pass
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        return f"<a {type(value).__name__} that cannot be written as JSON>"


def _printable(value: Any) -> Any:
    """A string with lone surrogates as backslash escapes; anything else as is."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _bounded_raw(raw: str) -> dict[str, Any]:
    """The ``raw`` field of a record, cut to :data:`MAX_PARKED_RAW_CHARS` if need be."""
    if len(raw) <= MAX_PARKED_RAW_CHARS:
        return {"raw": raw}
    return {"raw": raw[:MAX_PARKED_RAW_CHARS], "raw_truncated": True, "raw_chars": len(raw)}


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
    digest = hashlib.sha256(raw_payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return _record(
        quarantine_index,
        f"payload-{digest}",
        {
            "kind": QuarantineKind.BAD_PAYLOAD.value,
            "error_type": error.kind.value,
            "reason": error.detail,
            **_bounded_raw(raw_payload),
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
    raw = json_text(bad_event.raw)
    identity = f"{log_group}\n{log_stream}\n{raw}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(identity).hexdigest()[:32]
    return _record(
        quarantine_index,
        f"event-{digest}",
        {
            "kind": QuarantineKind.BAD_EVENT.value,
            "error_type": "invalid_event",
            "reason": bad_event.reason,
            **_bounded_raw(raw),
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
