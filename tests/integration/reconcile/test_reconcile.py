"""Reconciliation end to end: moto CloudWatch Logs + the real cluster (each engine), through
the built ReconcileFunction.

moto runs StartQuery but ignores ``stats`` (it returns raw rows), so these runs
exercise the FilterLogEvents fallback; the Insights path is unit-tested on
recorded-shape responses (tests/unit/reconcile/test_source_counts.py).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import orjson
import pytest

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.payloads import make_events
from logstream import clients
from logstream.naming import IndexLayout
from logstream.reconcile.report import ReconcileFailed
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

GROUP = "/aws/lambda/Reconcile_Me"
SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-24T10:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/logstream-reconcile"],
    "detail": {},
}
HOUR = 3_600_000


def _configure(monkeypatch: pytest.MonkeyPatch, groups: list[str]) -> None:
    monkeypatch.setenv("LOG_GROUPS", ",".join(groups))
    monkeypatch.setenv("BACKFILL_DAYS", "3")
    monkeypatch.setenv("RECONCILE_SETTLE_SECS", "60")
    clients.reset()


def _seed(deployment: Deployment, group: str, total: int, span_ms: int) -> list[dict[str, Any]]:
    """``total`` events over ``span_ms`` ending 10 minutes ago, shipped by the decoder."""
    end = int(time.time() * 1000) - 600_000
    start = end - span_ms
    for stream in range(2):
        n = total // 2 + (total % 2 if stream == 0 else 0)
        events = make_events(n, start + stream, step_ms=max(1, span_ms // n), seed=stream)
        put_events(deployment.logs, group, f"2026/11/24/[$LATEST]{stream}", events)
    written = read_events(deployment.logs, group)
    for delivery in subscription_deliveries(group, written):
        deployment.decode(delivery)
    deployment.refresh()
    return written


def _index_ids(deployment: Deployment, group: str) -> set[str]:
    deployment.refresh()
    ids: set[str] = set()
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": 10_000,
            "_source": False,
            "query": {"term": {"log_group": group}},
            "sort": [{"event_id": "asc"}],
        }
        if after:
            body["search_after"] = after
        hits = deployment.search.search(index=deployment.settings.alias, body=body)["hits"]["hits"]
        ids.update(h["_id"] for h in hits)
        if len(hits) < 10_000:
            return ids
        after = hits[-1]["sort"]


def _delete(deployment: Deployment, group: str, ids: list[str], hour: tuple[int, int]) -> None:
    """Remove documents from the index (this OpenSearch build has no _delete_by_query)."""
    alias = deployment.settings.alias
    query = {
        "bool": {
            "filter": [{"term": {"log_group": group}}],
            "should": [
                {"ids": {"values": ids}},
                {"range": {"@timestamp": {"gte": hour[0], "lt": hour[1]}}},
            ],
            "minimum_should_match": 1,
        }
    }
    deployment.refresh()
    hits = deployment.search.search(
        index=alias, body={"size": 10_000, "_source": False, "query": query}
    )["hits"]["hits"]
    assert len(hits) < 10_000
    actions = "".join(
        orjson.dumps({"delete": {"_index": h["_index"], "_id": h["_id"]}}).decode() + "\n"
        for h in hits
    )
    if actions:
        response = deployment.search.bulk(body=actions, refresh=True)
        assert not response["errors"]


def _watermark(deployment: Deployment, group: str) -> int | None:
    item = deployment.dynamodb.get_item(
        TableName=deployment.settings.state_table or "",
        Key={"pk": {"S": f"reconciled#{group}"}, "sk": {"S": "watermark"}},
        ConsistentRead=True,
    ).get("Item")
    return int(item["watermark"]["N"]) if item else None


def _stored_reports(deployment: Deployment, group: str) -> list[dict[str, Any]]:
    items = deployment.dynamodb.query(
        TableName=deployment.settings.state_table or "",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"reconcile-report#{group}"}},
    )["Items"]
    for item in items:
        assert int(item["expires_at"]["N"]) > time.time() + 29 * 86_400
    return [orjson.loads(item["report"]["S"]) for item in items]


def test_hundred_thousand_events_37_random_gaps_and_an_hour_are_restored_exactly(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(monkeypatch, [GROUP])
    written = _seed(deployment, GROUP, 100_000, 47 * HOUR)
    source_ids = {e["eventId"] for e in written}
    assert len(source_ids) == 100_000
    assert _index_ids(deployment, GROUP) == source_ids

    rng = random.Random(37)
    hour_start = (min(e["timestamp"] for e in written) + 20 * HOUR) // HOUR * HOUR
    hour = (hour_start, hour_start + HOUR)
    outside = [e for e in written if not hour[0] <= e["timestamp"] < hour[1]]
    randoms = rng.sample(outside, 37)
    in_hour = [e for e in written if hour[0] <= e["timestamp"] < hour[1]]
    _delete(deployment, GROUP, [e["eventId"] for e in randoms], hour)
    removed = {e["eventId"] for e in randoms} | {e["eventId"] for e in in_hour}
    assert _index_ids(deployment, GROUP) == source_ids - removed

    started = time.perf_counter()
    first = invoke("ReconcileFunction", SCHEDULED, timeout_seconds=600)
    first_secs = time.perf_counter() - started
    (report,) = first["groups"]
    assert report["status"] == "repaired", report
    assert _index_ids(deployment, GROUP) == source_ids  # exact equality restored
    assert report["events_missing"] == report["events_reshipped"] == len(removed)
    assert report["events_still_missing"] == 0
    # every gap is named: each random event and the hour lie inside a reported gap
    gaps = [(g["start_ms"], g["end_ms"]) for g in report["gaps"]]
    for event in randoms + in_hour:
        assert any(a <= event["timestamp"] < b for a, b in gaps), event
    assert sum(g["missing"] for g in report["gaps"]) == len(removed)
    assert len(report["gaps"]) <= 38

    # the documented bound for the FilterLogEvents path (moto has no Insights stats):
    # DescribeLogGroups + one failed Insights query + per day ceil(n/10k)+1 counting
    # pages + per gap one fetch (<= 2 pages) + one extra range per day boundary
    calls = report["api_calls"]
    days = math.ceil((report["end_ms"] - report["start_ms"]) / 86_400_000)
    gaps_k = 38
    bound = 1 + 2 + days + math.ceil(100_000 / 10_000) + 2 * (gaps_k + days)
    assert report["cloudwatch_calls"] <= bound, calls
    assert report["insights_fallbacks"] == 1
    watermark = _watermark(deployment, GROUP)
    assert watermark == report["watermark_after"] == report["end_ms"]

    started = time.perf_counter()
    second = invoke("ReconcileFunction", SCHEDULED, timeout_seconds=600)
    second_secs = time.perf_counter() - started
    (again,) = second["groups"]
    assert again["events_reshipped"] == 0 and again["gaps_found"] == 0
    assert again["status"] in {"clean", "up_to_date"}

    # a manual full re-check of the same range: clean, nothing re-shipped
    manual = invoke(
        "ReconcileFunction",
        {"log_groups": [GROUP], "start": report["start_ms"], "end": report["end_ms"]},
        timeout_seconds=600,
    )["groups"][0]
    assert manual["status"] == "clean" and manual["events_reshipped"] == 0
    assert manual["events_in_source"] == manual["events_in_index"] == 100_000
    assert len(_stored_reports(deployment, GROUP)) == 3
    print(
        f"\nFIGURES first run {first_secs:.1f}s calls={report['cloudwatch_calls']} {calls}"
        f"\nFIGURES second run {second_secs:.1f}s calls={again['cloudwatch_calls']}"
        f" {again['api_calls']}"
        f"\nFIGURES clean 2-day recheck calls={manual['cloudwatch_calls']} {manual['api_calls']}"
    )


def test_a_deleted_group_is_reported_and_the_others_are_reconciled(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep, gone = "/app/keeps-going", "/app/deleted-meanwhile"
    _configure(monkeypatch, [gone, keep])
    _seed(deployment, keep, 2_000, 2 * HOUR)
    _seed(deployment, gone, 500, 2 * HOUR)
    deployment.logs.delete_log_group(logGroupName=gone)
    result = invoke("ReconcileFunction", SCHEDULED, timeout_seconds=300)
    by_group = {g["log_group"]: g for g in result["groups"]}
    assert by_group[gone]["status"] == "group_missing"
    assert by_group[keep]["status"] == "clean"
    assert by_group[keep]["events_in_source"] == 2_000
    assert _watermark(deployment, keep) is not None
    assert _watermark(deployment, gone) is None
    assert result["failed_groups"] == []


def test_opensearch_unavailable_fails_the_run_and_keeps_the_watermark(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(monkeypatch, [GROUP])
    _seed(deployment, GROUP, 1_000, 2 * HOUR)
    before = int(time.time() * 1000) - 3 * HOUR
    before -= before % 300_000
    deployment.dynamodb.put_item(
        TableName=deployment.settings.state_table or "",
        Item={
            "pk": {"S": f"reconciled#{GROUP}"},
            "sk": {"S": "watermark"},
            "watermark": {"N": str(before)},
        },
    )
    # The cluster becomes unreachable (nothing listens on the discard port).
    monkeypatch.setenv("ES_HOST", "http://127.0.0.1:9")
    clients.reset()
    with pytest.raises(ReconcileFailed, match="watermarks left unchanged"):
        invoke("ReconcileFunction", SCHEDULED, timeout_seconds=120)
    assert _watermark(deployment, GROUP) == before
    (stored,) = _stored_reports(deployment, GROUP)
    engine_name = {"opensearch": "OpenSearch", "elasticsearch": "Elasticsearch"}[deployment.engine]
    assert stored["status"] == "failed" and engine_name in stored["error"]


def test_a_repair_the_cluster_refuses_leaves_the_gap_open_and_the_watermark(
    deployment_behind_proxy: Deployment, fault_proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = deployment_behind_proxy
    _configure(monkeypatch, [GROUP])
    monkeypatch.setenv("DEADLINE_MARGIN_MS", "0")
    clients.reset()
    written = _seed(deployment, GROUP, 1_000, 2 * HOUR)
    victim = written[500]
    _delete(deployment, GROUP, [victim["eventId"]], (0, 1))
    fault_proxy.reject_requests(10_000, status=503)  # every _bulk refused
    result = invoke("ReconcileFunction", SCHEDULED, timeout_seconds=30)
    (report,) = result["groups"]
    assert report["status"] == "gaps_open"
    assert report["events_still_missing"] == 1
    assert report["gaps"][0]["event_ids"] == [victim["eventId"]]
    watermark = _watermark(deployment, GROUP)
    assert watermark is not None and watermark <= victim["timestamp"]
    fault_proxy.clear_faults()
    healed = invoke("ReconcileFunction", SCHEDULED, timeout_seconds=120)["groups"][0]
    assert healed["status"] == "repaired" and healed["events_reshipped"] == 1
    assert victim["eventId"] in _index_ids(deployment, GROUP)


@pytest.mark.both_layouts
def test_gaps_of_one_group_are_repaired_exactly_beside_a_clean_group(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In shared-daily both groups share each daily index: counts, narrowing and the
    repair must still be per group (a term on log_group), never per index."""
    holed, clean = "/app/holed", "/app/clean"
    _configure(monkeypatch, [holed, clean])
    written = _seed(deployment, holed, 3_000, 3 * HOUR)
    neighbour = _seed(deployment, clean, 3_000, 3 * HOUR)
    holed_indices = {deployment.daily_index(holed, e["timestamp"]) for e in written}
    clean_indices = {deployment.daily_index(clean, e["timestamp"]) for e in neighbour}
    shares = bool(holed_indices & clean_indices)
    assert shares is (deployment.layout is IndexLayout.SHARED_DAILY)
    source_ids = {e["eventId"] for e in written}
    victims = random.Random(12).sample(written, 25)
    _delete(deployment, holed, [e["eventId"] for e in victims], (0, 1))
    assert _index_ids(deployment, holed) == source_ids - {e["eventId"] for e in victims}

    result = invoke("ReconcileFunction", SCHEDULED, timeout_seconds=300)
    by_group = {g["log_group"]: g for g in result["groups"]}
    assert by_group[holed]["status"] == "repaired", by_group[holed]
    assert by_group[holed]["events_missing"] == by_group[holed]["events_reshipped"] == 25
    assert by_group[clean]["status"] == "clean", by_group[clean]
    assert by_group[clean]["events_reshipped"] == 0
    assert by_group[clean]["events_in_index"] == by_group[clean]["events_in_source"] == 3_000
    assert _index_ids(deployment, holed) == source_ids
    assert _index_ids(deployment, clean) == {e["eventId"] for e in neighbour}
    for event in victims:  # back in the daily index of the deployment's layout
        assert deployment.search.exists(
            index=deployment.daily_index(holed, event["timestamp"]), id=event["eventId"]
        )
