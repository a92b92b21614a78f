"""The retention function's events, and the shard budget it publishes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from logstream.cluster.opensearch import OPENSEARCH_SERVERLESS
from logstream.cluster.port import ShardUsage
from logstream.retention import shards
from logstream.retention.janitor import RetentionJanitor, ownership_of
from logstream.retention.request import handle_event, parse_dry_run
from logstream.retry import Deadline
from logstream.settings import Settings
from tests.unit.retention.test_janitor import MemoryCluster

SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def _run(cluster: MemoryCluster, event: object) -> dict[str, Any]:
    settings = Settings.from_env({"AWS_REGION": "us-east-1", "RETENTION_DAYS": "3"})
    janitor = RetentionJanitor(
        cluster,  # type: ignore[arg-type]
        ownership_of(settings),
        settings.retention_days,
        today=lambda: date(2026, 3, 1),
    )
    return handle_event(janitor, cluster, event, Deadline.after_seconds(60))  # type: ignore[arg-type]


def test_usage_is_shards_over_per_node_limit_times_data_nodes() -> None:
    usage = ShardUsage(shards=2_400, max_shards_per_node=1_000, data_nodes=3)
    assert usage.limit == 3_000
    assert usage.used_percent == pytest.approx(80.0)
    assert ShardUsage(shards=5, max_shards_per_node=1_000, data_nodes=0).used_percent == 100.0


def test_a_scheduled_run_deletes_and_publishes_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[tuple[str, float]] = []
    monkeypatch.setattr(shards, "record", lambda m, _u, v: published.append((m.value, v)))
    cluster = MemoryCluster({"logs-app-2026.01.01": {"logstream": {"owner": "logs"}}})
    answer = _run(cluster, SCHEDULED)
    assert answer["ok"] is True
    assert answer["retention"]["deleted"] == ["logs-app-2026.01.01"]
    assert answer["shard_budget"] == {
        "shards": 850,
        "max_shards_per_node": 1000,
        "data_nodes": 1,
        "limit": 1000,
        "used_percent": 85.0,
    }
    assert published == [("ClusterShards", 850), ("ShardBudgetUsedPercent", 85.0)]


def test_a_manual_dry_run_deletes_nothing() -> None:
    cluster = MemoryCluster({"logs-app-2026.01.01": {"logstream": {"owner": "logs"}}})
    answer = _run(cluster, {"dry_run": True})
    assert answer["ok"] is True
    assert answer["retention"]["deleted"] == ["logs-app-2026.01.01"]
    assert cluster.deleted == []


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ([], "JSON object"),
        ({"dry_run": "yes"}, "true or false"),
        ({"dryrun": True}, "unknown fields"),
    ],
)
def test_bad_manual_input_is_answered_not_raised(event: object, error: str) -> None:
    cluster = MemoryCluster({"logs-app-2026.01.01": {"logstream": {"owner": "logs"}}})
    answer = _run(cluster, event)
    assert answer["ok"] is False
    assert error in answer["error"]
    assert cluster.deleted == []
    with pytest.raises(ValueError, match=error):
        parse_dry_run(event)


def test_serverless_has_no_shard_budget_to_publish() -> None:
    class Serverless(MemoryCluster):
        capabilities = OPENSEARCH_SERVERLESS

        def shard_usage(self, **_: Any) -> ShardUsage:
            raise AssertionError("Serverless has no cluster settings to read")

    assert shards.publish_shard_budget(Serverless({}), timeout=1) is None  # type: ignore[arg-type]
