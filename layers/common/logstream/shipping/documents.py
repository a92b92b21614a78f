"""One CloudWatch event -> one index document.

Document shape (the envelope has an explicit mapping in ``templates``):

``@timestamp``      event time, epoch milliseconds (never the forwarding time)
``event_id``        the CloudWatch event id (also the ``_id``)
``message``         the raw message, kept even when empty
``json``            the message parsed as a JSON object, native types kept
``lambda``          START / END / REPORT platform lines as structured fields
``ingestion_time``  when CloudWatch ingested the event, where the source says
``log_group``, ``log_stream``, ``owner`` (account), ``region``

This is the hot path of every shipping route, and there is one loop: each
event's bulk lines are formatted in one pass, with what a batch shares
(action-line prefix per day, envelope tail per stream) encoded once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import Any, Final

import orjson

from logstream.naming import IndexLayout, daily_index_head, day_suffix, document_id
from logstream.shipping.lambda_lines import parse_lambda_platform_line

#: CloudWatch's own limit for one event since April 2025 (1 MB; it was 256 KB).
#: Anything larger did not come from it intact, so its indexed copy is cut.
MAX_MESSAGE_BYTES: Final = 1024 * 1024
#: 9999-12-31T23:59:59.999Z, the last instant an index date suffix can spell.
MAX_TIMESTAMP_MS: Final = 253_402_300_799_999
#: OpenSearch refuses an ``_id`` over 512 bytes, and with it the whole ``_bulk`` request.
MAX_ID_BYTES: Final = 512
# An id of at most this many characters cannot exceed MAX_ID_BYTES (4 bytes a character).
_SURELY_SHORT_ID: Final = MAX_ID_BYTES // 4


@dataclass(slots=True)
class Document:
    """A document ready for the bulk API: where it goes, its id, and its bulk lines.

    ``line`` is the document's whole share of a ``_bulk`` body: the action line,
    the source line, each ending in a newline. It is encoded once, when the
    document is built, so that a request body is a plain join of lines. Build
    documents outside the hot path with :meth:`from_source`.
    """

    index: str
    doc_id: str
    timestamp: int
    log_group: str
    log_stream: str
    line: bytes
    op: str = "create"

    @classmethod
    def from_source(
        cls,
        *,
        index: str,
        doc_id: str,
        timestamp: int,
        log_group: str,
        log_stream: str,
        source: bytes,
        op: str = "create",
    ) -> Document:
        line = _action_prefix(op, index) + orjson.dumps(doc_id) + b"}}\n" + source + b"\n"
        return cls(index, doc_id, timestamp, log_group, log_stream, line, op)

    @property
    def source(self) -> bytes:
        """The JSON source (no newline). The action line holds no raw newline: JSON escapes it."""
        line = self.line
        return line[line.index(b"\n") + 1 : -1]

    def with_source(self, source: bytes) -> Document:
        """The same document (index, id, op) with a different source."""
        return Document.from_source(
            index=self.index,
            doc_id=self.doc_id,
            timestamp=self.timestamp,
            log_group=self.log_group,
            log_stream=self.log_stream,
            source=source,
            op=self.op,
        )


@lru_cache(maxsize=4096)
def _action_prefix(op: str, index: str) -> bytes:
    # Index names are validated to be plain ASCII without quotes, so no escaping.
    return b'{"%s":{"_index":"%s","_id":' % (op.encode(), index.encode())


def _daily_target(group_prefix: str, timestamp: int) -> tuple[str, bytes]:
    """The daily index of an event and its ``create`` action-line prefix."""
    index = group_prefix + day_suffix(timestamp)
    return index, _action_prefix("create", index)


@dataclass(frozen=True, slots=True)
class BadEvent:
    """An event that cannot become a document (no id, no valid timestamp...)."""

    position: int
    reason: str
    raw: Any


@dataclass(slots=True)
class OversizeEvent:
    """An event whose message exceeded :data:`MAX_MESSAGE_BYTES`; its document holds a cut."""

    document: Document
    original_message: str


@dataclass(slots=True)
class DocumentBatch:
    documents: list[Document] = field(default_factory=list)
    oversize: list[OversizeEvent] = field(default_factory=list)
    bad_events: list[BadEvent] = field(default_factory=list)
    empty_messages: int = 0


@dataclass(frozen=True, slots=True)
class EventOrigin:
    """What every event of one batch shares."""

    log_group: str
    log_stream: str
    owner: str
    region: str
    encoding_repaired: bool = False


_BAD_STREAM: Final = "event logStream is not a string"
_NOT_UTF8: Final = "event holds text that is not valid UTF-8 (lone surrogates)"

# One document's bulk lines, by what the message turned out to be. Arguments:
# action prefix, JSON id, @timestamp, JSON id, fields before `message`, JSON
# message, [parsed fields,] and the envelope tail with the closing brace.
_PLAIN_LINE: Final = b'%s%s}}\n{"@timestamp":%d,"event_id":%s%s,"message":%s%s'
_JSON_LINE: Final = b'%s%s}}\n{"@timestamp":%d,"event_id":%s%s,"message":%s,"json":%s%s'
_LAMBDA_LINE: Final = b'%s%s}}\n{"@timestamp":%d,"event_id":%s%s,"message":%s,"lambda":%s%s'


# One pass per event by design (the hot path): splitting it costs a call per event.
def build_documents(  # noqa: PLR0912, PLR0915
    events: Iterable[Any],
    origin: EventOrigin,
    index_prefix: str,
    layout: IndexLayout = IndexLayout.GROUP_DAILY,
    *,
    start: int = 0,
) -> DocumentBatch:
    """Turn CloudWatch events (``id``, ``timestamp``, ``message``; optionally
    ``logStream``, ``ingestionTime``) into documents; a malformed event becomes
    a :class:`BadEvent`, never an error.

    One pass: each event is checked and its bulk lines formatted together,
    with what a batch shares (action-line prefix per day, envelope tail per
    stream) encoded once. ``layout`` names the daily indices (:mod:`logstream.naming`).
    ``start`` is the first event's position (in the whole payload, when it comes
    in parts)."""
    batch = DocumentBatch()
    append = batch.documents.append
    group_prefix = daily_index_head(index_prefix, origin.log_group, layout)
    index_of_day: dict[int, tuple[str, bytes]] = {}
    tail_of_stream: dict[str, bytes] = {}
    dumps = orjson.dumps
    log_group = origin.log_group
    default_stream = origin.log_stream

    for position, event in enumerate(events, start):
        if not (
            type(event) is dict
            and type(event_id := event.get("id")) is str
            and event_id
            and len(event_id) <= _SURELY_SHORT_ID
            and type(timestamp := event.get("timestamp")) is int
            and 0 <= timestamp <= MAX_TIMESTAMP_MS
            and type(message := event.get("message")) is str
            and ((stream := event.get("logStream")) is None or type(stream) is str)
        ):
            problem = event_problem(event)
            if problem is not None:
                batch.bad_events.append(BadEvent(position, problem, event))
                continue
            event_id, timestamp, message = event["id"], event["timestamp"], event["message"]
            stream = event.get("logStream")

        stream = stream or default_stream
        day = timestamp // 86_400_000
        target = index_of_day.get(day)
        if target is None:
            target = index_of_day[day] = _daily_target(group_prefix, timestamp)
        doc_id = document_id(event_id)
        try:
            tail = tail_of_stream.get(stream)
            if tail is None:
                tail = tail_of_stream[stream] = _envelope_tail(origin, stream)
            id_json = dumps(doc_id)
            message_json = dumps(message)
        except TypeError:
            # Lone surrogates: only FilterLogEvents can hand them in (payloads are scrubbed).
            batch.bad_events.append(BadEvent(position, _NOT_UTF8, event))
            continue
        # Informational: kept when it is a plausible epoch-ms integer, else left out.
        ingestion_time = event.get("ingestionTime")
        before_message = (
            b',"ingestion_time":%d' % ingestion_time
            if type(ingestion_time) is int and 0 <= ingestion_time <= MAX_TIMESTAMP_MS
            else b""
        )

        original: str | None = None
        if not message:
            batch.empty_messages += 1
        elif len(message) * 4 > MAX_MESSAGE_BYTES and (cut := _cut_oversize(message)):
            original = message
            message, truncation = cut
            message_json = dumps(message)
            before_message += truncation

        first = message[:1]
        fields: bytes | None = None
        if first == "{" or (first in " \t" and message.lstrip()[:1] == "{"):
            fields = _json_fields(message)
            line_format = _JSON_LINE
        elif first in "SER" and message.startswith(("REPORT ", "START ", "END ")):
            fields = _lambda_fields(message)
            line_format = _LAMBDA_LINE
        if fields is None:
            line = _PLAIN_LINE % (
                target[1], id_json, timestamp, id_json, before_message, message_json, tail
            )  # fmt: skip
        else:
            line = line_format % (
                target[1], id_json, timestamp, id_json, before_message, message_json, fields,
                tail,
            )  # fmt: skip

        document = Document(target[0], doc_id, timestamp, log_group, stream, line)
        append(document)
        if original is not None:
            batch.oversize.append(OversizeEvent(document, original))
    return batch


def build_in_parts(
    events: Iterable[Any],
    origin: EventOrigin,
    index_prefix: str,
    layout: IndexLayout = IndexLayout.GROUP_DAILY,
    *,
    part_size: int,
    into: DocumentBatch,
) -> Iterator[list[Document]]:
    """:func:`build_documents` ``part_size`` events at a time: each part's documents
    as soon as they are built (to be sent while the next part is built), all of
    it gathered ``into`` one batch, the same as one call would have built."""
    remaining = iter(events)
    position = 0
    while part := list(islice(remaining, part_size)):
        built = build_documents(part, origin, index_prefix, layout, start=position)
        position += len(part)
        into.documents += built.documents
        into.oversize += built.oversize
        into.bad_events += built.bad_events
        into.empty_messages += built.empty_messages
        yield built.documents


def _json_fields(message: str) -> bytes | None:
    """The ``json`` field of a message that is a JSON object, encoded; else None.

    Not JSON after all, numbers beyond 64 bits, or nesting deeper than orjson
    writes (255 levels): the text is kept in ``message`` and nothing is parsed.
    """
    try:
        parsed = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict):
        return None
    try:
        return orjson.dumps(parsed)
    except TypeError:
        return None


def _lambda_fields(message: str) -> bytes | None:
    """The ``lambda`` field of a START / END / REPORT line, encoded; None if it cannot be."""
    try:
        return orjson.dumps(parse_lambda_platform_line(message))
    except TypeError:
        return None


def _cut_oversize(message: str) -> tuple[str, bytes] | None:
    """``message`` cut to :data:`MAX_MESSAGE_BYTES` and the fields saying so, if it is over."""
    encoded = message.encode("utf-8")
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return None
    cut = encoded[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore")
    return cut, b',"message_truncated":true,"message_bytes":%d' % len(encoded)


def event_problem(event: Any) -> str | None:  # noqa: PLR0911 - one return per reason
    """Why ``event`` cannot become a document, or None. A missing message is set to ``""``."""
    if not isinstance(event, dict):
        return "event is not a JSON object"
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        return "event has no id"
    if len(event_id) > _SURELY_SHORT_ID and _utf8_length(event_id) > MAX_ID_BYTES:
        return f"event id is longer than {MAX_ID_BYTES} bytes, the most an OpenSearch _id holds"
    timestamp = event.get("timestamp")
    if (
        not isinstance(timestamp, int)
        or isinstance(timestamp, bool)
        or not 0 <= timestamp <= MAX_TIMESTAMP_MS
    ):
        return "event has no valid timestamp (epoch milliseconds, year 1970..9999)"
    message = event.get("message")
    if message is None:
        # A missing message is treated as empty: the event still happened.
        event["message"] = ""
    elif not isinstance(message, str):
        return "event message is not a string"
    stream = event.get("logStream")
    if stream is not None and not isinstance(stream, str):
        # A missing or empty logStream means the payload's; anything else is no stream name.
        return _BAD_STREAM
    return None


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _envelope_tail(origin: EventOrigin, stream: str) -> bytes:
    common: dict[str, Any] = {
        "log_group": origin.log_group,
        "log_stream": stream,
        "owner": origin.owner,
        "region": origin.region,
    }
    if origin.encoding_repaired:
        common["encoding_repaired"] = True
    # `{"log_group":...}` -> `,"log_group":...}\n`: closes a document's source line.
    return b"," + orjson.dumps(common)[1:] + b"\n"
