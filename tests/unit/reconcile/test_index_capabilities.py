"""The index counter on an engine without ``_refresh`` or client ids (Serverless).

Without ``_refresh`` it waits a bounded time (injected here, never slept) in
place of refreshing; without client ids it matches events by ``event_id``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from logstream.cluster.opensearch import OPENSEARCH, OPENSEARCH_SERVERLESS
from logstream.cluster.port import Capabilities
from logstream.naming import IndexLayout, index_pattern_for_group
from logstream.reconcile.index_counts import NO_REFRESH_WAIT_SECS, ClusterIndexCounter
from logstream.reconcile.window import Window
from logstream.retry import Backoff


class _Cluster:
    def __init__(self, capabilities: Capabilities, hits: list[dict[str, Any]]) -> None:
        self.capabilities = capabilities
        self.hits = hits
        self.refreshed: list[str] = []

    def refresh(self, index: str, *, timeout: float = 30.0) -> None:
        self.refreshed.append(index)

    def search(self, index: str, body: Mapping[str, Any], *, timeout: float = 30.0) -> Any:
        return {"hits": {"hits": self.hits}}


def _counter(cluster: _Cluster, slept: list[float], timeout: float = 30.0) -> ClusterIndexCounter:
    return ClusterIndexCounter(
        cluster,  # type: ignore[arg-type]
        alias="logs-all",
        index_prefix="logs",
        backoff=Backoff(1, 2, sleep=lambda _: None),
        timeout_secs=timeout,
        sleep=slept.append,
    )


def test_with_refresh_the_counter_refreshes_and_does_not_wait() -> None:
    cluster, slept = _Cluster(OPENSEARCH, []), list[float]()
    _counter(cluster, slept).refresh("/aws/lambda/orders")
    assert cluster.refreshed and slept == []


def test_without_refresh_the_counter_waits_a_bounded_time_instead() -> None:
    cluster, slept = _Cluster(OPENSEARCH_SERVERLESS, []), list[float]()
    _counter(cluster, slept).refresh("/aws/lambda/orders")
    assert cluster.refreshed == [] and slept == [NO_REFRESH_WAIT_SECS]
    short: list[float] = []
    _counter(cluster, short, timeout=2.0).refresh("/aws/lambda/orders")
    assert short == [2.0]


def test_without_client_ids_events_are_matched_by_event_id() -> None:
    hits = [
        {"_id": "engine-made-1", "sort": ["evt-1"]},
        {"_id": "engine-made-2", "sort": ["evt-2"]},
    ]
    window = Window(0, 1000)
    with_ids = _counter(_Cluster(OPENSEARCH, hits), []).ids("g", window)
    no_ids = dataclasses.replace(OPENSEARCH, client_ids=False)
    without_ids = _counter(_Cluster(no_ids, hits), []).ids("g", window)
    assert with_ids == {"engine-made-1", "engine-made-2"}
    assert without_ids == {"evt-1", "evt-2"}


def test_a_refresh_covers_the_groups_indices_in_either_layout() -> None:
    group_daily, shared_daily = _Cluster(OPENSEARCH, []), _Cluster(OPENSEARCH, [])
    _counter(group_daily, []).refresh("orders")
    ClusterIndexCounter(
        shared_daily,  # type: ignore[arg-type]
        alias="logs-all",
        index_prefix="logs",
        layout=IndexLayout.SHARED_DAILY,
        backoff=Backoff(1, 2, sleep=lambda _: None),
    ).refresh("orders")
    assert group_daily.refreshed == [index_pattern_for_group("logs", "orders")]
    assert shared_daily.refreshed == ["logs-all"]  # every daily index holds every group


def test_counts_and_ids_always_filter_on_the_exact_group() -> None:
    seen: list[Mapping[str, Any]] = []

    class _Recording(_Cluster):
        def search(self, index: str, body: Mapping[str, Any], *, timeout: float = 30.0) -> Any:
            seen.append(body)
            assert index == "logs-all"
            return {"hits": {"hits": []}}

    counter = _counter(_Recording(OPENSEARCH, []), [])
    counter.counts("/ecs/web", Window(0, 1000), 100)
    counter.ids("/ecs/web", Window(0, 1000))
    for body in seen:
        assert {"term": {"log_group": "/ecs/web"}} in body["query"]["bool"]["filter"]
