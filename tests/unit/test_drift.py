"""Schema drift: reason parsing on real OpenSearch 2.19 messages, and the pure transforms."""

from __future__ import annotations

import orjson
import pytest

from logstream.schema.drift import ErrorClass, diagnose
from logstream.schema.healer import (
    DEPTH_KEY,
    TOTAL_FIELDS_KEY,
    apply_decisions,
    cap_depth,
    fits,
    flatten_mapping,
    heal_source,
    move_unknown_to_overflow,
)
from logstream.schema.templates import drift_template
from logstream.settings import Settings

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


def test_fits_follows_opensearch_coercion() -> None:
    assert fits("double", 3) and fits("double", "12") and not fits("double", "OK")
    assert not fits("double", True) and not fits("double", {"a": 1})
    assert fits("keyword", 200) and fits("keyword", [1, "a"]) and not fits("keyword", {"a": 1})
    assert fits("object", {"a": 1}) and fits("object", [{"a": 1}]) and not fits("object", "x")
    assert fits("boolean", "true") and not fits("boolean", "yes")
    assert fits("date", "2025-11-23T08:00:00Z") and not fits("date", "yesterday")
    assert fits("double", None)


def test_misfits_move_to_typed_siblings() -> None:
    document = {
        "json": {
            "status": "OK",
            "user": {"id": 7},
            "http": {"code": "x"},
            "items": [{"n": "a"}, {"n": 2}],
            "mixed": [1, "a"],
        }
    }
    moved = apply_decisions(
        document,
        {
            "json.status": "double",
            "json.user": "keyword",
            "json.http.code": "long",
            "json.items.n": "double",
            "json.mixed": "double",
        },
    )
    assert document["json"] == {
        "status_string": "OK",
        "user_object": {"id": 7},
        "http": {"code_string": "x"},
        "items": [{"n_string": "a"}, {"n": 2}],
        "mixed_json": '[1,"a"]',
    }
    assert moved == {
        "json.status": 1,
        "json.user": 1,
        "json.http.code": 1,
        "json.items.n": 1,
        "json.mixed": 1,
    }
    # Idempotent: a healed document needs nothing more.
    assert apply_decisions(document, {"json.status": "double", "json.user": "keyword"}) == {}


def test_fields_past_the_cap_go_to_the_overflow_object() -> None:
    known = flatten_mapping(
        {"properties": {"json": {"properties": {"a": {"type": "double"}, "o": {"properties": {}}}}}}
    )
    document = {"json": {"a": 1, "new": "x", "o": {"b": 2}, "deep": {"c": 3}}}
    assert move_unknown_to_overflow(document, known) == 3
    assert document == {
        "json": {"a": 1, "o": {}},
        "json_overflow": {"new": "x", "o": {"b": 2}, "deep": {"c": 3}},
    }


def test_objects_past_the_depth_cap_go_to_the_overflow_object() -> None:
    document = {"json": {"a": {"b": {"c": {"d": 1}}}, "flat": 1}}
    assert cap_depth(document, 4) == 1
    assert document == {
        "json": {"a": {"b": {}}, "flat": 1},
        "json_overflow": {"a": {"b": {"c": {"d": 1}}}},  # same path, one level down
    }


def test_heal_source_reports_moves_and_leaves_fitting_documents_alone() -> None:
    source = orjson.dumps({"json": {"status": 200}})
    assert heal_source(source, {"json.status": "double"}).source == source
    result = heal_source(
        orjson.dumps({"json": {"status": "OK", "x": {"y": {"z": 1}}}}),
        {"json.status": "double"},
        known={"json": "object", "json.status": "double"},
        depth_limit=3,
    )
    # status_string is a new field too: at the cap it joins the overflow.
    assert result.moved == {"json.status": 1, DEPTH_KEY: 1, TOTAL_FIELDS_KEY: 2}


def test_drift_template_carries_decisions_and_outranks_the_logs_template() -> None:
    settings = Settings.from_env({"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs"})
    body = drift_template(settings, "app", {"json.http.status": "double", "json.user": "keyword"})
    assert body["index_patterns"] == ["logs-app-*"]
    assert body["priority"] > 100
    json_props = body["template"]["mappings"]["properties"]["json"]["properties"]
    assert json_props["http"]["properties"]["status"] == {"type": "double"}
    assert json_props["user"]["type"] == "keyword"
    assert body["_meta"]["drift_fields"] == {"json.http.status": "double", "json.user": "keyword"}
