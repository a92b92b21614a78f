"""One CloudWatch event -> one index document.

Document shape (the envelope has an explicit mapping in ``templates``):

``@timestamp``      event time, epoch milliseconds (never the forwarding time)
``event_id``        the CloudWatch event id (also the ``_id``)
``message``         the raw message, kept even when empty
``json``            the message parsed as a JSON object, native types kept
``lambda``          START / END / REPORT platform lines as structured fields
``ingestion_time``  when CloudWatch ingested the event, where the source says
``log_group``, ``log_stream``, ``owner`` (account), ``region``

This is the hot path of every shipping route, so the envelope fields common to
a batch are serialised once and spliced onto each event's own bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from logstream.naming import day_suffix, document_id, index_prefix_for_group

#: CloudWatch's own limit for one event; anything larger did not come from it intact.
MAX_MESSAGE_BYTES: Final = 256 * 1024

_LAMBDA_FIELD_NAMES: Final = {
    "RequestId": "request_id",
    "Version": "version",
    "Duration": "duration_ms",
    "Billed Duration": "billed_duration_ms",
    "Memory Size": "memory_size_mb",
    "Max Memory Used": "max_memory_used_mb",
    "Init Duration": "init_duration_ms",
    "Restore Duration": "restore_duration_ms",
    "Billed Restore Duration": "billed_restore_duration_ms",
    "Status": "status",
    "Error Type": "error_type",
}
_LAMBDA_TEXT_FIELDS: Final = {"request_id", "version", "status", "error_type"}


@dataclass(slots=True)
class Document:
    """A document ready for the bulk API: where it goes, its id, and its JSON source."""

    index: str
    doc_id: str
    timestamp: int
    log_group: str
    log_stream: str
    source: bytes
    op: str = "create"


@dataclass(slots=True)
class OversizeEvent:
    """An event whose message exceeded :data:`MAX_MESSAGE_BYTES`; its document holds a cut."""

    document: Document
    original_message: str


@dataclass(slots=True)
class DocumentBatch:
    documents: list[Document] = field(default_factory=list)
    oversize: list[OversizeEvent] = field(default_factory=list)
    empty_messages: int = 0


@dataclass(frozen=True, slots=True)
class EventOrigin:
    """What every event of one batch shares."""

    log_group: str
    log_stream: str
    owner: str
    region: str
    encoding_repaired: bool = False


def build_documents(
    events: Iterable[dict[str, Any]], origin: EventOrigin, index_prefix: str
) -> DocumentBatch:
    """Turn checked events (``id``, ``timestamp``, ``message``; optionally ``logStream``,
    ``ingestionTime``) into documents."""
    batch = DocumentBatch()
    documents = batch.documents
    append = documents.append
    group_prefix = index_prefix_for_group(index_prefix, origin.log_group)
    index_of_day: dict[int, str] = {}
    tail_of_stream: dict[str, bytes] = {}
    dumps = orjson.dumps
    log_group = origin.log_group

    for event in events:
        timestamp: int = event["timestamp"]
        message: str = event["message"]
        stream: str = event.get("logStream") or origin.log_stream

        day = timestamp // 86_400_000
        index = index_of_day.get(day)
        if index is None:
            index = index_of_day[day] = group_prefix + day_suffix(timestamp)
        tail = tail_of_stream.get(stream)
        if tail is None:
            tail = tail_of_stream[stream] = _envelope_tail(origin, stream)

        event_id = document_id(event["id"])
        head: dict[str, Any] = {"@timestamp": timestamp, "event_id": event_id}
        ingestion_time = event.get("ingestionTime")
        if ingestion_time is not None:
            head["ingestion_time"] = ingestion_time

        original: str | None = None
        if not message:
            batch.empty_messages += 1
        elif len(message) * 4 > MAX_MESSAGE_BYTES:
            encoded = message.encode("utf-8")
            if len(encoded) > MAX_MESSAGE_BYTES:
                original = message
                message = encoded[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore")
                head["message_truncated"] = True
                head["message_bytes"] = len(encoded)
        head["message"] = message

        first = message[:1]
        if first == "{" or (first in " \t" and message.lstrip()[:1] == "{"):
            parsed = _json_object(message)
            if parsed is not None:
                head["json"] = parsed
        elif first in "SER" and message.startswith(("REPORT ", "START ", "END ")):
            head["lambda"] = parse_lambda_platform_line(message)

        document = Document(index, event_id, timestamp, log_group, stream, dumps(head)[:-1] + tail)
        append(document)
        if original is not None:
            batch.oversize.append(OversizeEvent(document, original))
    return batch


def _envelope_tail(origin: EventOrigin, stream: str) -> bytes:
    common: dict[str, Any] = {
        "log_group": origin.log_group,
        "log_stream": stream,
        "owner": origin.owner,
        "region": origin.region,
    }
    if origin.encoding_repaired:
        common["encoding_repaired"] = True
    # `{"log_group":...}` -> `,"log_group":...}`: spliced after an event's own fields.
    return b"," + orjson.dumps(common)[1:]


def _json_object(message: str) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(message)
    except orjson.JSONDecodeError:
        # Not JSON after all (or numbers beyond 64 bits): the text is kept in `message`.
        return None
    return parsed if isinstance(parsed, dict) else None


# The shapes Lambda writes today, matched in one anchored step; anything else
# (new fields, restore durations, status lines) takes the general split below.
_STANDARD_REPORT: Final = re.compile(
    r"REPORT RequestId: (\S+)\tDuration: ([\d.]+) ms\tBilled Duration: (\d+) ms\t"
    r"Memory Size: (\d+) MB\tMax Memory Used: (\d+) MB(?:\tInit Duration: ([\d.]+) ms)?\t?\s*$"
)
_STANDARD_START: Final = re.compile(r"START RequestId: (\S+) Version: (\S+)\s*$")


def parse_lambda_platform_line(message: str) -> dict[str, Any]:
    """Fields of a Lambda START / END / REPORT line; numbers as numbers."""
    first = message[:1]
    if first == "R" and (report := _STANDARD_REPORT.match(message)):
        request_id, duration, billed, memory, used, init = report.groups()
        fields: dict[str, Any] = {
            "type": "report",
            "request_id": request_id,
            "duration_ms": float(duration),
            "billed_duration_ms": int(billed),
            "memory_size_mb": int(memory),
            "max_memory_used_mb": int(used),
        }
        if init:
            fields["init_duration_ms"] = float(init)
        return fields
    if first == "S" and (start := _STANDARD_START.match(message)):
        return {"type": "start", "request_id": start[1], "version": start[2]}
    return _parse_platform_fields(message)


def _parse_platform_fields(message: str) -> dict[str, Any]:
    """Any START / END / REPORT line: plain splits on tabs and ``: ``.

    ``START RequestId: <id> Version: <v>``, ``END RequestId: <id>`` and
    ``REPORT RequestId: <id>\tDuration: 1.2 ms\t...``, whatever fields it holds.
    """
    kind, _, rest = message.partition(" ")
    if kind == "END" and "\t" not in rest:
        return {"type": "end", "request_id": rest.partition(": ")[2].strip()}
    fields: dict[str, Any] = {"type": kind.lower()}
    if kind == "START":
        request, _, version = rest.partition(" Version: ")
        pairs = [request, f"Version: {version}"] if version else [request]
    else:
        pairs = rest.split("\t")
    for pair in pairs:
        key, separator, raw_value = pair.partition(": ")
        name = _LAMBDA_FIELD_NAMES.get(key.strip()) if separator else None
        if name is None:
            continue
        value = raw_value.strip()
        if name in _LAMBDA_TEXT_FIELDS:
            fields[name] = value
            continue
        number = value.removesuffix(" ms").removesuffix(" MB")
        try:
            fields[name] = float(number) if "." in number else int(number)
        except ValueError:
            fields[name] = value
    return fields
