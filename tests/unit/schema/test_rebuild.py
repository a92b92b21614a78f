"""The index rebuild: fresh documents are seen, a write block never outlives its run,
and a holding index that is not this deployment's is never copied from or deleted."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from logstream.cluster.port import ClusterError, IndexExists, IndexMissing
from logstream.retry import Deadline
from logstream.schema.decisions import GroupDecisions, MemoryDecisionStore
from logstream.schema.parked import ParkedDocuments
from logstream.schema.rebuild import IndexRebuilder
from logstream.schema.report import GroupHeal
from logstream.shipping.delivery import DeliveryReport, Undelivered
from logstream.shipping.documents import Document

PREFIX = "logs"
INDEX = "logs-app-2026.01.02"


class FakeCluster:
    """Indices as dicts of id -> source; writes become visible to reads on refresh only."""

    def __init__(self) -> None:
        self.visible: dict[str, dict[str, dict[str, Any]]] = {}
        self.unrefreshed: dict[str, dict[str, dict[str, Any]]] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.blocked: set[str] = set()
        self.deleted: list[str] = []
        self.fail_scroll = False

    def add(self, index: str, doc_id: str, *, refreshed: bool = True) -> None:
        self.visible.setdefault(index, {})
        self.unrefreshed.setdefault(index, {})
        target = self.visible if refreshed else self.unrefreshed
        target[index][doc_id] = {"@timestamp": 1, "log_group": "/app", "n": doc_id}

    def index_exists(self, index: str, **_: Any) -> bool:
        return index in self.visible

    def index_meta(self, index: str, **_: Any) -> dict[str, Any]:
        if index not in self.visible:
            raise IndexMissing(index)
        return dict(self.meta.get(index, {}))

    def set_write_block(self, index: str, blocked: bool, **_: Any) -> None:
        if index not in self.visible:
            raise IndexMissing(index)
        (self.blocked.add if blocked else self.blocked.discard)(index)

    def refresh(self, index: str, **_: Any) -> None:
        self.visible.get(index, {}).update(self.unrefreshed.pop(index, {}))
        self.unrefreshed.setdefault(index, {})

    def create_index(self, index: str, body: Mapping[str, Any] | None = None, **_: Any) -> None:
        if index in self.visible:
            raise IndexExists(index)
        self.visible[index], self.unrefreshed[index] = {}, {}
        self.meta[index] = dict(((body or {}).get("mappings") or {}).get("_meta") or {})

    def delete_index(self, index: str, **_: Any) -> None:
        self.deleted.append(index)
        for store in (self.visible, self.unrefreshed, self.meta):
            store.pop(index, None)
        self.blocked.discard(index)

    def iter_hits(self, index: str, *, page_size: int, **_: Any) -> Iterator[list[dict[str, Any]]]:
        if self.fail_scroll:
            raise ClusterError(503, "scroll failed", retryable=True)
        hits = [{"_id": i, "_source": s} for i, s in self.visible.get(index, {}).items()]
        for start in range(0, len(hits), page_size):
            yield hits[start : start + page_size]

    def count(self, index: str, *_: Any, **__: Any) -> int:
        return len(self.visible.get(index, {}))


class FakeSink:
    """Writes documents into the fake cluster (unrefreshed), or leaves them undelivered."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.undeliver = False

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        if self.undeliver:
            return DeliveryReport(undelivered=[Undelivered(d, "503") for d in documents])
        for document in documents:
            if document.index in self.cluster.blocked:
                raise AssertionError(f"write to blocked {document.index}")
            self.cluster.add(document.index, document.doc_id, refreshed=False)
        return DeliveryReport(delivered=list(documents))


def _rebuilder(prefix: str = PREFIX) -> tuple[IndexRebuilder, FakeCluster, FakeSink]:
    cluster = FakeCluster()
    sink = FakeSink(cluster)
    parked = ParkedDocuments(cluster, sink, f"{prefix}-quarantine")  # type: ignore[arg-type]
    return IndexRebuilder(cluster, sink, parked, prefix), cluster, sink  # type: ignore[arg-type]


def _rebuild(rebuilder: IndexRebuilder, heal: GroupHeal) -> bool:
    decisions = GroupDecisions(MemoryDecisionStore(), "/app", lambda: 0)
    return rebuilder.rebuild(heal, INDEX, decisions, Deadline.after_seconds(60))


def test_documents_written_just_before_the_block_are_copied() -> None:
    rebuilder, cluster, _ = _rebuilder()
    for n in range(3):
        cluster.add(INDEX, f"old{n}")
    cluster.add(INDEX, "fresh", refreshed=False)  # acknowledged, not yet searchable
    heal = GroupHeal("/app")
    assert _rebuild(rebuilder, heal), heal.deferred
    cluster.refresh(INDEX)
    assert sorted(cluster.visible[INDEX]) == ["fresh", "old0", "old1", "old2"]
    assert INDEX not in cluster.blocked
    assert rebuilder.holding_index(INDEX) not in cluster.visible


def test_the_write_block_is_lifted_when_the_copy_is_deferred() -> None:
    rebuilder, cluster, sink = _rebuilder()
    cluster.add(INDEX, "a")
    sink.undeliver = True
    heal = GroupHeal("/app")
    assert not _rebuild(rebuilder, heal)
    assert heal.deferred == [f"rebuild of {INDEX}: copy aside incomplete"]
    assert INDEX not in cluster.blocked
    assert INDEX in cluster.visible


def test_the_write_block_is_lifted_when_the_copy_fails() -> None:
    rebuilder, cluster, _ = _rebuilder()
    cluster.add(INDEX, "a")
    cluster.fail_scroll = True
    with pytest.raises(ClusterError):
        _rebuild(rebuilder, GroupHeal("/app"))
    assert INDEX not in cluster.blocked


def test_a_holding_index_that_is_not_ours_is_never_copied_or_deleted() -> None:
    rebuilder, cluster, _ = _rebuilder()
    cluster.add(INDEX, "a")
    holding = rebuilder.holding_index(INDEX)
    cluster.add(holding, "someone-elses")
    heal = GroupHeal("/app")
    assert not _rebuild(rebuilder, heal)
    assert heal.deferred == [f"rebuild of {INDEX}: {holding} exists and is not ours"]
    assert cluster.deleted == []
    assert sorted(cluster.visible[holding]) == ["someone-elses"]
    assert INDEX not in cluster.blocked
    # The index gone and only a foreign holding index left: nothing is copied back.
    del cluster.visible[INDEX]
    assert not _rebuild(rebuilder, GroupHeal("/app"))
    assert cluster.deleted == []


@pytest.mark.parametrize("index", [INDEX, "logs-orders-2026-01-01-2026.01.02"])
def test_no_other_deployment_can_own_a_holding_index_name(index: str) -> None:
    ours = _rebuilder("logs")[0].holding_index(index)
    neighbours = [_rebuilder(p)[0] for p in ("logs_heal", "logs_heal_", "log", "logs-")]
    assert re.fullmatch(r"logs_heal_[0-9a-f]{16}", ours)
    # Daily indices end in a date, the quarantine and alias in words: never 16 hex digits.
    for neighbour in neighbours:
        assert neighbour.holding_index(index) != ours
        assert neighbour.holding_index(index.replace("logs", neighbour._prefix, 1)) != ours
    assert _rebuilder("logs")[0].holding_index("logs-app-2026.01.03") != ours
