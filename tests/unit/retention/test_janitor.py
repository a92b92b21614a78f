"""The janitor over a cluster in memory: what it deletes, keeps, logs and reports."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from logstream.cluster.opensearch import OPENSEARCH
from logstream.cluster.port import Capabilities, ClusterError, IndexMissing, ShardUsage
from logstream.naming import daily_index
from logstream.retention.expiry import contents_query
from logstream.retention.janitor import RetentionJanitor, ownership_of
from logstream.retry import Deadline
from logstream.settings import Settings

TODAY = date(2026, 3, 1)
HASHED = daily_index("logs", "/aws/lambda/Fn", 1_767_225_600_000)  # 2026-01-01


def _day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000 + 12_345


class MemoryCluster:
    """Index names with their mapping ``_meta`` and documents; records deletions.

    An index's documents are ``docs[name]`` if given, else one that belongs
    there when the name is ``{prefix}-{group}-{day}`` of an exact-slug group.
    """

    capabilities: Capabilities = OPENSEARCH

    def __init__(
        self,
        indices: dict[str, dict[str, Any]],
        docs: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.indices = dict(indices)
        self.docs = dict(docs or {})
        self.deleted: list[str] = []
        self.meta_reads: list[str] = []

    def _documents(self, index: str) -> list[dict[str, Any]]:
        if index in self.docs:
            return self.docs[index]
        group, day = index.split("-", 1)[1].rsplit("-", 1)
        when = date(*(int(part) for part in day.split(".")))
        return [{"log_group": group, "@timestamp": _day_ms(when)}]

    def search(self, index: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        """The answer an engine gives to the contents query (terms, min, max)."""
        assert body == contents_query()
        docs = self._documents(index)
        size = body["aggs"]["groups"]["terms"]["size"]
        counts = Counter(d["log_group"] for d in docs if "log_group" in d).most_common()
        times = [d["@timestamp"] for d in docs if "@timestamp" in d]
        return {
            "hits": {"total": {"value": len(docs), "relation": "eq"}, "hits": []},
            "aggregations": {
                "groups": {
                    "buckets": [{"key": g, "doc_count": n} for g, n in counts[:size]],
                    "sum_other_doc_count": sum(n for _g, n in counts[size:]),
                },
                "first": {"value": float(min(times)) if times else None},
                "last": {"value": float(max(times)) if times else None},
            },
        }

    def list_indices(self, pattern: str, **_: Any) -> list[str]:
        assert pattern.endswith("-*")
        return sorted(n for n in self.indices if n.startswith(pattern[:-1]))

    def index_meta(self, index: str, **_: Any) -> dict[str, Any]:
        self.meta_reads.append(index)
        if index not in self.indices:
            raise IndexMissing(index)
        return self.indices[index]

    def delete_index(self, index: str, **_: Any) -> None:
        self.deleted.append(index)
        self.indices.pop(index, None)

    def shard_usage(self, **_: Any) -> ShardUsage:
        return ShardUsage(shards=850, max_shards_per_node=1000, data_nodes=1)


def _settings(prefix: str = "logs", days: int = 7) -> Settings:
    return Settings.from_env(
        {"AWS_REGION": "us-east-1", "INDEX_PREFIX": prefix, "RETENTION_DAYS": str(days)}
    )


def _ours(prefix: str = "logs") -> dict[str, Any]:
    return {"logstream": {"owner": prefix}}


def _janitor(cluster: MemoryCluster, days: int = 7) -> RetentionJanitor:
    settings = _settings(days=days)
    return RetentionJanitor(cluster, ownership_of(settings), days, today=lambda: TODAY)  # type: ignore[arg-type]


def _deadline() -> Deadline:
    return Deadline.after_seconds(60)


def test_deletes_exactly_the_expired_marked_indices_of_this_deployment() -> None:
    cluster = MemoryCluster(
        {
            "logs-app-2026.02.22": _ours(),  # expired, ours
            "logs-app-2026.02.23": _ours(),  # kept: the 7th day
            "logs-app-2026.03.01": _ours(),  # today
            HASHED: _ours(),  # expired, ours, hashed group part
            "logs-prod-x-2026.01.01": _ours("logs-prod"),  # a neighbour's (`logs-prod`, `x`)
            "logs-manual-2026.01.01": {},  # matches the pattern, made by hand: no marker
            "logs-other-2026.01.01": {"logstream": "logs"},  # malformed marker
            "logs-quarantine": _ours(),
            "logs-app-2026.02.30": _ours(),  # no such day
            "logs-notes": _ours(),
            # Made by a neighbour without templates: our template stamped our marker.
            "logs-prod-y-2026.01.01": _ours(),
            "logs-empty-2026.01.01": _ours(),
        },
        docs={
            HASHED: [{"log_group": "/aws/lambda/Fn", "@timestamp": _day_ms(date(2026, 1, 1))}],
            "logs-prod-y-2026.01.01": [{"log_group": "y", "@timestamp": _day_ms(date(2026, 1, 1))}],
            "logs-empty-2026.01.01": [],
        },
    )
    report = _janitor(cluster).run(_deadline())
    assert cluster.deleted == sorted(["logs-app-2026.02.22", HASHED])
    assert report.deleted == cluster.deleted
    assert sorted(report.not_ours) == [
        "logs-manual-2026.01.01",
        "logs-other-2026.01.01",
        "logs-prod-x-2026.01.01",
        "logs-prod-y-2026.01.01",
    ]
    assert report.unverified == ["logs-empty-2026.01.01"]
    assert report.bad_dates == ["logs-app-2026.02.30"]
    assert report.retained == 2
    assert report.first_kept_day == date(2026, 2, 23)
    # The marker is read only for names that expired.
    assert set(cluster.meta_reads) == {*report.deleted, *report.not_ours, *report.unverified}


def test_a_dry_run_decides_the_same_and_deletes_nothing() -> None:
    indices = {"logs-app-2026.01.01": _ours(), "logs-app-2026.03.01": _ours()}
    cluster = MemoryCluster(indices)
    report = _janitor(cluster).run(_deadline(), dry_run=True)
    assert report.deleted == ["logs-app-2026.01.01"]
    assert report.as_dict()["dry_run"] is True
    assert cluster.deleted == []
    assert set(cluster.indices) == set(indices)


def test_zero_days_keeps_everything_without_asking_the_cluster() -> None:
    class Untouchable(MemoryCluster):
        def list_indices(self, pattern: str, **_: Any) -> list[str]:
            raise AssertionError("RETENTION_DAYS=0 must not list indices")

    report = _janitor(Untouchable({}), days=0).run(_deadline())
    assert report.as_dict() == {
        "retention_days": 0,
        "dry_run": False,
        "first_kept_day": None,
        "deleted": [],
        "not_ours": [],
        "unverified": [],
        "bad_dates": [],
        "retained": 0,
        "deferred": [],
    }


def test_without_time_left_an_index_is_left_for_the_next_run() -> None:
    cluster = MemoryCluster({"logs-app-2026.01.01": _ours()})
    report = _janitor(cluster).run(Deadline(lambda: 1_000))
    assert report.deferred == ["logs-app-2026.01.01"]
    assert cluster.deleted == []


def test_an_index_deleted_meanwhile_is_not_an_error() -> None:
    class Vanishing(MemoryCluster):
        def index_meta(self, index: str, **_: Any) -> dict[str, Any]:
            raise IndexMissing(index)

    cluster = Vanishing({"logs-app-2026.01.01": _ours()})
    report = _janitor(cluster).run(_deadline())
    assert (report.deleted, report.not_ours, cluster.deleted) == ([], [], [])


def test_deletions_are_logged_and_counted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from logstream import observability  # noqa: PLC0415
    from logstream.retention import janitor  # noqa: PLC0415

    counted: list[tuple[str, float]] = []
    monkeypatch.setattr(janitor, "count", lambda metric, value=1: counted.append((metric, value)))
    logged: list[dict[str, Any]] = []

    def info(message: str, extra: dict[str, Any]) -> None:
        logged.append({"message": message, **extra})

    monkeypatch.setattr(observability.logger, "info", info)
    cluster = MemoryCluster(
        {"logs-a-2026.01.01": _ours(), "logs-b-2026.01.01": _ours(), "logs-c-2026.01.01": {}}
    )
    _janitor(cluster).run(_deadline())
    assert [entry["index"] for entry in logged] == ["logs-a-2026.01.01", "logs-b-2026.01.01"]
    assert counted.count(("RetentionIndicesDeleted", 1)) == 2
    assert ("RetentionIndicesNotOurs", 1) in counted


def test_another_layout_passes_its_own_pattern_and_naming() -> None:
    """The shared-daily layout (`{prefix}-{YYYY.MM.DD}`, being built) plugs in the same way."""
    import re  # noqa: PLC0415

    from logstream.naming import DAY_SUFFIX_PATTERN, day_suffix  # noqa: PLC0415

    settings = _settings()
    ownership = ownership_of(
        settings,
        daily_pattern=re.compile(f"logs-{DAY_SUFFIX_PATTERN}"),
        index_for=lambda _group, timestamp_ms: f"logs-{day_suffix(timestamp_ms)}",
    )
    old = {"log_group": "/any/group", "@timestamp": _day_ms(date(2026, 1, 1))}
    cluster = MemoryCluster(
        {
            "logs-2026.01.01": _ours(),
            "logs-2026.03.01": _ours(),
            "logs-app-2026.01.01": _ours(),  # the other layout's name: not this pattern
            "logs-prod-2026.01.01": _ours(),  # `logs-prod`'s shared index: not this pattern
        },
        docs={"logs-2026.01.01": [old, {**old, "log_group": "/other"}]},
    )
    janitor = RetentionJanitor(cluster, ownership, 7, today=lambda: TODAY)  # type: ignore[arg-type]
    report = janitor.run(_deadline())
    assert cluster.deleted == ["logs-2026.01.01"]
    assert report.retained == 1


def test_a_neighbour_s_index_with_one_of_our_groups_among_others_is_not_ours() -> None:
    """`logs-prod`'s shared daily index `logs-prod-2026.01.01` is `logs`'s group `prod`
    by name; a document of group `prod` in it must not make it ours."""
    day = _day_ms(date(2026, 1, 1))
    docs = [{"log_group": group, "@timestamp": day} for group in ("prod", "orders", "prod")]
    cluster = MemoryCluster({"logs-prod-2026.01.01": _ours()}, docs={"logs-prod-2026.01.01": docs})
    report = _janitor(cluster).run(_deadline())
    assert (cluster.deleted, report.not_ours) == ([], ["logs-prod-2026.01.01"])


def test_an_index_whose_log_group_cannot_be_aggregated_is_not_ours() -> None:
    class TextGroups(MemoryCluster):
        def search(self, index: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
            raise ClusterError(400, "log_group is a text field", retryable=False)

    cluster = TextGroups({"logs-app-2026.01.01": _ours()})
    report = _janitor(cluster).run(_deadline())
    assert (cluster.deleted, report.not_ours) == ([], ["logs-app-2026.01.01"])


def test_a_cluster_failure_while_checking_fails_the_run() -> None:
    class Down(MemoryCluster):
        def search(self, index: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
            raise ClusterError(503, "unavailable", retryable=True)

    cluster = Down({"logs-app-2026.01.01": _ours()})
    with pytest.raises(ClusterError):
        _janitor(cluster).run(_deadline())
    assert cluster.deleted == []
