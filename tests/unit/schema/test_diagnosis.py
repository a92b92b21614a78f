"""Reason parsing on real OpenSearch 2.19 messages."""

from __future__ import annotations

import orjson
import pytest

from logstream.schema.diagnosis import ErrorClass, diagnose

# Messages as OpenSearch 2.19.3 returned them (probed on the devstack cluster).
NUMBER_GOT_STRING = (
    "failed to parse field [json.status] of type [double] in document with id '2'. "
    "Preview of field's value: 'OK'"
)
KEYWORD_GOT_OBJECT = (
    "failed to parse field [json.user] of type [keyword] in document with id '3'. "
    "Preview of field's value: '{id=1}'"
)
OBJECT_GOT_VALUE = (
    "object mapping for [json.obj] tried to parse field [obj] as object, but found a concrete value"
)
RACE = "mapper [json.http.status] cannot be changed from type [text] to [long]"
TOTAL_FIELDS = "Limit of total fields [12] has been exceeded"
DEPTH = (
    "The depth of the field has exceeded the allowed limit of [4]. This limit can be set by "
    "changing the [index.mapping.depth.limit] index level setting."
)
STRICT = "mapping set to strict, dynamic introduction of [z] within [json] is not allowed"


@pytest.mark.parametrize(
    ("error_type", "reason", "cause", "source", "expected"),
    [
        (
            "mapper_parsing_exception",
            NUMBER_GOT_STRING,
            ("number_format_exception", 'For input string: "OK"'),
            {"json": {"status": "OK"}},
            (ErrorClass.MAPPER_PARSING, "json.status", "double", "string"),
        ),
        (
            "mapper_parsing_exception",
            KEYWORD_GOT_OBJECT,
            ("illegal_state_exception", "Can't get text on a START_OBJECT at 1:19"),
            {"json": {"user": {"id": 1}}},
            (ErrorClass.MAPPER_PARSING, "json.user", "keyword", "object"),
        ),
        (
            "mapper_parsing_exception",
            OBJECT_GOT_VALUE,
            (None, None),
            {"json": {"obj": "x"}},
            (ErrorClass.MAPPER_PARSING, "json.obj", "object", "string"),
        ),
        (
            "illegal_argument_exception",
            RACE,
            (None, None),
            None,
            (ErrorClass.ILLEGAL_ARGUMENT, "json.http.status", "text", "long"),
        ),
        (
            "document_parsing_exception",  # Elasticsearch 8 prefixes [line:col]
            "[1:15] failed to parse field [json.status] of type [long] in document with id 'b'.",
            (None, None),
            {"json": {"status": True}},
            (ErrorClass.DOCUMENT_PARSING, "json.status", "long", "boolean"),
        ),
        (
            "strict_dynamic_mapping_exception",
            STRICT,
            (None, None),
            {"json": {"z": 1}},
            (ErrorClass.STRICT_DYNAMIC, "json.z", "strict", "number"),
        ),
        (
            "illegal_argument_exception",
            TOTAL_FIELDS,
            (None, None),
            None,
            (ErrorClass.FIELD_LIMIT, None, None, None),
        ),
        (
            "mapper_parsing_exception",
            "failed to parse",
            ("parse_exception", DEPTH),
            None,
            (ErrorClass.DEPTH_LIMIT, None, None, None),
        ),
        (
            "request_entity_too_large",
            "too big",
            (None, None),
            None,
            (ErrorClass.OTHER, None, None, None),
        ),
    ],
)
def test_diagnose_real_messages(
    error_type: str,
    reason: str,
    cause: tuple[str | None, str | None],
    source: dict[str, object] | None,
    expected: tuple[ErrorClass, str | None, str | None, str | None],
) -> None:
    raw = orjson.dumps(source) if source is not None else None
    got = diagnose(error_type, reason, cause[0], cause[1], raw)
    assert (got.error_class, got.field, got.established_type, got.seen_type) == expected
