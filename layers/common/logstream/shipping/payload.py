"""Decode a CloudWatch Logs subscription payload: base64, then gzip, then JSON.

A payload that cannot be decoded at all raises :class:`PayloadError` with a
``kind`` an operator can act on; the caller parks the raw payload. Within a
decodable payload, each event is checked on its own when its document is
built, so one malformed event never costs its neighbours.

How much a payload may inflate to (:data:`MAX_DECOMPRESSED_BYTES`, 16 MiB)
--------------------------------------------------------------------------
Inflating is streamed and stops at the cap, so a decompression bomb (gzip of
200 MB of zeros is about 200 KB) costs at most the cap in memory and is
parked with kind ``too_large``. The cap sits well above what CloudWatch can
legitimately send:

- one ``PutLogEvents`` batch holds at most 1,048,576 bytes of messages
  (UTF-8, plus 26 bytes per event) and at most 10,000 events; one event is at
  most 1 MB;
- in the payload's JSON a message grows at most 6x (a control character is
  written ``\\u0001``), and each event adds its envelope (``id``: 56 digits,
  ``timestamp``, keys: about 100 bytes), so the worst batch inflates to
  6 MiB + 10,000 x 100 B, about 7 MiB; a realistic one to little more than
  1 MiB;
- a subscription delivery to Lambda is an asynchronous invocation: at most
  256 KB of base64, 192 KB of gzip. Log text compresses 5-20x, JSON
  envelopes repeating their keys up to about 30x: 192 KB x 30 is about 6 MB.

16 MiB is twice the pathological batch and more than twice the best ratio a
real delivery reaches, and small enough that inflating up to it (and parsing
what it holds) stays far inside the decoder's 512 MB.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, cast

import orjson
from isal import isal_zlib

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"

# isal's inflate is a drop-in for zlib's and about twice as fast; wbits 31 = gzip framing.
_GZIP_WBITS = 31
# isal's stubs type its error class loosely; it is an Exception subclass.
_INFLATE_ERRORS = cast("tuple[type[Exception], ...]", (isal_zlib.IsalError, zlib.error))

#: The most a payload may inflate to; the derivation is in the module docstring.
MAX_DECOMPRESSED_BYTES: Final = 16 * 1024 * 1024


class PayloadErrorKind(StrEnum):
    BASE64 = "corrupt_base64"
    GZIP = "corrupt_gzip"
    JSON = "not_json"
    SHAPE = "missing_fields"
    TOO_LARGE = "too_large"  # inflates past MAX_DECOMPRESSED_BYTES: a bomb, not CloudWatch
    NOT_SUBSCRIPTION = "not_a_subscription_event"  # the Lambda event has no awslogs.data


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
    document, repaired = _parse_json(_inflate(compressed))
    return _batch_from_document(document, repaired_utf8=repaired)


def _inflate(compressed: bytes) -> bytes:
    """Gunzip, refusing to produce more than :data:`MAX_DECOMPRESSED_BYTES`."""
    inflater = isal_zlib.decompressobj(_GZIP_WBITS)
    try:
        raw = inflater.decompress(compressed, MAX_DECOMPRESSED_BYTES + 1)
    except _INFLATE_ERRORS as error:
        raise PayloadError(PayloadErrorKind.GZIP, str(error)) from None
    if len(raw) > MAX_DECOMPRESSED_BYTES:
        raise PayloadError(
            PayloadErrorKind.TOO_LARGE,
            f"{len(compressed)} bytes of gzip inflate past {MAX_DECOMPRESSED_BYTES} bytes, "
            "more than any CloudWatch Logs delivery holds",
        )
    if not inflater.eof:
        # All input was consumed below the cap, yet the gzip stream did not end.
        raise PayloadError(PayloadErrorKind.GZIP, "incomplete or truncated stream")
    return raw


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    try:
        return orjson.loads(raw), False
    except orjson.JSONDecodeError as error:
        strict_error = str(error)
    # orjson refuses invalid UTF-8 and lone surrogates anywhere in the
    # document, and integers beyond 64 bits. Rather than lose the whole batch,
    # decode leniently: bad bytes and lone surrogates become U+FFFD, and the
    # events are flagged as repaired.
    text = raw.decode("utf-8", "replace")
    try:
        lenient = json.loads(text)
    except RecursionError:
        detail = f"nested deeper than the JSON parser allows ({strict_error})"
        raise PayloadError(PayloadErrorKind.JSON, detail) from None
    except ValueError:
        raise PayloadError(PayloadErrorKind.JSON, strict_error) from None
    scrubbed, had_surrogates = scrub_surrogates(lenient)
    return scrubbed, had_surrogates or "\ufffd" in text


def scrub_surrogates(document: Any) -> tuple[Any, bool]:
    """``document`` with every lone surrogate (a legal JSON escape, illegal UTF-8)
    replaced by U+FFFD, in keys and values, and whether there was any.

    Containers are fixed in place and without recursion: a freshly parsed
    document may be nested as deep as its parser allowed.
    """
    if isinstance(document, str):
        fixed = _scrub_text(document)
        return fixed, fixed is not document
    found = False
    pending: list[Any] = [document]
    while pending:
        container = pending.pop()
        slots: list[tuple[Any, Any]]
        if isinstance(container, dict):
            if any(_scrub_text(key) is not key for key in container):
                found = True
                items = list(container.items())
                container.clear()
                container.update((_scrub_text(key), value) for key, value in items)
            slots = list(container.items())
        else:
            slots = list(enumerate(container))
        for slot, value in slots:
            if isinstance(value, str):
                fixed = _scrub_text(value)
                if fixed is not value:
                    container[slot] = fixed
                    found = True
            elif isinstance(value, (dict, list)):
                pending.append(value)
    return document, found


def _scrub_text(text: str) -> str:
    """``text`` itself when it is valid UTF-8; else a copy with U+FFFD for each lone surrogate."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16, surrogates that pair up stay one character; lone ones are replaced.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _batch_from_document(document: Any, *, repaired_utf8: bool) -> LogBatch:
    if not isinstance(document, dict):
        raise PayloadError(PayloadErrorKind.SHAPE, "payload is not a JSON object")
    message_type = document.get("messageType")
    if message_type not in (DATA_MESSAGE, CONTROL_MESSAGE):
        raise PayloadError(PayloadErrorKind.SHAPE, f"unknown messageType {_describe(message_type)}")
    if message_type == CONTROL_MESSAGE:
        return LogBatch(
            message_type=CONTROL_MESSAGE,
            owner=_text(document.get("owner")),
            log_group=_text(document.get("logGroup")),
            log_stream=_text(document.get("logStream")),
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
    owner = _text(document["owner"])
    if not owner:
        raise PayloadError(PayloadErrorKind.SHAPE, "owner is not an account id")
    raw_events = document["logEvents"]
    if not isinstance(raw_events, list):
        raise PayloadError(PayloadErrorKind.SHAPE, "logEvents is not a list")
    return LogBatch(
        message_type=DATA_MESSAGE,
        owner=owner,
        log_group=log_group,
        log_stream=log_stream,
        subscription_filters=_filter_names(document.get("subscriptionFilters")),
        events=raw_events,
        repaired_utf8=repaired_utf8,
    )


def _text(value: Any) -> str:
    """A string field as text: a string as is, an integer (an account id) in digits, else ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _filter_names(filters: Any) -> tuple[str, ...]:
    """Informational only, so whatever is not a list of names is read leniently, never fatal."""
    if isinstance(filters, str):
        return (filters,)
    if not isinstance(filters, list):
        return ()
    return tuple(f for f in filters if isinstance(f, str))


def _describe(value: Any) -> str:
    """A short, safe description of a field value for an error message."""
    if isinstance(value, str):
        return repr(value[:100])
    return f"of type {type(value).__name__}"


def subscription_data(event: Any) -> str:
    """``awslogs.data`` of a Lambda event; raises PayloadError (NOT_SUBSCRIPTION) if absent."""
    awslogs = event.get("awslogs") if isinstance(event, dict) else None
    data = awslogs.get("data") if isinstance(awslogs, dict) else None
    if not isinstance(data, str):
        raise PayloadError(
            PayloadErrorKind.NOT_SUBSCRIPTION,
            "not a CloudWatch Logs subscription event: expected {'awslogs': {'data': <base64>}}",
        )
    return data
