"""The saved objects, checked against the saved-objects import format of OpenSearch
Dashboards: one JSON object per line with id, type, attributes and references;
every reference resolves within the file; nested JSON strings parse.

No Dashboards server runs here, so nothing proves Dashboards accepts the file;
these checks hold it to the format Dashboards exports and imports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logstream.dashboards.saved_objects import INDEX_REF, saved_objects, to_ndjson

REPO = Path(__file__).resolve().parents[3]
COMMITTED = REPO / "dashboards" / "saved-objects.ndjson"
TYPES = {"index-pattern", "search", "visualization", "dashboard"}


def _lines(prefix: str) -> list[dict[str, Any]]:
    text = to_ndjson(saved_objects(prefix))
    assert text.endswith("\n")
    parsed = []
    for line in text.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        parsed.append(value)
    return parsed


@pytest.mark.parametrize("prefix", ["logs", "prod-eu.logs_2+x"])
def test_every_line_is_an_importable_object(prefix: str) -> None:
    objects = _lines(prefix)
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(set(ids)) == len(ids)
    for obj in objects:
        assert {"id", "type", "attributes", "references"} <= set(obj), obj
        assert obj["type"] in TYPES
        assert isinstance(obj["id"], str) and obj["id"]
        assert isinstance(obj["attributes"]["title"], str)
        assert set(obj["migrationVersion"]) == {obj["type"]}
        for reference in obj["references"]:
            assert set(reference) == {"id", "name", "type"}
            # Import resolves references within the file (or fails "missing_references").
            assert (reference["type"], reference["id"]) in ids, reference
        source = obj["attributes"].get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if source is not None:
            parsed = json.loads(source)
            assert parsed["query"]["language"] == "kuery"
            if "indexRefName" in parsed:
                names = {r["name"] for r in obj["references"]}
                assert parsed["indexRefName"] == INDEX_REF and INDEX_REF in names


def test_index_patterns_are_the_alias_and_the_quarantine() -> None:
    patterns = {o["attributes"]["title"]: o for o in _lines("acme") if o["type"] == "index-pattern"}
    assert set(patterns) == {"acme-all", "acme-quarantine"}
    for pattern in patterns.values():
        assert pattern["attributes"]["timeFieldName"] == "@timestamp"


def test_saved_searches_for_errors_and_the_quarantine() -> None:
    objects = _lines("acme")
    titles = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    searches = {
        o["attributes"]["title"]: (
            json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]),
            titles[o["references"][0]["id"]],
        )
        for o in objects
        if o["type"] == "search"
    }
    errors, errors_pattern = searches["logstream: errors"]
    assert errors_pattern == "acme-all"
    assert "json.level" in errors["query"]["query"]
    _, quarantine_pattern = searches["logstream: quarantine"]
    assert quarantine_pattern == "acme-quarantine"


def test_visualizations_of_events_per_group_durations_and_cold_starts() -> None:
    visualizations = {
        o["attributes"]["title"]: o for o in _lines("acme") if o["type"] == "visualization"
    }
    states = {title: json.loads(v["attributes"]["visState"]) for title, v in visualizations.items()}
    for title, state in states.items():
        assert state["title"] == title
        assert json.loads(visualizations[title]["attributes"]["uiStateJSON"]) == {}
        for agg in state["aggs"]:
            assert {"id", "type", "schema", "params"} <= set(agg)

    def aggs(fragment: str) -> dict[str, dict[str, Any]]:
        (state,) = [s for t, s in states.items() if fragment in t]
        return {a["type"]: a["params"] for a in state["aggs"]}

    assert aggs("events per log group")["terms"]["field"] == "log_group"
    durations = aggs("duration p50 / p99")
    assert durations["percentiles"] == {"field": "lambda.duration_ms", "percents": [50, 99]}
    (cold,) = [v for t, v in visualizations.items() if "cold starts" in t]
    query = json.loads(cold["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert query["query"]["query"] == "lambda.init_duration_ms:*"


def test_the_dashboard_holds_every_search_and_visualization() -> None:
    objects = _lines("acme")
    (dashboard,) = [o for o in objects if o["type"] == "dashboard"]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    references = {r["name"]: (r["type"], r["id"]) for r in dashboard["references"]}
    assert [p["panelRefName"] for p in panels] == list(references)
    shown = set(references.values())
    assert shown == {
        (o["type"], o["id"]) for o in objects if o["type"] in {"search", "visualization"}
    }
    json.loads(dashboard["attributes"]["optionsJSON"])


def test_the_committed_file_is_the_default_prefix_output() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == to_ndjson(saved_objects("logs")), (
        "regenerate dashboards/saved-objects.ndjson (see its README section)"
    )
