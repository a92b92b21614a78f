"""The decoder Lambda, end to end: moto log groups -> subscription payloads ->
the built handler -> the real cluster (OpenSearch and Elasticsearch)."""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.payloads import encode_data, make_events, subscription_payload
from logstream import clients
from logstream.naming import IndexLayout, daily_index
from logstream.retry import Deadline
from logstream.shipping.documents import MAX_MESSAGE_BYTES, Document
from logstream.shipping.service import DeliveryIncomplete
from tests.integration.conftest import Deployment

GROUPS = ["/aws/lambda/Orders_API", "/ecs/payments#blue", "plain-group"]


def _two_day_window() -> tuple[int, int]:
    """From noon yesterday (UTC) to now, capped at noon today: always two UTC days."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(hours=12)
    end = min(datetime.now(UTC) - timedelta(minutes=1), today + timedelta(hours=12))
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _seed(deployment: Deployment, total: int) -> dict[str, list[dict[str, Any]]]:
    """Write ``total`` realistic events across GROUPS (2 streams each) and read them back."""
    start, end = _two_day_window()
    per_stream = total // (len(GROUPS) * 2)
    extra = total - per_stream * len(GROUPS) * 2
    written: dict[str, list[dict[str, Any]]] = {}
    for g, group in enumerate(GROUPS):
        for s in range(2):
            n = per_stream + (extra if (g, s) == (0, 0) else 0)
            step = max(1, (end - start) // n)
            events = make_events(n, start + g * 7 + s, step_ms=step, seed=g * 10 + s)
            put_events(deployment.logs, group, f"2026/11/24/[$LATEST]{g}{s}", events)
        written[group] = read_events(deployment.logs, group)
    return written


def _expected_counts(
    deployment: Deployment, written: dict[str, list[dict[str, Any]]]
) -> Counter[str]:
    expected: Counter[str] = Counter()
    for group, events in written.items():
        for event in events:
            expected[deployment.daily_index(group, event["timestamp"])] += 1
    return expected


def _ship_all(
    deployment: Deployment, written: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    return [
        deployment.decode(delivery)
        for group, events in written.items()
        for delivery in subscription_deliveries(group, events)
    ]


@pytest.mark.both_layouts
def test_ten_thousand_events_land_exactly_once_and_a_replay_adds_nothing(
    deployment: Deployment,
) -> None:
    written = _seed(deployment, 10_000)
    assert sum(len(v) for v in written.values()) == 10_000
    expected = _expected_counts(deployment, written)
    assert len({index.rsplit("-", 1)[1] for index in expected}) == 2  # two UTC days
    # group-daily: an index per group and day; shared-daily: one per day for all groups.
    per_day = 1 if deployment.layout is IndexLayout.SHARED_DAILY else len(GROUPS)
    assert len(expected) == 2 * per_day

    reports = _ship_all(deployment, written)
    assert sum(r["delivered"] for r in reports) == 10_000
    assert deployment.counts_by_index() == dict(expected)

    replay = _ship_all(deployment, written)
    assert sum(r["delivered"] for r in replay) == 0
    assert sum(r["duplicates"] for r in replay) == 10_000
    assert deployment.counts_by_index() == dict(expected)
    assert deployment.quarantine() == []
    for group, events in written.items():  # each group's documents, told apart by log_group
        assert deployment.search.count(
            index=deployment.settings.alias, body={"query": {"term": {"log_group": group}}}
        )["count"] == len(events)


def test_documents_carry_the_envelope_and_typed_fields(deployment: Deployment) -> None:
    events = [
        {"id": "1", "timestamp": 1764000000000, "message": '{"status": 500, "user": {"id": 7}}'},
        {
            "id": "2",
            "timestamp": 1764000000001,
            "message": "REPORT RequestId: r1\tDuration: 12.5 ms"
            "\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t",
        },
        {"id": "3", "timestamp": 1764000000002, "message": ""},
    ]
    report = deployment.decode(subscription_payload("/aws/lambda/Typed", "s1", events))
    assert report["delivered"] == 3
    assert report["empty_messages"] == 1
    deployment.refresh()
    search = deployment.search
    alias = deployment.settings.alias
    hits = search.search(index=alias, body={"query": {"range": {"json.status": {"gte": 500}}}})
    assert [h["_id"] for h in hits["hits"]["hits"]] == ["1"]
    hits = search.search(index=alias, body={"query": {"range": {"lambda.duration_ms": {"gt": 12}}}})
    assert [h["_id"] for h in hits["hits"]["hits"]] == ["2"]
    source = search.get(
        index=daily_index(deployment.settings.index_prefix, "/aws/lambda/Typed", 1764000000002),
        id="3",
    )["_source"]
    assert source["message"] == ""
    assert source["log_group"] == "/aws/lambda/Typed"
    assert source["owner"] == "123456789012"
    mapping = search.indices.get_mapping(index=alias)
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["@timestamp"]["type"] == "date"
    # Every JSON number is a double (docs/schema-healing.md): numeric, and 1.5 after 200 fits.
    assert properties["json"]["properties"]["status"]["type"] == "double"
    settings = search.indices.get_settings(index=alias)
    assert {s["settings"]["index"]["number_of_shards"] for s in settings.values()} == {"1"}


def test_a_mapping_conflict_is_quarantined_with_its_reason(deployment: Deployment) -> None:
    ts = 1764000000000
    first = [{"id": "a", "timestamp": ts, "message": '{"status": 200}'}]
    second = [
        {"id": "b", "timestamp": ts + 1, "message": '{"status": "OK"}'},
        {"id": "c", "timestamp": ts + 2, "message": '{"status": 201}'},
    ]
    deployment.decode(subscription_payload("/app/flip", "s", first))
    report = deployment.decode(subscription_payload("/app/flip", "s", second))
    assert (report["delivered"], report["quarantined"]) == (1, 1)

    parked = deployment.quarantine()
    assert len(parked) == 1
    record = parked[0]
    assert record["kind"] == "rejected_document"
    assert record["doc_id"] == "b"
    assert record["target_index"] == daily_index(deployment.settings.index_prefix, "/app/flip", ts)
    assert record["error_type"] in {"mapper_parsing_exception", "document_parsing_exception"}
    assert "status" in record["reason"]
    assert json.loads(record["document"])["message"] == '{"status": "OK"}'
    assert sum(deployment.counts_by_index().values()) + len(parked) == 3

    # Replaying the batch quarantines the same record again, not a second one.
    deployment.decode(subscription_payload("/app/flip", "s", second))
    assert len(deployment.quarantine()) == 1


def test_a_429_storm_is_ridden_out_and_nothing_is_lost(
    deployment_behind_proxy: Deployment, fault_proxy: Any
) -> None:
    deployment = deployment_behind_proxy
    events = make_events(2_000, 1764000000000, step_ms=10)
    payload = subscription_payload("/aws/lambda/storm", "s", events)
    deployment.decode({"awslogs": {"data": encode_data(b'{"messageType":"CONTROL_MESSAGE"}')}})
    fault_proxy.reject_requests(6)
    fault_proxy.reject_items(4)
    report = deployment.decode(payload)
    # reject_items lets the writes happen and answers 429 anyway, so the
    # retried items come back as 409: already delivered, never twice.
    assert report["delivered"] + report["duplicates"] == 2_000
    assert report["duplicates"] > 0
    assert report["undelivered"] == 0
    assert report["retried"] > 0
    assert fault_proxy.faults_injected == 10
    assert sum(deployment.counts_by_index().values()) == 2_000


def test_an_outage_longer_than_the_invocation_fails_it(
    deployment_behind_proxy: Deployment, fault_proxy: Any
) -> None:
    deployment = deployment_behind_proxy
    events = make_events(50, 1764000000000)
    deployment.decode(subscription_payload("/aws/lambda/down", "s", events[:1]))
    fault_proxy.reject_requests(10_000, status=503)
    with pytest.raises(DeliveryIncomplete, match="49 of 49 documents undelivered"):
        deployment.decode(
            subscription_payload("/aws/lambda/down", "s", events[1:]), timeout_seconds=5.0
        )
    # The acknowledged watermark did not move past what the cluster holds.
    item = deployment.dynamodb.get_item(
        TableName=deployment.settings.state_table or "",
        Key={"pk": {"S": "checkpoint#/aws/lambda/down"}, "sk": {"S": "stream#s"}},
    )["Item"]
    assert int(item["watermark"]["N"]) == events[0]["timestamp"]


def test_bad_events_are_parked_and_their_good_neighbours_delivered(deployment: Deployment) -> None:
    raw = (
        b'{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/bad/neighbours",'
        b'"logStream":"s","subscriptionFilters":["f"],"logEvents":['
        b'{"id":"1","timestamp":1764000000000,"message":"good"},'
        b'{"timestamp":1764000000001,"message":"no id"},'
        b'{"id":"3","timestamp":1764000000002,"message":"invalid \xff utf-8"},'
        b'{"id":"4","timestamp":1764000000003,"message":"' + b"x" * (MAX_MESSAGE_BYTES + 1) + b'"},'
        b'{"id":"5","timestamp":1764000000004,"message":""}]}'
    )
    report = deployment.decode({"awslogs": {"data": encode_data(raw)}})
    assert report["delivered"] == 4
    assert report["bad_events"] == 1
    assert report["oversize_messages"] == 1
    kinds = Counter(r["kind"] for r in deployment.quarantine())
    assert kinds == {"bad_event": 1, "oversize_message": 1}
    assert sum(deployment.counts_by_index().values()) == 4


@pytest.mark.parametrize(
    "data",
    [
        "%%% not base64 %%%",
        base64.b64encode(b"not gzip").decode(),
        base64.b64encode(gzip.compress(b"not json")).decode(),
        base64.b64encode(gzip.compress(b'{"messageType":"DATA_MESSAGE"}')).decode(),
    ],
)
def test_an_undecodable_payload_is_parked_whole(deployment: Deployment, data: str) -> None:
    report = deployment.decode({"awslogs": {"data": data}})
    assert report["events"] == 0
    parked = deployment.quarantine()
    assert [(r["kind"], r["raw"]) for r in parked] == [("bad_payload", data)]


def test_a_group_name_with_illegal_characters_gets_a_legal_distinct_index(
    deployment: Deployment,
) -> None:
    for group in ["/Weird Group/#1:*?", "/weird group/#1:*?"]:
        deployment.decode(subscription_payload(group, "s", make_events(3, 1764000000000)))
    counts = deployment.counts_by_index()
    assert len(counts) == 2
    assert set(counts.values()) == {3}


def test_checkpoints_only_move_forward(deployment: Deployment) -> None:
    events = make_events(20, 1764000000000)
    deployment.decode(subscription_payload("/ck/group", "s", events[10:]))
    deployment.decode(subscription_payload("/ck/group", "s", events[:10]))  # late, older batch
    item = deployment.dynamodb.get_item(
        TableName=deployment.settings.state_table or "",
        Key={"pk": {"S": "checkpoint#/ck/group"}, "sk": {"S": "stream#s"}},
    )["Item"]
    assert int(item["watermark"]["N"]) == events[-1]["timestamp"]


def test_the_shippers_own_log_group_is_never_shipped(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logstream import clients  # noqa: PLC0415 - reset after the env change

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "logstream-DecoderFunction-abc")
    clients.reset()
    own = "/aws/lambda/logstream-DecoderFunction-abc"
    report = deployment.decode(subscription_payload(own, "s", make_events(5, 1764000000000)))
    assert report["events"] == 0
    other = deployment.decode(
        subscription_payload("/aws/lambda/app", "s", make_events(5, 1764000000000))
    )
    assert other["delivered"] == 5
    assert sum(deployment.counts_by_index().values()) == 5


def test_a_whole_request_400_rejects_only_the_document_at_fault(deployment: Deployment) -> None:
    """OpenSearch refuses a whole ``_bulk`` over one ``_id`` longer than 512 bytes."""
    index = daily_index(deployment.settings.index_prefix, "/it/long-ids", 1_700_000_000_000)

    def document(doc_id: str, n: int) -> Document:
        return Document.from_source(
            index=index,
            doc_id=doc_id,
            timestamp=1_700_000_000_000 + n,
            log_group="/it/long-ids",
            log_stream="s",
            source=json.dumps({"@timestamp": 1_700_000_000_000 + n, "n": n}).encode(),
        )

    good = [document(f"good-{n}", n) for n in range(9)]
    bad = document("x" * 600, 99)
    report = clients.bulk_sink().deliver([*good[:4], bad, *good[4:]], Deadline.after_seconds(60))
    assert sorted(d.doc_id for d in report.delivered) == sorted(d.doc_id for d in good)
    assert [r.document.doc_id for r in report.rejected] == [bad.doc_id]
    assert report.rejected[0].status == 400
    assert "512" in report.rejected[0].reason
    assert report.undelivered == []
    deployment.refresh()
    assert deployment.search.count(index=index)["count"] == len(good)
