"""Follow a log group's documents as they are indexed, like ``sam logs --tail``.

Each poll asks the group's daily indices (in ``shared-daily``, the alias over
every daily index) for the group's documents, by a ``log_group`` term, at or
after the newest event time seen so far, in event-time order, and skips the
ones already returned. Events that arrive much later than newer ones (a late stream) are
not shown: reconciliation, not tail, proves completeness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from logstream.cluster.port import Cluster
from logstream.naming import IndexLayout, index_pattern_for_group
from logstream.times import iso

#: Documents one poll returns at most.
PAGE_SIZE: Final = 500


@dataclass(frozen=True, slots=True)
class TailLine:
    """One document, as tail prints it."""

    doc_id: str
    timestamp: int
    log_stream: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.doc_id,
            "@timestamp": iso(self.timestamp),
            "log_stream": self.log_stream,
            "message": self.message,
        }


class Tail:
    """The newest documents of one group, then whatever came after them."""

    def __init__(
        self,
        cluster: Cluster,
        index_prefix: str,
        log_group: str,
        layout: IndexLayout = IndexLayout.GROUP_DAILY,
    ) -> None:
        self._cluster = cluster
        self._log_group = log_group
        self._pattern = (
            f"{index_prefix}-all"  # the alias: every daily index, each holding every group
            if layout is IndexLayout.SHARED_DAILY
            else index_pattern_for_group(index_prefix, log_group)
        )
        self._cursor: int | None = None
        self._at_cursor: set[str] = set()

    def last(self, count: int) -> list[TailLine]:
        """The newest ``count`` documents, oldest first; later polls continue after them."""
        self._cluster.refresh(self._pattern)
        lines = self._search({"match_all": {}}, "desc", max(count, 1))[: max(count, 0)]
        lines.reverse()
        if lines:
            self._advance(lines)
        elif self._cursor is None:
            self._cursor = 0
        return lines

    def poll(self) -> list[TailLine]:
        """Documents indexed since the last call (at or after the newest event time seen)."""
        if self._cursor is None:
            return self.last(PAGE_SIZE)
        self._cluster.refresh(self._pattern)
        found = self._search({"range": {"@timestamp": {"gte": self._cursor}}}, "asc", PAGE_SIZE)
        lines = [
            line
            for line in found
            if not (line.timestamp == self._cursor and line.doc_id in self._at_cursor)
        ]
        if lines:
            self._advance(lines)
        return lines

    def _advance(self, lines: list[TailLine]) -> None:
        newest = lines[-1].timestamp
        if newest != self._cursor:
            self._at_cursor = set()
        self._cursor = newest
        self._at_cursor |= {line.doc_id for line in lines if line.timestamp == newest}

    def _search(self, query: Mapping[str, Any], order: str, size: int) -> list[TailLine]:
        # The pattern can match other groups' indices (a longer name; shared-daily): the term.
        only_group = {"bool": {"filter": [query, {"term": {"log_group": self._log_group}}]}}
        hits = self._cluster.search(
            self._pattern,
            body={
                "size": size,
                "query": only_group,
                "sort": [{"@timestamp": order}, {"event_id": order}],
                "_source": ["@timestamp", "log_stream", "message"],
            },
        )["hits"]["hits"]
        return [_line_of(hit) for hit in hits]


def _line_of(hit: Mapping[str, Any]) -> TailLine:
    source = hit.get("_source") or {}
    return TailLine(
        doc_id=str(hit["_id"]),
        timestamp=int(source.get("@timestamp") or 0),
        log_stream=str(source.get("log_stream") or ""),
        message=str(source.get("message") or ""),
    )
