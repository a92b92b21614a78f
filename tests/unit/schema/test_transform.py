"""The pure document transforms: typed siblings, the field and depth caps."""

from __future__ import annotations

import orjson

from logstream.schema.transform import (
    DEPTH_KEY,
    TOTAL_FIELDS_KEY,
    apply_decisions,
    cap_depth,
    fits,
    flatten_mapping,
    heal_source,
    move_unknown_to_overflow,
)


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
