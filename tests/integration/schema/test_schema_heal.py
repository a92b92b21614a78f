"""Schema drift, end to end on each real engine: fields flip type, nest, grow past
the caps; the built SchemaHealFunction heals; nothing is lost; a second run is a no-op."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.payloads import subscription_payload
from logstream import clients
from logstream.naming import IndexLayout, index_pattern_for_group, schema_scope
from logstream.schema.templates import index_owner
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

GROUP = "/app/Drifting_Service"
DAY1 = int(datetime(2025, 11, 23, 8, tzinfo=UTC).timestamp() * 1000)
DAY2 = DAY1 + 86_400_000
DAY3 = DAY2 + 86_400_000


def _event(n: int, ts: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{ts:020d}{n:036d}", "timestamp": ts, "message": json.dumps(body)}


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": 1}
    for n in range(levels):
        node = {f"l{n}": node}
    return node


def _stream() -> list[list[dict[str, Any]]]:
    """Batches as the subscription would deliver them, oldest first."""
    n = iter(range(1, 10_000))
    day1 = [
        [
            _event(next(n), DAY1, {"status": 200, "user": "alice", "level": "info"}),
            _event(next(n), DAY1 + 1, {"status": 201, "user": "bob", "duration": 3}),
        ],
        [
            _event(next(n), DAY1 + 10, {"status": "OK", "level": "warn"}),  # number -> string
            _event(next(n), DAY1 + 11, {"user": {"id": 7, "name": "carol"}}),  # string -> object
            _event(next(n), DAY1 + 12, {"duration": 2.5}),  # long -> float: no drift (double)
            _event(next(n), DAY1 + 13, {"when": "2025-11-23T08:00:00Z"}),
            _event(next(n), DAY1 + 14, {"when": "yesterday"}),  # no date detection: no drift
        ],
        [_event(next(n), DAY1 + 20, {"trace": _deep(8)})],  # past the depth cap
        [  # 4 x 25 new keys: far past the 80-field cap
            _event(next(n), DAY1 + 30 + i, {f"k{i}_{j}": j for j in range(25)}) for i in range(4)
        ],
    ]
    day2 = [
        [_event(next(n), DAY2, {"status": "DEGRADED", "user": {"id": 8}})],  # day 2 starts the
        [  # other way round, so the two days' indices disagree on both fields
            _event(next(n), DAY2 + 1, {"status": 503, "user": "dave"}),
            _event(next(n), DAY2 + 2, {"status": "OK", "user": {"id": 9}}),
        ],
    ]
    return day1 + day2


def _heal(event: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = invoke("SchemaHealFunction", event, timeout_seconds=600)
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result


def _conflicts(deployment: Deployment) -> dict[str, list[str]]:
    """Fields the group's indices (every daily index in shared-daily) map with two types."""
    pattern = (
        deployment.settings.alias
        if deployment.layout is IndexLayout.SHARED_DAILY
        else index_pattern_for_group(deployment.settings.index_prefix, GROUP)
    )
    caps = deployment.search.field_caps(index=pattern, fields="json.*")["fields"]
    return {name: sorted(types) for name, types in caps.items() if len(types) > 1}


def _decisions(deployment: Deployment, group: str = GROUP) -> dict[str, dict[str, Any]]:
    """The decisions of ``group``'s schema scope (the shared one in shared-daily)."""
    scope = schema_scope(group, deployment.layout)
    items = deployment.dynamodb.query(
        TableName=str(deployment.settings.state_table),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"drift#{scope}"}},
    )["Items"]
    return {item["field"]["S"]: item for item in items}


def _expected(
    deployment: Deployment, events: list[dict[str, Any]], group: str = GROUP
) -> Counter[str]:
    return Counter(deployment.daily_index(group, e["timestamp"]) for e in events)


@pytest.fixture
def capped(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """Low caps, so a short stream crosses them (the defaults are 1000 fields, depth 20)."""
    monkeypatch.setenv("MAPPING_TOTAL_FIELDS_LIMIT", "80")
    monkeypatch.setenv("MAPPING_DEPTH_LIMIT", "6")
    clients.reset()
    return deployment


#: How each engine names a value that does not fit its field (Elasticsearch 8 renamed it).
_TYPE_CONFLICT_ERROR = {
    "opensearch": "mapper_parsing_exception",
    "elasticsearch": "document_parsing_exception",
}


@pytest.mark.both_layouts
def test_drift_is_healed_without_losing_a_document(capped: Deployment) -> None:
    deployment = capped
    batches = _stream()
    source = [event for batch in batches for event in batch]
    reports = [deployment.decode(subscription_payload(GROUP, "s", batch)) for batch in batches]

    # Prevention: the caps kept what overflowed; only real type conflicts were parked.
    assert sum(r["undelivered"] for r in reports) == 0
    before_parked = deployment.quarantine()
    before_counts = deployment.counts_by_index()
    before_conflicts = _conflicts(deployment)
    assert sorted(r["doc_id"] for r in before_parked) == sorted(source[i]["id"] for i in (2, 3, 13))
    by_doc = {r["doc_id"]: r for r in before_parked}
    status_record = by_doc[source[2]["id"]]
    assert (status_record["error_class"], status_record["field"]) == (
        _TYPE_CONFLICT_ERROR[deployment.engine],
        "json.status",
    )
    assert (status_record["established_type"], status_record["seen_type"]) == ("double", "string")
    user_record = by_doc[source[3]["id"]]
    assert (user_record["field"], user_record["established_type"], user_record["seen_type"]) == (
        "json.user",
        "keyword",
        "object",
    )
    assert by_doc[source[13]["id"]]["established_type"] == "object"
    assert sum(before_counts.values()) + len(before_parked) == len(source)
    assert set(before_conflicts) == {"json.status", "json.user"}

    # Overflow is searchable by path.
    overflowed = deployment.search.count(
        index=deployment.settings.alias, body={"query": {"exists": {"field": "json_overflow"}}}
    )["count"]
    assert overflowed >= 2  # the deep trace and the keys past the field cap

    first = _heal({"log_groups": [GROUP]})
    after_counts = deployment.counts_by_index()
    print(  # the before/after figures for the report
        json.dumps(
            {
                "source_events": len(source),
                "before": {
                    "indexed": sum(before_counts.values()),
                    "quarantined": len(before_parked),
                    "conflicting_fields": before_conflicts,
                },
                "after": {
                    "indexed": sum(after_counts.values()),
                    "quarantined": len(deployment.quarantine()),
                    "conflicting_fields": _conflicts(deployment),
                },
                "first_run": {k: v for k, v in first.items() if k != "groups"},
                "group": first["groups"][0],
            },
            indent=1,
            default=str,
        )
    )
    assert after_counts == _expected(deployment, source)
    assert deployment.quarantine() == []
    assert _conflicts(deployment) == {}
    assert first["conflicts_after"] == 0
    assert first["still_quarantined"] == 0

    # A rebuilt index comes back from the drift template with the ownership marker, so
    # retention still knows it as this deployment's (logstream.retention).
    rebuilt = first["groups"][0]["indices_rebuilt"]
    assert rebuilt
    for index in rebuilt:
        meta = deployment.search.indices.get_mapping(index=index)[index]["mappings"]["_meta"]
        assert index_owner(meta) == deployment.settings.index_owner

    # Every event is searchable in its own daily index under its own _id.
    for event in source:
        index = deployment.daily_index(GROUP, event["timestamp"])
        assert deployment.search.exists(index=index, id=event["id"])
    day1_index = deployment.daily_index(GROUP, DAY1)
    status_ok = deployment.search.get(index=day1_index, id=source[2]["id"])
    assert status_ok["_source"]["json"] == {"status_string": "OK", "level": "warn"}

    decisions = _decisions(deployment)
    assert {"json.status", "json.user"} <= set(decisions)
    assert decisions["json.status"]["established_type"]["S"] == "double"
    assert decisions["json.user"]["established_type"]["S"] == "keyword"
    assert all(d["resolution"]["S"] == "typed_sibling" for d in decisions.values())
    rows = {row["field"]: row for row in first["report"]}
    assert rows["json.status"]["count"] >= 2  # "OK" on day 1, "DEGRADED" and "OK" on day 2
    assert set(rows["json.user"]["types_seen"]) >= {"keyword", "object"}

    # A second run changes nothing.
    second = _heal({"log_groups": [GROUP]})
    assert second["changes"] == 0
    assert second["report"] == first["report"]
    assert deployment.counts_by_index() == after_counts
    assert _decisions(deployment) == decisions

    # After healing, the live path applies the decisions: conflicting shapes land
    # directly, today's index and a new day's index alike.
    live = [
        _event(9001, DAY2 + 100, {"status": "FLAKY", "user": {"id": 10}}),
        _event(9002, DAY3, {"status": "OK", "user": "erin"}),
        _event(9003, DAY3 + 1, {"status": 204, "user": {"id": 11}}),
    ]
    report = deployment.decode(subscription_payload(GROUP, "s", live))
    assert (report["delivered"], report["quarantined"]) == (3, 0)
    assert deployment.quarantine() == []
    assert _conflicts(deployment) == {}
    assert deployment.counts_by_index() == _expected(deployment, source + live)


def test_report_only_and_scheduled_invocations(capped: Deployment) -> None:
    deployment = capped
    for batch in _stream()[:2]:
        deployment.decode(subscription_payload(GROUP, "s", batch))
    report = _heal({"report_only": True, "log_groups": [GROUP]})
    assert report["quarantined"] == {GROUP: 2}
    assert report["report"] == []
    assert len(deployment.quarantine()) == 2  # read only

    scheduled = _heal({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
    assert [g["group"] for g in scheduled["groups"]] == [GROUP]
    assert deployment.quarantine() == []
    # Bad manual input is answered, not raised: retrying it could not help.
    assert invoke("SchemaHealFunction", {"log_groups": "/app/x"}) == {
        "ok": False,
        "error": "log_groups must be a list of log group names",
    }
