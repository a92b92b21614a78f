"""The decoder under fuzz: generated payloads and events, good ones mixed with every kind of bad.

The pure decoder path runs in-process, as the live path runs it: the Lambda
event's ``awslogs.data`` (:func:`subscription_data`), the payload
(:func:`decode_payload`), the documents (:func:`build_documents`) and the
quarantine records for whatever is parked. For each generated case it asserts:

- no exception escapes: what cannot be read is a :class:`PayloadError` (the
  payload is parked whole) and only when the case broke the payload itself;
- every event is accounted for: a document or a :class:`BadEvent`, never both,
  never neither; every bad event's quarantine record is JSON with its reason;
- the good neighbours of bad events all become documents, with valid bulk
  lines and an ``_id`` OpenSearch accepts (at most 512 bytes);
- peak memory (tracemalloc) per payload stays under :data:`PEAK_BYTES`.

In CI the run is derandomized (fixed seed) and covers at least
:data:`MIN_EVENTS` events. ``LOGSTREAM_FUZZ_EXAMPLES=<n>`` runs ``n`` examples
with fresh randomness instead (a longer hunt, e.g. 20000).
"""

from __future__ import annotations

import base64
import json
import os
import random
import tracemalloc
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.payloads import event_id, realistic_messages
from logstream.shipping.documents import MAX_ID_BYTES, EventOrigin, build_documents
from logstream.shipping.payload import (
    MAX_DECOMPRESSED_BYTES,
    PayloadError,
    decode_payload,
    subscription_data,
)
from logstream.shipping.quarantine import (
    bad_event_record,
    bad_payload_record,
    json_text,
    oversize_record,
)

QUARANTINE = "logs-quarantine"
LONG_RUN = int(os.environ.get("LOGSTREAM_FUZZ_EXAMPLES", "0"))
EXAMPLES = LONG_RUN or 600
#: The CI run must see at least this many events across its examples.
MIN_EVENTS = 100_000
#: Peak memory (traced, above what was live before) of one payload's decode,
#: build and records. A bomb inflates to the cap (16 MiB) and stops; a
#: legitimate-sized payload needs far less.
PEAK_BYTES = 4 * MAX_DECOMPRESSED_BYTES
_MESSAGES = list(zip(range(2_000), realistic_messages(seed=11), strict=False))

# --- Strategies ----------------------------------------------------------------------

_ODD_CHARS = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1f", "é", "😀", "\u2028", '"', "\\"])
_TEXT = st.text(st.one_of(st.characters(), _ODD_CHARS), max_size=12)
_INTS = st.one_of(
    st.integers(-(2**63), 2**63),
    st.sampled_from([2**64, -(2**64) - 1, 10**30, -1, 0, 253_402_300_800_000]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), _INTS, st.floats(allow_nan=False), _TEXT)
_ODD = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _nested(depth: int, inner: str = "1") -> str:
    return '{"a":' + "[" * depth + inner + "]" * depth + "}"


_ODD_MESSAGES = st.one_of(
    _TEXT,
    st.sampled_from([100, 254, 256, 300, 1_025, 5_000]).map(_nested),
    st.just('{"big": ' + "9" * 40 + "}"),
    st.just('{"inf": 1e999, "x": [1, 2]}'),
    st.just('{"k\\ud800": "v\\udfff"}'),
    st.just("REPORT RequestId: x\tDuration: 1e999 ms\tMemory Size: " + "9" * 30 + " MB"),
    st.just("START RequestId: \ud800 Version: 1"),
    st.just("END RequestId: y\textra: 1"),
    st.just("x" * (1024 * 1024 + 7)),  # over CloudWatch's 1 MB event limit: cut, full text parked
)
_BAD_IDS = st.one_of(
    _ODD,
    st.just(""),
    st.just("9" * (MAX_ID_BYTES + 1)),
    st.just("é" * (MAX_ID_BYTES // 2 + 1)),
    st.just("\ud800"),
)
_FIELDS = ("id", "timestamp", "message", "logStream")


@st.composite
def _bad_event(draw: st.DrawFn, sequence: int) -> Any:
    """An event with one field (or the whole event) wrong."""
    choice = draw(st.integers(0, 5))
    event: dict[str, Any] = {"id": f"bad-{sequence}", "timestamp": 5, "message": "m"}
    if choice == 0:
        return draw(st.one_of(_SCALARS, st.lists(_ODD, max_size=2)))
    if choice == 1:
        event["id"] = draw(_BAD_IDS)
    elif choice == 2:
        event["timestamp"] = draw(st.one_of(_ODD, st.sampled_from([-1, 2**70, "5", 1.5, True])))
    elif choice == 3:
        event["message"] = draw(_ODD.filter(lambda v: not isinstance(v, str) and v is not None))
    elif choice == 4:
        event["logStream"] = draw(_ODD.filter(lambda v: not isinstance(v, str) and v is not None))
    else:
        del event[draw(st.sampled_from(("id", "timestamp")))]
    return event


@dataclass
class Case:
    """One generated Lambda event and what the decoder must make of it."""

    lambda_event: Any = field(repr=False)
    good_ids: set[str] = field(repr=False)
    event_count: int
    #: The case broke the payload itself; parking it whole is then a right answer.
    payload_may_fail: bool
    fault: str = "none"
    odd_messages: list[str] = field(default_factory=list, repr=False)


_PAYLOAD_FAULTS = (
    "none",
    "none",
    "none",
    "invalid_utf8",
    "lone_surrogate",
    "big_int",
    "deep_extra",
    "field",
    "shape",
    "lambda_shape",
    "truncate",
    "base64",
    "bomb",
)
_BOMB = base64.b64encode(zlib.compress(bytes(40 * 1024 * 1024), 9, wbits=31)).decode()


def _gzip_b64(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 1, wbits=31)).decode()


@st.composite
def cases(draw: st.DrawFn) -> Case:
    rng = random.Random(draw(st.integers(0, 2**32)))
    good: list[dict[str, Any]] = []
    for sequence in range(rng.randint(100, 360)):
        _, message = _MESSAGES[rng.randrange(len(_MESSAGES))]
        good.append({"id": event_id(1_700_000_000_000 + sequence, sequence), "timestamp": 5})
        good[-1]["message"] = message
    odd_messages = draw(st.lists(_ODD_MESSAGES, max_size=3))
    for index, message in enumerate(odd_messages):
        good.append({"id": f"odd-{index}", "timestamp": 7, "message": message})
    bad = [draw(_bad_event(sequence)) for sequence in range(draw(st.integers(0, 12)))]
    events: list[Any] = good + bad
    rng.shuffle(events)

    fault = draw(st.sampled_from(_PAYLOAD_FAULTS))
    body: dict[str, Any] = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/fuzz",
        "logStream": "2026/11/24/[$LATEST]abc",
        "subscriptionFilters": ["logstream"],
        "logEvents": events,
    }
    if fault == "field":
        replaced = draw(st.sampled_from(list(body)))
        body[replaced] = draw(_ODD)
        if replaced == "logEvents":
            # The events themselves are gone (an odd value such as [] is still a valid,
            # empty batch): no good neighbour is left to deliver.
            good = []
    if fault == "deep_extra":
        body["deep"] = json.loads(_nested(draw(st.sampled_from([300, 900]))))
    if fault == "big_int":
        body["n"] = 10**30
    if fault == "lone_surrogate":
        body["s"] = "\udc00 \ud800"
    raw = json.dumps(body).encode() if fault != "shape" else json.dumps(draw(_ODD)).encode()
    if fault == "invalid_utf8":
        raw = raw.replace(b"processed", b"proc\xff\xfessed", 1)
    data = _gzip_b64(raw)
    if fault == "truncate":
        data = base64.b64encode(base64.b64decode(data)[: draw(st.integers(0, 40))]).decode()
    elif fault == "base64":
        data = data[:-3] + "!!!"
    elif fault == "bomb":
        data = _BOMB
    lambda_event: Any = {"awslogs": {"data": data}}
    if fault == "lambda_shape":
        lambda_event = draw(st.one_of(_ODD, st.just({"records": []}), st.just({"awslogs": 5})))
    return Case(
        lambda_event=lambda_event,
        good_ids={e["id"] for e in good},
        event_count=len(events),
        payload_may_fail=fault in ("field", "shape", "lambda_shape", "truncate", "base64", "bomb"),
        fault=fault,
        odd_messages=odd_messages,
    )


# --- The decoder path and what it must guarantee ----------------------------------------


@dataclass
class Tally:
    examples: int = 0
    events: int = 0
    documents: int = 0
    bad_events: int = 0
    payloads_parked: int = 0
    peak_bytes: int = 0
    worst_case: str = ""


def _check_record(line: bytes, reason: str | None = None) -> dict[str, Any]:
    action, source, tail = line.split(b"\n")
    assert tail == b""
    assert len(orjson.loads(action)["index"]["_id"].encode()) <= MAX_ID_BYTES
    record: dict[str, Any] = orjson.loads(source)
    assert record["reason"]
    if reason is not None:
        assert record["reason"] == reason
    return record


def decode_and_check(case: Case, tally: Tally) -> None:
    raw = json_text(case.lambda_event)  # what the live path parks for a non-subscription event
    try:
        raw = subscription_data(case.lambda_event)
        batch = decode_payload(raw)
    except PayloadError as error:
        assert case.payload_may_fail, f"a good payload was refused: {error}"
        _check_record(bad_payload_record(QUARANTINE, raw, error).line, error.detail)
        tally.payloads_parked += 1
        return
    tally.events += case.event_count
    if batch.is_control:
        return
    origin = EventOrigin(batch.log_group, batch.log_stream, batch.owner, "eu-west-1")
    built = build_documents(batch.events, origin, "logs")

    ids = [d.doc_id for d in built.documents]
    assert len(built.documents) + len(built.bad_events) == len(batch.events)
    assert len({b.position for b in built.bad_events}) == len(built.bad_events)
    assert case.good_ids <= set(ids), "a good neighbour of a bad event was not delivered"
    for document in built.documents:
        action, source, tail = document.line.split(b"\n")
        assert tail == b""
        assert orjson.loads(action)["create"]["_id"] == document.doc_id
        assert len(document.doc_id.encode()) <= MAX_ID_BYTES
        assert orjson.loads(source)["event_id"] == document.doc_id
    for bad in built.bad_events:
        record = _check_record(
            bad_event_record(QUARANTINE, origin.log_group, origin.log_stream, bad).line, bad.reason
        )
        assert record["raw"]
    for oversize in built.oversize:
        _check_record(oversize_record(QUARANTINE, oversize).line)
    tally.documents += len(built.documents)
    tally.bad_events += len(built.bad_events)


def test_the_decoder_survives_generated_payloads() -> None:
    tally = Tally()

    @settings(
        max_examples=EXAMPLES,
        derandomize=not LONG_RUN,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def run(case: Case) -> None:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        decode_and_check(case, tally)
        peak = tracemalloc.get_traced_memory()[1] - before
        tally.peak_bytes = max(tally.peak_bytes, peak)
        tally.worst_case = case.fault if peak == tally.peak_bytes else tally.worst_case
        tally.examples += 1

    tracemalloc.start()
    try:
        run()
    finally:
        tracemalloc.stop()
    print(tally)
    assert tally.peak_bytes < PEAK_BYTES
    assert tally.events >= (MIN_EVENTS if not LONG_RUN else 0)
    assert tally.bad_events and tally.payloads_parked and tally.documents
