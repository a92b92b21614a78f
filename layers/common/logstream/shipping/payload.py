"""Decode a CloudWatch Logs subscription payload: base64, then gzip, then JSON.

A payload that cannot be decoded at all raises :class:`PayloadError` with a
``kind`` an operator can act on; the caller parks the raw payload. Within a
decodable payload, each event is checked on its own when its document is
built, so one malformed event never costs its neighbours.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import orjson
from isal import isal_zlib

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"

# isal's inflate is a drop-in for zlib's and about twice as fast; wbits 31 = gzip framing.
_GZIP_WBITS = 31
# isal's stubs type its error class loosely; it is an Exception subclass.
_INFLATE_ERRORS = cast("tuple[type[Exception], ...]", (isal_zlib.IsalError, zlib.error))


class PayloadErrorKind(StrEnum):
    BASE64 = "corrupt_base64"
    GZIP = "corrupt_gzip"
    JSON = "not_json"
    SHAPE = "missing_fields"


class PayloadError(ValueError):
    """The payload as a whole cannot be decoded; nothing in it is usable."""

    def __init__(self, kind: PayloadErrorKind, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind.value}: {detail}")


@dataclass(slots=True)
class LogBatch:
    """One decoded subscription payload.

    ``events`` holds the raw events exactly as CloudWatch sent them. Each is
    checked while its document is built (:func:`logstream.documents.build_documents`),
    in the same pass, so a malformed event costs only itself.
    """

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    events: list[Any]
    #: The payload held bytes that were not UTF-8; they were replaced (U+FFFD).
    repaired_utf8: bool = False

    @property
    def is_control(self) -> bool:
        return self.message_type == CONTROL_MESSAGE


def decode_payload(data: str | bytes) -> LogBatch:
    """Turn ``awslogs.data`` into a :class:`LogBatch`, or raise :class:`PayloadError`."""
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise PayloadError(PayloadErrorKind.BASE64, str(error)) from None
    try:
        raw = isal_zlib.decompress(compressed, _GZIP_WBITS)
    except _INFLATE_ERRORS as error:
        raise PayloadError(PayloadErrorKind.GZIP, str(error)) from None
    document, repaired = _parse_json(raw)
    return _batch_from_document(document, repaired_utf8=repaired)


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    try:
        return orjson.loads(raw), False
    except orjson.JSONDecodeError as error:
        strict_error = str(error)
    # orjson refuses invalid UTF-8 (and lone surrogates) anywhere in the
    # document. Rather than lose the whole batch, decode leniently: the bad
    # bytes become U+FFFD, and the events are flagged as repaired.
    try:
        text = raw.decode("utf-8", "replace")
        lenient = json.loads(text)
    except ValueError:
        raise PayloadError(PayloadErrorKind.JSON, strict_error) from None
    repaired = "\ufffd" in text or _has_surrogates(lenient)
    return _scrub_surrogates(lenient), repaired


def _has_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_surrogates(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_surrogates(v) for v in value)
    return False


def _scrub_surrogates(value: Any) -> Any:
    """Replace lone surrogates (legal JSON escapes, illegal UTF-8) so orjson can re-encode."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {k: _scrub_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_surrogates(v) for v in value]
    return value


def _batch_from_document(document: Any, *, repaired_utf8: bool) -> LogBatch:
    if not isinstance(document, dict):
        raise PayloadError(PayloadErrorKind.SHAPE, "payload is not a JSON object")
    message_type = document.get("messageType")
    if message_type not in (DATA_MESSAGE, CONTROL_MESSAGE):
        raise PayloadError(PayloadErrorKind.SHAPE, f"unknown messageType {message_type!r}")
    if message_type == CONTROL_MESSAGE:
        return LogBatch(
            message_type=CONTROL_MESSAGE,
            owner=str(document.get("owner", "")),
            log_group=str(document.get("logGroup", "")),
            log_stream=str(document.get("logStream", "")),
            subscription_filters=(),
            events=[],
        )
    missing = [
        key
        for key in ("owner", "logGroup", "logStream", "logEvents")
        if key not in document or document[key] is None
    ]
    if missing:
        raise PayloadError(PayloadErrorKind.SHAPE, f"missing {', '.join(missing)}")
    log_group, log_stream = document["logGroup"], document["logStream"]
    if not isinstance(log_group, str) or not log_group or not isinstance(log_stream, str):
        raise PayloadError(PayloadErrorKind.SHAPE, "logGroup/logStream are not strings")
    raw_events = document["logEvents"]
    if not isinstance(raw_events, list):
        raise PayloadError(PayloadErrorKind.SHAPE, "logEvents is not a list")
    filters = document.get("subscriptionFilters") or ()
    return LogBatch(
        message_type=DATA_MESSAGE,
        owner=str(document["owner"]),
        log_group=log_group,
        log_stream=log_stream,
        subscription_filters=tuple(str(f) for f in filters),
        events=raw_events,
        repaired_utf8=repaired_utf8,
    )


def subscription_data(event: Any) -> str:
    """``awslogs.data`` of a Lambda event; a clear error if this is not a subscription event."""
    awslogs = event.get("awslogs") if isinstance(event, dict) else None
    data = awslogs.get("data") if isinstance(awslogs, dict) else None
    if not isinstance(data, str):
        raise TypeError(
            "not a CloudWatch Logs subscription event: expected {'awslogs': {'data': <base64>}}"
        )
    return data
