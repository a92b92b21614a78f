"""Refused documents parked in the quarantine index: read them, count them, park, unpark.

The shipper parks a document the cluster refused as a quarantine record (see
:mod:`logstream.shipping.quarantine`); the healer reads those records back
with their diagnosis, rewrites one that is refused again, and deletes one once
its document is in its index.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from logstream.cluster.port import Cluster
from logstream.observability import logger
from logstream.retry import Deadline
from logstream.schema.diagnosis import Diagnosis, diagnose
from logstream.shipping.delivery import BulkSink, Rejection
from logstream.shipping.documents import Document
from logstream.shipping.quarantine import QuarantineKind, rejection_record

#: Records read, and ids deleted, per request.
PAGE_SIZE: Final = 500


@dataclass(slots=True)
class ParkedDocument:
    """One quarantine record of a refused document."""

    record_id: str
    target_index: str
    doc_id: str
    timestamp: int
    log_group: str
    log_stream: str
    source: bytes
    diagnosis: Diagnosis

    def document(self, source: bytes | None = None) -> Document:
        """The document as first sent (or with ``source``): same index, same ``_id``."""
        return Document.from_source(
            index=self.target_index,
            doc_id=self.doc_id,
            timestamp=self.timestamp,
            log_group=self.log_group,
            log_stream=self.log_stream,
            source=source if source is not None else self.source,
            op="create",
        )


class ParkedDocuments:
    """The quarantine index, as the healer reads and updates it."""

    def __init__(self, cluster: Cluster, sink: BulkSink, quarantine_index: str) -> None:
        self._cluster = cluster
        self._sink = sink
        self._index = quarantine_index

    def counts(self) -> dict[str, int]:
        """Refused documents waiting in quarantine, per log group."""
        if not self._cluster.index_exists(self._index):
            return {}
        self._cluster.refresh(self._index)
        response = self._cluster.search(
            self._index,
            body={
                "size": 0,
                "query": {"term": {"kind": QuarantineKind.REJECTED_DOCUMENT.value}},
                "aggs": {"groups": {"terms": {"field": "log_group", "size": 10_000}}},
            },
        )
        buckets = response.get("aggregations", {}).get("groups", {}).get("buckets", [])
        return {str(b["key"]): int(b["doc_count"]) for b in buckets}

    def of_group(self, group: str) -> Iterator[ParkedDocument]:
        """Every refused document of ``group``, by target index and id."""
        if not self._cluster.index_exists(self._index):
            return
        self._cluster.refresh(self._index)
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": PAGE_SIZE,
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"kind": QuarantineKind.REJECTED_DOCUMENT.value}},
                            {"term": {"log_group": group}},
                        ]
                    }
                },
                "sort": [{"target_index": "asc"}, {"doc_id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self._cluster.search(self._index, body)["hits"]["hits"]
            for hit in hits:
                parked = _parked_from_hit(hit)
                if parked is not None:
                    yield parked
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]

    def park(self, rejected: Sequence[Rejection], deadline: Deadline) -> None:
        """Refused again: the record is rewritten (same id) with the new reason."""
        if not rejected:
            return
        records = [rejection_record(self._index, r) for r in rejected]
        outcome = self._sink.deliver(records, deadline)
        if outcome.undelivered or outcome.rejected:
            logger.error(
                "could not update quarantine records",
                extra={"count": len(outcome.undelivered) + len(outcome.rejected)},
            )

    def unpark(self, done: Sequence[ParkedDocument]) -> None:
        """Delete the quarantine records of documents the cluster acknowledged."""
        ids = [p.record_id for p in done]
        for start in range(0, len(ids), PAGE_SIZE):
            failed = self._cluster.delete_documents(self._index, ids[start : start + PAGE_SIZE])
            if failed:
                logger.error(
                    "could not delete replayed quarantine records",
                    extra={"count": len(failed), "sample": failed[0]},
                )


def _parked_from_hit(hit: Mapping[str, Any]) -> ParkedDocument | None:
    source = hit.get("_source") or {}
    document = source.get("document")
    if not isinstance(document, str) or not source.get("target_index"):
        return None
    raw = document.encode("utf-8")
    diagnosis = diagnose(
        str(source.get("error_type") or ""),
        str(source.get("reason") or ""),
        source.get("cause_type"),
        source.get("cause_reason"),
        raw,
    )
    return ParkedDocument(
        record_id=str(hit["_id"]),
        target_index=str(source["target_index"]),
        doc_id=str(source["doc_id"]),
        timestamp=int(source.get("event_timestamp") or 0),
        log_group=str(source.get("log_group") or ""),
        log_stream=str(source.get("log_stream") or ""),
        source=raw,
        diagnosis=diagnosis,
    )
