"""The OpenSearch Dashboards saved objects for one index prefix, in the NDJSON
format of the saved-objects import API (one object per line: ``id``, ``type``,
``attributes``, ``references``).

What they give an operator: index patterns on ``<prefix>-all`` and
``<prefix>-quarantine``; saved searches for errors and for the quarantine;
visualizations of events per log group, Lambda REPORT durations (p50 and p99)
and cold starts (REPORT lines with ``lambda.init_duration_ms``), the quarantine
by reason; and one dashboard holding them. Ids are derived from the prefix, so
importing again (overwrite) updates the same objects. Nested JSON (search
sources, visualization states, panels) is stored as strings, as Dashboards
exports it. ``dashboards/saved-objects.ndjson`` is this output for the default
prefix ``logs``.
"""

from __future__ import annotations

import json
from typing import Any, Final

Json = dict[str, Any]

#: The reference name a search source uses for its index pattern.
INDEX_REF: Final = "kibanaSavedObjectMeta.searchSourceJSON.index"
#: Migration versions of OpenSearch Dashboards 1.x and 2.x exports.
_MIGRATION: Final = {
    "index-pattern": "7.6.0",
    "search": "7.9.3",
    "visualization": "7.10.0",
    "dashboard": "7.9.3",
}
_NO_QUERY: Final = {"query": "", "language": "kuery"}
#: KQL for log lines that report an error (Powertools JSON levels, Lambda's own lines).
ERROR_QUERY: Final = (
    "json.level:(ERROR or CRITICAL) or message:(ERROR or Traceback) "
    'or message:"Task timed out" or message:"Runtime exited"'
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _search_source(query: str) -> str:
    return _dumps(
        {"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": INDEX_REF}
    )


def _object(kind: str, object_id: str, attributes: Json, references: list[Json]) -> Json:
    return {
        "id": object_id,
        "type": kind,
        "attributes": attributes,
        "references": references,
        "migrationVersion": {kind: _MIGRATION[kind]},
    }


def _index_pattern(object_id: str, title: str) -> Json:
    # No "fields": Dashboards reads them from the cluster when the pattern is first used.
    return _object("index-pattern", object_id, {"title": title, "timeFieldName": "@timestamp"}, [])


def _search(object_id: str, title: str, pattern_id: str, query: str, columns: list[str]) -> Json:
    return _object(
        "search",
        object_id,
        {
            "title": title,
            "description": "",
            "columns": columns,
            "sort": [["@timestamp", "desc"]],
            "hits": 0,
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(query)},
        },
        [{"id": pattern_id, "name": INDEX_REF, "type": "index-pattern"}],
    )


def _over_time(field: str = "@timestamp") -> Json:
    return {
        "id": "2",
        "enabled": True,
        "type": "date_histogram",
        "schema": "segment",
        "params": {"field": field, "interval": "auto", "min_doc_count": 1, "extended_bounds": {}},
    }


def _per_group(agg_id: str = "3", size: int = 10, order_by: str = "1") -> Json:
    return {
        "id": agg_id,
        "enabled": True,
        "type": "terms",
        "schema": "group",
        "params": {"field": "log_group", "size": size, "order": "desc", "orderBy": order_by},
    }


def _count() -> Json:
    return {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}


def _visualization(
    object_id: str, title: str, pattern_id: str, *, query: str, vis_type: str, aggs: list[Json]
) -> Json:
    params: Json = {"addTooltip": True, "addLegend": True, "legendPosition": "right"}
    if vis_type == "table":
        params = {"perPage": 20, "showTotal": True, "totalFunc": "sum"}
    vis_state = {"title": title, "type": vis_type, "aggs": aggs, "params": params}
    return _object(
        "visualization",
        object_id,
        {
            "title": title,
            "description": "",
            "version": 1,
            "uiStateJSON": "{}",
            "visState": _dumps(vis_state),
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(query)},
        },
        [{"id": pattern_id, "name": INDEX_REF, "type": "index-pattern"}],
    )


def _dashboard(object_id: str, title: str, panels: list[tuple[str, str]]) -> Json:
    """``panels``: (type, id) pairs, laid out two per row."""
    panel_json = [
        {
            "panelIndex": str(number + 1),
            "gridData": {
                "x": 24 * (number % 2),
                "y": 15 * (number // 2),
                "w": 24,
                "h": 15,
                "i": str(number + 1),
            },
            "embeddableConfig": {},
            "version": "2.19.0",
            "panelRefName": f"panel_{number}",
        }
        for number in range(len(panels))
    ]
    return _object(
        "dashboard",
        object_id,
        {
            "title": title,
            "description": "logstream: what arrived, Lambda durations, errors and the quarantine",
            "hits": 0,
            "version": 1,
            "timeRestore": False,
            "optionsJSON": _dumps({"useMargins": True, "hidePanelTitles": False}),
            "panelsJSON": _dumps(panel_json),
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": _dumps(
                    {"query": {"query": "", "language": "kuery"}, "filter": []}
                )
            },
        },
        [
            {"id": panel_id, "name": f"panel_{number}", "type": kind}
            for number, (kind, panel_id) in enumerate(panels)
        ],
    )


def saved_objects(prefix: str) -> list[Json]:
    """Every object for the indices of ``prefix`` (``INDEX_PREFIX``), dependencies first."""
    all_id, quarantine_id = f"logstream-{prefix}-all", f"logstream-{prefix}-quarantine"
    percentiles = {
        "id": "1",
        "enabled": True,
        "type": "percentiles",
        "schema": "metric",
        "params": {"field": "lambda.duration_ms", "percents": [50, 99]},
    }
    by_reason = [
        _count(),
        {
            "id": "2",
            "enabled": True,
            "type": "terms",
            "schema": "bucket",
            "params": {"field": "kind", "size": 10, "order": "desc", "orderBy": "1"},
        },
        {
            "id": "3",
            "enabled": True,
            "type": "terms",
            "schema": "bucket",
            "params": {
                "field": "error_class",
                "size": 20,
                "order": "desc",
                "orderBy": "1",
                "missingBucket": True,
                "missingBucketLabel": "-",
            },
        },
        {**_per_group("4", 50), "schema": "bucket"},
    ]
    objects = [
        _index_pattern(all_id, f"{prefix}-all"),
        _index_pattern(quarantine_id, f"{prefix}-quarantine"),
        _search(
            f"{all_id}-errors",
            "logstream: errors",
            all_id,
            ERROR_QUERY,
            ["log_group", "log_stream", "message"],
        ),
        _search(
            f"{quarantine_id}-records",
            "logstream: quarantine",
            quarantine_id,
            "",
            ["kind", "log_group", "error_class", "field", "reason", "target_index", "doc_id"],
        ),
        _visualization(
            f"{all_id}-events-per-group",
            "logstream: events per log group",
            all_id,
            query="",
            vis_type="histogram",
            aggs=[_count(), _over_time(), _per_group()],
        ),
        _visualization(
            f"{all_id}-lambda-durations",
            "logstream: Lambda REPORT duration p50 / p99 (ms)",
            all_id,
            query="lambda.duration_ms:*",
            vis_type="line",
            aggs=[percentiles, _over_time(), _per_group(size=5, order_by="_key")],
        ),
        _visualization(
            f"{all_id}-cold-starts",
            "logstream: Lambda cold starts (REPORT lines with an init duration)",
            all_id,
            query="lambda.init_duration_ms:*",
            vis_type="histogram",
            aggs=[_count(), _over_time(), _per_group()],
        ),
        _visualization(
            f"{quarantine_id}-by-reason",
            "logstream: quarantine by reason",
            quarantine_id,
            query="",
            vis_type="table",
            aggs=by_reason,
        ),
    ]
    panels = [(o["type"], o["id"]) for o in objects if o["type"] in {"visualization", "search"}]
    objects.append(_dashboard(f"logstream-{prefix}", f"logstream ({prefix})", panels))
    return objects


def to_ndjson(objects: list[Json]) -> str:
    """The import file: one compact JSON object per line."""
    return "".join(_dumps(o) + "\n" for o in objects)
