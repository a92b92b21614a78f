"""Healing one group, on the real OpenSearch, touches nothing that is not that group's:
not a group whose name extends it, not a neighbouring deployment's indices; a group near
the name limit gets its decisions on new days; fresh documents are never left behind."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from devstack.payloads import subscription_payload
from logstream.naming import daily_index
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

DAY1 = int(datetime(2026, 1, 2, 8, tzinfo=UTC).timestamp() * 1000)
DAY2 = DAY1 + 86_400_000
DAY3 = DAY2 + 86_400_000


def _event(n: int, ts: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{ts:020d}{n:036d}", "timestamp": ts, "message": json.dumps(body)}


def _heal(groups: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = invoke(
        "SchemaHealFunction", {"log_groups": groups}, timeout_seconds=600
    )
    return result


def _status_type(deployment: Deployment, index: str) -> str:
    mapping = deployment.search.indices.get_mapping(index=index)[index]["mappings"]
    return str(mapping["properties"]["json"]["properties"]["status"]["type"])


def _drift(deployment: Deployment, group: str, n: int) -> None:
    """Day 1 maps json.status as a number; day 2 starts with a string: a conflict."""
    deployment.decode(subscription_payload(group, "s", [_event(n, DAY1, {"status": 200})]))
    deployment.decode(subscription_payload(group, "s", [_event(n + 1, DAY2, {"status": "OK"})]))


def test_healing_a_group_leaves_groups_that_extend_its_name_alone(
    deployment: Deployment,
) -> None:
    prefix = deployment.settings.index_prefix
    _drift(deployment, "orders", 1)
    assert _heal(["orders"])["groups"][0]["conflicts_after"] == 0
    assert deployment.search.indices.get_index_template(name=f"{prefix}-drift-orders")

    # New days of the neighbours: their first value is a string, as it always was for them.
    neighbours = ["orders-api", "orders-2026-01-01"]
    for n, group in enumerate(neighbours):
        batch = [_event(100 + n, DAY3, {"status": "fine"})]
        report = deployment.decode(subscription_payload(group, "s", batch))
        assert (report["delivered"], report["quarantined"]) == (1, 0), group
        assert _status_type(deployment, daily_index(prefix, group, DAY3)) == "keyword"
    assert deployment.quarantine() == []
    # ... while the healed group's own new day gets its decision.
    deployment.decode(subscription_payload("orders", "s", [_event(200, DAY3, {"status": "x"})]))
    assert _status_type(deployment, daily_index(prefix, "orders", DAY3)) == "double"
    assert deployment.quarantine() == []


def test_a_group_near_the_name_limit_gets_its_decisions_on_new_days(
    deployment: Deployment,
) -> None:
    prefix = deployment.settings.index_prefix
    group = "long-" + "x" * (255 - len(prefix) - 1 - 11 - 5)  # the longest unhashed part
    assert len(daily_index(prefix, group, DAY1).encode()) == 255
    _drift(deployment, group, 1)
    assert _heal([group])["groups"][0]["conflicts_after"] == 0
    batch = [_event(3, DAY3, {"status": "OK"})]
    report = deployment.decode(subscription_payload(group, "s", batch))
    assert report["delivered"] == 1
    assert _status_type(deployment, daily_index(prefix, group, DAY3)) == "double"


def test_a_neighbouring_deployment_index_is_never_taken_for_a_holding_index(
    deployment: Deployment,
) -> None:
    prefix = deployment.settings.index_prefix
    # Another deployment, INDEX_PREFIX=<prefix>_heal, ships group "app" on the same days.
    theirs = daily_index(f"{prefix}_heal", "app", DAY2)
    their_ids = [f"theirs-{n}" for n in range(5)]
    try:
        for doc_id in their_ids:
            deployment.search.index(index=theirs, id=doc_id, body={"message": doc_id})
        deployment.search.indices.refresh(index=theirs)
        _drift(deployment, "app", 1)
        ours = daily_index(prefix, "app", DAY2)
        healed = _heal(["app"])["groups"][0]
        assert healed["indices_rebuilt"] == [ours]
        assert healed["conflicts_after"] == 0

        deployment.search.indices.refresh(index=theirs)
        hits = deployment.search.search(index=theirs, body={"size": 100})["hits"]["hits"]
        assert sorted(h["_id"] for h in hits) == their_ids
        assert deployment.counts_by_index()[ours] == 1
        assert deployment.search.indices.get(index=f"{prefix}_heal_*") == {}  # holding gone
    finally:
        # By name: Elasticsearch refuses a wildcard delete.
        for name in deployment.search.indices.get(index=f"{prefix}_heal*"):
            deployment.search.indices.delete(index=name)


def test_a_rebuild_copies_documents_not_yet_refreshed_and_lifts_its_block(
    deployment: Deployment,
) -> None:
    prefix = deployment.settings.index_prefix
    _drift(deployment, "app", 1)
    day2 = daily_index(prefix, "app", DAY2)
    # Acknowledged but not searchable yet: no refresh until the healer asks for one.
    deployment.search.indices.put_settings(index=day2, body={"index.refresh_interval": "-1"})
    for n in range(20):
        body = {"@timestamp": DAY2 + n, "log_group": "app", "json": {"status": f"s{n}"}}
        deployment.search.index(index=day2, id=f"fresh-{n}", body=body)

    healed = _heal(["app"])["groups"][0]
    assert healed["indices_rebuilt"] == [day2], healed["deferred"]
    settings = deployment.search.indices.get_settings(index=day2)[day2]["settings"]["index"]
    assert settings.get("blocks", {}).get("write") in (None, "false")
    assert deployment.counts_by_index()[day2] == 21
    report = deployment.decode(subscription_payload("app", "s", [_event(9, DAY2 + 99, {"a": 1})]))
    assert report["delivered"] == 1
