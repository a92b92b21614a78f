"""The demo's view of the cluster: event ids per group, deliberate damage, the final tally.

Everything is counted by ``_id`` (the CloudWatch event id), never by totals,
so a lost event and a duplicate cannot cancel out. This OpenSearch build has
no ``_delete_by_query``, so documents are removed with a search and a bulk delete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.helpers import scan


def doc_ids(search: OpenSearch, index: str, group: str | None = None) -> Counter[str]:
    """How often each ``_id`` occurs in ``index`` (an alias may span several indices)."""
    query: dict[str, Any] = {"match_all": {}}
    if group is not None:
        query = {"term": {"log_group": group}}
    if not search.indices.exists(index=index):
        return Counter()
    search.indices.refresh(index=index)
    hits = scan(search, index=index, query={"query": query, "_source": False})
    return Counter(hit["_id"] for hit in hits)


def parked_ids(search: OpenSearch, quarantine_index: str) -> Counter[str]:
    """The event ids waiting in quarantine (each record names the ``_id`` it was refused as)."""
    if not search.indices.exists(index=quarantine_index):
        return Counter()
    search.indices.refresh(index=quarantine_index)
    hits = scan(search, index=quarantine_index, query={"_source": ["doc_id"]})
    return Counter(str(hit["_source"].get("doc_id")) for hit in hits)


def delete_ids(search: OpenSearch, index: str, ids: Iterable[str]) -> int:
    """Remove the documents with these ``_id`` values from wherever they are under ``index``."""
    wanted = sorted(set(ids))
    hits = list(
        scan(search, index=index, query={"query": {"ids": {"values": wanted}}, "_source": False})
    )
    actions = [{"delete": {"_index": hit["_index"], "_id": hit["_id"]}} for hit in hits]
    if not actions:
        return 0
    response = search.bulk(body=actions, refresh=True)
    if response["errors"]:
        raise RuntimeError(f"bulk delete failed: {response['items'][:3]}")
    return len(actions)


@dataclass(frozen=True)
class Tally:
    """Every event written to CloudWatch, accounted for by ``_id``."""

    written: int
    landed: int
    quarantined: int
    lost: int
    duplicated: int
    unexpected: int

    def headline(self) -> str:
        return (
            f"written {self.written} = landed {self.landed} + quarantined {self.quarantined}; "
            f"{self.lost} lost, {self.duplicated} duplicated"
        )


def tally(source_ids: set[str], indexed: Counter[str], parked: Counter[str]) -> Tally:
    landed = source_ids & set(indexed)
    quarantined = (source_ids & set(parked)) - landed
    twice = sum(n - 1 for n in indexed.values() if n > 1) + sum(
        n - 1 for n in parked.values() if n > 1
    )
    return Tally(
        written=len(source_ids),
        landed=len(landed),
        quarantined=len(quarantined),
        lost=len(source_ids - landed - quarantined),
        duplicated=twice + len(landed & set(parked)),
        unexpected=len(set(indexed) - source_ids),
    )
