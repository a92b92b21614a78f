"""The quarantine as operators see it: records of every kind, one record, counts by reason.

Records are written by :mod:`logstream.shipping.quarantine`. A record's
*reason* is its diagnosis (``type_conflict``, ``field_limit``...) for a
document the cluster refused, else its kind (``bad_payload``, ``bad_event``,
``oversize_message``). Redrive lives in :mod:`logstream.shipping.redrive`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from logstream.cluster.port import Cluster
from logstream.errors import NotFoundError
from logstream.shipping.quarantine import QuarantineKind
from logstream.times import iso

#: Records one listing returns at most.
MAX_LISTED: Final = 10_000
_UNCLASSIFIED: Final = "-"


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """One record, without its (possibly large) parked body."""

    record_id: str
    kind: str
    reason: str
    log_group: str
    log_stream: str
    parked_at: str
    target_index: str | None
    doc_id: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reason_of(source: Mapping[str, Any]) -> str:
    """A record's reason: the diagnosis of a refused document, else its kind."""
    kind = str(source.get("kind") or _UNCLASSIFIED)
    if kind == QuarantineKind.REJECTED_DOCUMENT.value:
        return str(source.get("error_class") or source.get("error_type") or kind)
    return kind


class QuarantineView:
    """Reads the quarantine index (``${INDEX_PREFIX}-quarantine``)."""

    def __init__(self, cluster: Cluster, quarantine_index: str) -> None:
        self._cluster = cluster
        self._index = quarantine_index

    def _ready(self) -> bool:
        if not self._cluster.index_exists(self._index):
            return False
        self._cluster.refresh(self._index)
        return True

    def counts_by_reason(self) -> dict[str, dict[str, int]]:
        """Records per log group, then per reason (see :func:`reason_of`)."""
        if not self._ready():
            return {}
        response = self._cluster.search(
            self._index,
            body={
                "size": 0,
                "aggs": {
                    "groups": {
                        "terms": {"field": "log_group", "size": 10_000, "missing": ""},
                        "aggs": {
                            "kinds": {
                                "terms": {"field": "kind", "size": 10},
                                "aggs": {
                                    "classes": {
                                        "terms": {
                                            "field": "error_class",
                                            "size": 100,
                                            "missing": _UNCLASSIFIED,
                                        }
                                    }
                                },
                            }
                        },
                    }
                },
            },
        )
        counts: dict[str, dict[str, int]] = {}
        for group in response.get("aggregations", {}).get("groups", {}).get("buckets", []):
            reasons = counts.setdefault(str(group["key"]), {})
            for kind in group["kinds"]["buckets"]:
                for klass in kind["classes"]["buckets"]:
                    source = {"kind": kind["key"], "error_class": klass["key"]}
                    if klass["key"] == _UNCLASSIFIED:
                        source["error_class"] = None
                    reason = reason_of(source)
                    reasons[reason] = reasons.get(reason, 0) + int(klass["doc_count"])
        return counts

    def records(
        self, *, log_group: str | None = None, reason: str | None = None, limit: int = 100
    ) -> list[QuarantineRecord]:
        """The newest ``limit`` records, optionally of one group and one reason."""
        if not self._ready():
            return []
        filters: list[dict[str, Any]] = []
        if log_group is not None:
            filters.append({"term": {"log_group": log_group}})
        if reason is not None:
            filters.append(
                {
                    "bool": {
                        "should": [
                            {"term": {"error_class": reason}},
                            {
                                "bool": {
                                    "filter": [{"term": {"kind": reason}}],
                                    "must_not": [
                                        {"term": {"kind": QuarantineKind.REJECTED_DOCUMENT.value}}
                                    ],
                                }
                            },
                        ],
                        "minimum_should_match": 1,
                    }
                }
            )
        hits = self._cluster.search(
            self._index,
            body={
                "size": max(1, min(limit, MAX_LISTED)),
                "query": {"bool": {"filter": filters}},
                "sort": [{"@timestamp": "desc"}],
                "_source": {"excludes": ["document", "raw"]},
            },
        )["hits"]["hits"]
        return [_record_of(hit) for hit in hits]

    def record(self, record_id: str) -> dict[str, Any]:
        """One record in full, its parked body included; NotFoundError if it is not there."""
        if self._ready():
            hits = self._cluster.search(
                self._index, body={"size": 1, "query": {"ids": {"values": [record_id]}}}
            )["hits"]["hits"]
            if hits:
                return {"record_id": str(hits[0]["_id"]), **dict(hits[0]["_source"])}
        raise NotFoundError(
            f"no quarantine record {record_id!r}; `logstream quarantine list` shows the ids"
        )


def _record_of(hit: Mapping[str, Any]) -> QuarantineRecord:
    source = hit.get("_source") or {}
    parked = source.get("@timestamp")
    return QuarantineRecord(
        record_id=str(hit["_id"]),
        kind=str(source.get("kind") or _UNCLASSIFIED),
        reason=reason_of(source),
        log_group=str(source.get("log_group") or ""),
        log_stream=str(source.get("log_stream") or ""),
        parked_at=iso(int(parked)) if isinstance(parked, int | float) else str(parked or ""),
        target_index=source.get("target_index"),
        doc_id=source.get("doc_id"),
        detail=str(source.get("reason") or "")[:300],
    )
