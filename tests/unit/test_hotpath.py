"""The compiled hot path (layers/common/hotpath) against its Python twin.

``build_documents`` runs the Rust loop when the layer was built with it;
``build_documents_python`` is the reference. Whatever the input, both must give
equal batches: the same documents with byte-identical bulk lines, the same
bad events and oversize records, the same counts.
"""

from __future__ import annotations

import copy
import os
import random
from collections import OrderedDict
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.payloads import make_events
from logstream.documents import (
    MAX_MESSAGE_BYTES,
    MAX_TIMESTAMP_MS,
    NATIVE_HOT_PATH,
    EventOrigin,
    build_documents,
    build_documents_python,
)

ORIGIN = EventOrigin("/aws/lambda/Orders", "2026/11/24/[$LATEST]ab", "123456789012", "eu-west-1")
needs_native = pytest.mark.skipif(
    not NATIVE_HOT_PATH, reason="compiled hot path not built (make native; make test requires it)"
)


def test_the_compiled_hot_path_is_built_when_required() -> None:
    # `make test` and CI set this, so the comparisons below can never be skipped there.
    if os.environ.get("LOGSTREAM_REQUIRE_NATIVE") != "1":
        pytest.skip("LOGSTREAM_REQUIRE_NATIVE is not set")
    assert NATIVE_HOT_PATH, "logstream._hotpath is missing: run `make native` (needs cargo)"


@needs_native
def test_both_loops_share_the_limits() -> None:
    from logstream import _hotpath  # noqa: PLC0415 - only importable when built

    assert _hotpath.MAX_TIMESTAMP_MS == MAX_TIMESTAMP_MS
    assert _hotpath.MAX_MESSAGE_BYTES == MAX_MESSAGE_BYTES


def _both(events: list[Any], origin: EventOrigin = ORIGIN) -> None:
    native = build_documents(copy.deepcopy(events), origin, "logs")
    python = build_documents_python(copy.deepcopy(events), origin, "logs")
    assert native.empty_messages == python.empty_messages
    assert native.bad_events == python.bad_events
    assert native.oversize == python.oversize
    for got, want in zip(native.documents, python.documents, strict=True):
        assert got.line == want.line
        assert got == want


@needs_native
def test_realistic_mix_over_days_and_streams() -> None:
    events = make_events(3000, 1_764_028_000_000, step_ms=60_000)
    for i, event in enumerate(events):
        event["logStream"] = f"stream-{i % 3}"
        event["ingestionTime"] = event["timestamp"] + 40
    _both(events)


REPORT = (
    "REPORT RequestId: 6513270e-269e-0d37-f2a7-4de452e6b438\tDuration: {d} ms\t"
    "Billed Duration: {b} ms\tMemory Size: 512 MB\tMax Memory Used: {u} MB{rest}"
)
MESSAGES = [
    "",
    "plain",
    'quotes " and \\ backslashes / slashes',
    "controls \x00\x01\x08\x0b\x0c\x1f\x7f \t\n\r",
    "unicode é 中文 \u2028 \u2029 😀",
    '{"a": 1, "b": [1.5, -0, 1e2, 1E-3, true, null], "c": {"d": "é\\u00e9\\n"}}',
    '{"a": 1, "a": 2}',
    '  {"leading": "blank"}',
    '\t{"leading": "tab"}',
    '{"big": 123456789012345678901234567890}',
    '{"inf": 1e400}',
    "{not json",
    "{}",
    "[1, 2]",
    REPORT.format(d="42.88", b="43", u="134", rest="\t"),
    REPORT.format(d="42", b="0043", u="0", rest=""),
    REPORT.format(d="42.10", b="43", u="134", rest="\tInit Duration: 123.450 ms\t"),
    REPORT.format(d="0.05", b="1", u="1", rest=" \n"),
    REPORT.format(d="0.00001", b="1", u="1", rest=""),
    REPORT.format(d="043.5", b="1", u="1", rest=""),
    REPORT.format(d="1.2.3", b="1", u="1", rest=""),
    REPORT.format(d="123456789012345.6", b="1", u="1", rest=""),
    REPORT.format(d="1", b="99999999999999999999", u="1", rest=""),
    REPORT.format(d="1", b="١٢", u="1", rest=""),
    REPORT.format(d="1", b="1", u="1", rest="\tRestore Duration: 5 ms"),
    REPORT.format(d="1", b="1", u="1", rest="\x0b"),
    'REPORT RequestId: id"with\\quote\tDuration: 1 ms\tBilled Duration: 1 ms\t'
    "Memory Size: 1 MB\tMax Memory Used: 1 MB",
    "REPORT RequestId: é\tDuration: 1 ms\tBilled Duration: 1 ms\tMemory Size: 1 MB\t"
    "Max Memory Used: 1 MB",
    "REPORT something else entirely",
    "START RequestId: 1e27a1c0-8a6a Version: $LATEST",
    "START RequestId: 1e27a1c0-8a6a Version: 7  \n",
    "START RequestId: 1e27a1c0-8a6a Version: 7 extra",
    "START RequestId: 1e27a1c0-8a6a",
    "START RequestId: é Version: 1",
    "END RequestId: 1e27a1c0-8a6a",
    "END RequestId: 1e27a1c0-8a6a   ",
    "END RequestId: 1e27a1c0-8a6a\tStatus: error",
    "END RequestId: a\x1fb",
    "END without a colon",
    "END ",
    "ENDING is not END",
    "x" * (MAX_MESSAGE_BYTES + 10),
    "é" * (MAX_MESSAGE_BYTES // 2 + 1),
    "é" * (MAX_MESSAGE_BYTES // 4),
]


@needs_native
def test_hostile_messages() -> None:
    events = [
        {"id": f"{i:056d}", "timestamp": 1_764_000_000_000 + i, "message": message}
        for i, message in enumerate(MESSAGES)
    ]
    _both(events)


JSON_MESSAGES = [
    '{"a":"\\u0000\\u001f\\u0022\\u005c\\u00e9\\u2028\\/\\b\\f\\n\\r\\t\\"\\\\"}',
    '{"pair": "\\ud83d\\ude00", "lone": "\\udc00"}',
    '{"bad escape": "\\u+0ff", "x": 1}',
    '{"bad escape": "\\x41"}',
    '{"raw control": "a\x01b"}',
    '{"n": [-0, -0.0, 0.10, 1.0, 0, 7, 0.5, -0.25, 123456789012345.0, 0.1]}',
    '{"n": [1e5, 1.5E-3, 2E+2]}',
    '{"n": 01}',
    '{"n": 1.}',
    '{"n": .5}',
    '{"n": -}',
    '{"n": [123456789012345678, 12345678901234567890, -9223372036854775808]}',
    '{"n": 99999999999999999999}',
    '{"n": 0.123456789012345, "m": 0.1234567890123456, "k": 0.01}',
    '{"a":1} trailing',
    '{"a":1}}',
    '{"a":1,}',
    '{"a":[1,]}',
    '{"a\\u0062": 1, "ab": 2}',
    '{"": 1, " ": {"": []}}',
    '{"x": {"y": 1, "y": 2}}',
    '{ "spaced" : [ 1 , { "deep" : true } ] , "t" : null }\n',
    '{"a": tru}',
    '{"a": truex}',
    '{"a": "unterminated}',
    '{"a" 1}',
    "{" * 70 + "}" * 70,
    '{"d":' * 70 + "1" + "}" * 70,
    '{"d":' * 60 + "1" + "}" * 60,
    "{" + ",".join(f'"k{i}": {i}' for i in range(300)) + "}",
]


@needs_native
def test_json_messages_compact_exactly_as_orjson_would() -> None:
    events = [
        {"id": str(i), "timestamp": i, "message": message}
        for i, message in enumerate(JSON_MESSAGES)
    ]
    _both(events)


@needs_native
def test_hostile_event_shapes() -> None:
    good = {"id": "1", "timestamp": 1, "message": "m"}
    events: list[Any] = [
        good,
        "not an object",
        None,
        OrderedDict(good),
        {**good, "id": ""},
        {**good, "id": 7},
        {**good, "id": 'q"uote'},
        {**good, "timestamp": True},
        {**good, "timestamp": 1.0},
        {**good, "timestamp": -1},
        {**good, "timestamp": 253_402_300_800_000},
        {**good, "timestamp": 2**70},
        {"id": "2", "timestamp": 2},
        {**good, "message": None},
        {**good, "message": 5},
        {**good, "logStream": ""},
        {**good, "logStream": None},
        {**good, "logStream": "other"},
        {**good, "logStream": 'q"uote'},
        {**good, "logStream": 0},
        {**good, "logStream": 5},
        {**good, "ingestionTime": None},
        {**good, "ingestionTime": 17},
        {**good, "ingestionTime": True},
        {**good, "ingestionTime": 1.5},
        {**good, "ingestionTime": "17"},
        {**good, "ingestionTime": 2**64},
        {**good, "timestamp": 86_400_000 * 3 + 5},
    ]
    _both(events)
    _both(events, EventOrigin("/g", "s", "1", "r", encoding_repaired=True))


@needs_native
def test_generators_are_accepted_like_lists() -> None:
    events = make_events(50, 1_764_000_000_000)
    native = build_documents(iter(copy.deepcopy(events)), ORIGIN, "logs")
    assert native == build_documents_python(events, ORIGIN, "logs")


@needs_native
def test_strings_python_cannot_encode_fail_the_same_way() -> None:
    events = [{"id": "1", "timestamp": 1, "message": "lone \ud800 surrogate"}]
    with pytest.raises(orjson.JSONEncodeError):
        build_documents_python(copy.deepcopy(events), ORIGIN, "logs")
    with pytest.raises(orjson.JSONEncodeError):
        build_documents(copy.deepcopy(events), ORIGIN, "logs")


def _number_text(rng: random.Random) -> str:
    whole = rng.choice(["0", "7", "042", "123456789", "9" * 16, ""])
    fraction = rng.choice(["", ".", ".5", ".50", ".05", ".000001", ".123456789012345678"])
    return whole + fraction


@needs_native
def test_random_lambda_lines() -> None:
    rng = random.Random(20261202)
    events = []
    for i in range(3000):
        init = f"\tInit Duration: {_number_text(rng)} ms" if rng.random() < 0.3 else ""
        tail = rng.choice(["", "\t", " ", "\n", "\tStatus: timeout"])
        message = rng.choice(
            [
                REPORT.format(d=_number_text(rng), b=_number_text(rng), u="1", rest=init + tail),
                f"START RequestId: r{i} Version: {_number_text(rng)}{tail}",
                f"END RequestId: r{i}{tail}",
            ]
        )
        events.append({"id": str(i), "timestamp": i, "message": message})
    _both(events)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.text(max_size=40))
def test_any_json_object_or_text(fields: dict[str, Any], text: str) -> None:
    try:
        as_json = orjson.dumps(fields).decode()
    except orjson.JSONEncodeError:  # lone surrogates: covered above
        return
    events: list[Any] = [
        {"id": "1", "timestamp": 1, "message": as_json},
        {"id": "2", "timestamp": 2, "message": as_json.replace(",", ", ")},
        {"id": "3", "timestamp": 3, "message": text},
        {"id": "4", "timestamp": 4, "message": "{" + text},
    ]
    try:
        orjson.dumps(text)
    except orjson.JSONEncodeError:
        events = events[:2]
    _both(events)
