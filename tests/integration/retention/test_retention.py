"""Retention against the real engines: exactly this deployment's expired indices go.

Days are relative to the UTC day of the run and kept away from the edge of
RETENTION_DAYS (3): an index is 10 days old, or 1 day old, or today's, so a
run that crosses midnight decides the same way.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.payloads import subscription_payload
from logstream import clients
from logstream.naming import daily_index
from logstream.schema.rebuild import IndexRebuilder
from logstream.schema.templates import ensure_templates, index_owner
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

EVENTS = Path(__file__).resolve().parents[3] / "events"
#: What EventBridge sends, and what an operator sends by hand (`sam local invoke -e`).
SCHEDULED = json.loads((EVENTS / "retention-scheduled.json").read_text(encoding="utf-8"))
DRY_RUN = json.loads((EVENTS / "retention-dry-run.json").read_text(encoding="utf-8"))
DAY_MS = 86_400_000


def _ms(days_ago: int) -> int:
    """Noon (UTC) of the day ``days_ago`` days before today."""
    day = datetime.now(tz=UTC).date() - timedelta(days=days_ago)
    return (day - date(1970, 1, 1)).days * DAY_MS + DAY_MS // 2


def _ship(deployment: Deployment, group: str, days_ago: int, n: int = 2) -> str:
    ts = _ms(days_ago)
    events = [
        {"id": f"{group}-{days_ago}-{i}", "timestamp": ts + i, "message": f'{{"n": {i}}}'}
        for i in range(n)
    ]
    report = deployment.decode(subscription_payload(group, "s", events))
    assert report["delivered"] == n
    return daily_index(deployment.settings.index_prefix, group, ts)


def _indices(deployment: Deployment, pattern: str) -> set[str]:
    rows = deployment.search.cat.indices(
        index=pattern, format="json", h="index", expand_wildcards="all"
    )
    return {row["index"] for row in rows}


def _with_retention(monkeypatch: pytest.MonkeyPatch, days: int, replicas: int = 0) -> None:
    monkeypatch.setenv("RETENTION_DAYS", str(days))
    monkeypatch.setenv("INDEX_REPLICAS", str(replicas))
    clients.reset()


def test_retention_deletes_exactly_the_expired_indices_of_this_deployment(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    prefix = deployment.settings.index_prefix
    neighbour = f"{prefix}-prod"
    search = deployment.search
    old = _ms(10)
    # From before the marker existed: created ahead of this deployment's templates.
    unmarked = daily_index(prefix, "legacy", old)
    search.indices.create(index=unmarked)
    search.index(index=unmarked, body={"log_group": "legacy", "@timestamp": old}, refresh=True)

    _with_retention(monkeypatch, days=3)
    expired = {_ship(deployment, "app", 10), _ship(deployment, "/aws/lambda/My_Fn", 10)}
    kept = {
        _ship(deployment, "app", 1),
        _ship(deployment, "app", 0),
        _ship(deployment, "/aws/lambda/My_Fn", 0),
    }
    # A quarantine record for an expired day, never replayed.
    conflict = [{"id": "q1", "timestamp": old + 5, "message": '{"n": "not a number"}'}]
    assert deployment.decode(subscription_payload("app", "s", conflict))["quarantined"] == 1
    # The neighbour `<prefix>-prod`: its group `x` makes the name our group `prod-x` would.
    # With its own marker (a logstream deployment):
    with_marker = daily_index(neighbour, "x", old)
    assert with_marker == daily_index(prefix, "prod-x", old)
    search.indices.create(
        index=with_marker, body={"mappings": {"_meta": {"logstream": {"owner": neighbour}}}}
    )
    search.index(index=with_marker, body={"log_group": "x", "@timestamp": old}, refresh=True)
    # Without templates of its own (another shipper): our template stamps our marker.
    stamped = daily_index(neighbour, "y", old)
    search.index(index=stamped, body={"log_group": "y", "@timestamp": old}, refresh=True)
    assert index_owner(search.indices.get_mapping(index=stamped)[stamped]["mappings"]["_meta"])
    # The neighbour's shared daily index `<prefix>-prod-<day>` is our group `prod` by name;
    # one of its documents is of a group `prod` too, the other is not.
    shared = f"{neighbour}-{daily_index(prefix, 'x', old).rsplit('-', 1)[1]}"
    assert shared == daily_index(prefix, "prod", old)
    for group in ("prod", "orders"):
        search.index(index=shared, body={"log_group": group, "@timestamp": old}, refresh=True)
    # An expired index of ours that holds nothing: nothing proves whose it is.
    empty = daily_index(prefix, "empty", old)
    search.indices.create(index=empty)
    # A heal holding index and an unparseable date.
    holding = IndexRebuilder(clients.cluster(), clients.bulk_sink(), None, prefix).holding_index(  # type: ignore[arg-type]
        next(iter(expired))
    )
    search.indices.create(index=holding)
    # Outside `<prefix>-*`, so the deployment fixture would not delete it.
    request.addfinalizer(lambda: search.indices.delete(index=holding, ignore_unavailable=True))
    bad_date = f"{prefix}-app-2020.02.30"
    search.indices.create(index=bad_date)
    deployment.refresh()  # days-old indices are searchable; these were written just now
    before = _indices(deployment, f"{prefix}*")
    assert expired | kept | {deployment.settings.quarantine_index} <= before

    dry = invoke("RetentionFunction", DRY_RUN)
    assert dry["ok"] is True
    assert set(dry["retention"]["deleted"]) == expired
    assert _indices(deployment, f"{prefix}*") == before

    answer = invoke("RetentionFunction", SCHEDULED)
    retention = answer["retention"]
    assert answer["ok"] is True
    assert set(retention["deleted"]) == expired
    assert set(retention["not_ours"]) == {unmarked, with_marker, stamped, shared}
    assert retention["unverified"] == [empty]
    assert retention["bad_dates"] == [bad_date]
    assert _indices(deployment, f"{prefix}*") == before - expired
    assert len(deployment.quarantine()) == 1

    again = invoke("RetentionFunction", SCHEDULED)
    assert again["retention"]["deleted"] == []


def test_zero_days_deletes_nothing(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_retention(monkeypatch, days=0)
    index = _ship(deployment, "app", 400)
    answer = invoke("RetentionFunction", SCHEDULED)
    assert answer["retention"]["deleted"] == []
    assert index in _indices(deployment, f"{deployment.settings.index_prefix}-*")


@pytest.mark.parametrize("replicas", [0, 2])
def test_replicas_land_in_the_settings_of_new_indices(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, replicas: int
) -> None:
    _with_retention(monkeypatch, days=0, replicas=replicas)
    index = _ship(deployment, "app", 0)
    quarantine = deployment.settings.quarantine_index
    bad = [{"id": "q", "timestamp": _ms(0) + 9, "message": '{"n": "text"}'}]
    assert deployment.decode(subscription_payload("app", "s", bad))["quarantined"] == 1
    found = deployment.search.indices.get_settings(index=f"{index},{quarantine}")
    assert {name: s["settings"]["index"]["number_of_replicas"] for name, s in found.items()} == {
        index: str(replicas),
        quarantine: str(replicas),
    }


def test_an_index_recreated_from_the_templates_keeps_the_marker(deployment: Deployment) -> None:
    """What the healer does after the copy aside (the full rebuild: tests/integration/schema)."""
    cluster = clients.cluster()
    ensure_templates(cluster, deployment.settings)
    index = _ship(deployment, "app", 10)
    cluster.delete_index(index)
    cluster.create_index(index)  # what rebuild does after the copy aside
    meta = cluster.index_meta(index)
    assert index_owner(meta) == deployment.settings.index_owner


def _health_shards(deployment: Deployment) -> tuple[int, int, int]:
    health = deployment.search.cluster.health()
    found = deployment.search.cluster.get_settings(include_defaults=True, flat_settings=True)
    key = "cluster.max_shards_per_node"
    scopes = ("transient", "persistent", "defaults")
    per_node = next(found[scope][key] for scope in scopes if key in found[scope])
    shards = sum(health[k] for k in ("active_shards", "initializing_shards", "unassigned_shards"))
    return shards, int(per_node), int(health["number_of_data_nodes"])


def test_the_shard_budget_is_read_from_the_real_cluster(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_retention(monkeypatch, days=0, replicas=1)
    _ship(deployment, "app", 0)  # one primary and one (unassignable) replica of ours
    budget: dict[str, Any] = {}
    # Other suites share the cluster: compare when nothing changed around the call.
    for _attempt in range(20):
        before = _health_shards(deployment)
        budget = invoke("RetentionFunction", SCHEDULED)["shard_budget"]
        if _health_shards(deployment) == before:
            break
        time.sleep(0.5)
    shards, per_node, data_nodes = before
    assert (budget["max_shards_per_node"], budget["data_nodes"]) == (per_node, data_nodes)
    assert budget["limit"] == per_node * data_nodes
    assert budget["shards"] == shards
    assert budget["shards"] >= 2
    assert budget["used_percent"] == round(100 * shards / (per_node * data_nodes), 2)
