"""Rebuild a daily index whose mapping disagrees with a decision, through a holding index.

The index is write-blocked, refreshed, copied aside into a holding index,
recreated from the group's drift template, and every document copied back
through the transform under its own ``_id``. Copied through the client, not
``_reindex``: that module is optional (absent from minimal distributions and
OpenSearch Serverless).

The write block never outlives the run that set it: it is lifted in a
``finally`` whenever the index was not deleted (copy deferred or failed).

The holding index is ``<prefix>_heal_<16 hex of SHA-256 of the index name>``:
outside ``<prefix>-*`` (no template, no alias), and a name no deployment can
produce for anything else (daily indices end in a date, every holding index in
exactly 16 hex digits after ``_heal_``, so two prefixes never share one). Its
``_meta`` names the deployment and the index it holds; nothing is copied into,
out of, or deleted from a holding index without that marker.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from typing import Any, Final

import orjson

from logstream.cluster.port import Cluster, IndexExists, IndexMissing
from logstream.observability import logger
from logstream.retry import Deadline
from logstream.schema.decisions import GroupDecisions
from logstream.schema.parked import ParkedDocuments
from logstream.schema.report import GroupHeal
from logstream.schema.scan import FieldConflict
from logstream.schema.transform import heal_source
from logstream.shipping.delivery import BulkSink
from logstream.shipping.documents import Document

_PAGE_SIZE: Final = 500
_HOLDING_INFIX: Final = "_heal_"
_HOLDING_DIGEST_HEX: Final = 16
#: A rebuild is not started with less time left than this (seconds).
_REBUILD_MIN_SECONDS: Final = 20
_HOLDING_SETTINGS: Final = {"index": {"number_of_shards": 1, "number_of_replicas": 0}}


class IndexRebuilder:
    """Puts a group's daily indices under the decided mappings, without losing a document."""

    def __init__(
        self, cluster: Cluster, sink: BulkSink, parked: ParkedDocuments, index_prefix: str
    ) -> None:
        self._cluster = cluster
        self._sink = sink
        self._parked = parked
        self._prefix = index_prefix

    def rebuild_disagreeing(
        self,
        heal: GroupHeal,
        conflict: FieldConflict,
        decisions: GroupDecisions,
        deadline: Deadline,
    ) -> None:
        """Rebuild every index that maps ``conflict``'s field other than as decided."""
        decision = decisions.current.get(conflict.field)
        if decision is None:
            return
        capabilities = self._cluster.capabilities
        if not (capabilities.write_block and capabilities.client_ids):
            # Without a write block a live write could land between copy and delete, and
            # without client ids a copy back could not keep each document's _id.
            heal.deferred.append(
                f"rebuild of {conflict.field}'s indices: {capabilities.engine} cannot rebuild "
                "in place; the decided mapping applies from the next daily index"
            )
            return
        for field_type, indices in conflict.indices_by_type.items():
            if field_type == decision.established_type:
                continue
            for index in indices:
                if index in heal.indices_rebuilt:
                    continue
                if deadline.remaining() < _REBUILD_MIN_SECONDS:
                    heal.deferred.append(f"rebuild of {index}: no time left")
                    continue
                if self.rebuild(heal, index, decisions, deadline):
                    heal.indices_rebuilt.append(index)

    def rebuild(
        self, heal: GroupHeal, index: str, decisions: GroupDecisions, deadline: Deadline
    ) -> bool:
        """Copy ``index`` aside, recreate it from the drift template, copy back transformed.

        Resumable: the copy is kept until every document is back, and every
        write is a ``create`` under the original ``_id``. Writes to the index
        are blocked while it is copied aside (live deliveries are refused with
        403 and retried by Lambda), so nothing written meanwhile can be lost.
        """
        holding = self.holding_index(index)
        cluster = self._cluster
        if cluster.index_exists(index):
            if not self._holding_usable(heal, index, holding):
                return False
            cluster.set_write_block(index, True)
            deleted = False
            try:
                if not self._copy_aside(heal, index, holding, deadline):
                    return False
                cluster.delete_index(index)
                deleted = True
            finally:
                if not deleted:  # a deleted index comes back from the template, unblocked
                    with contextlib.suppress(IndexMissing):
                        cluster.set_write_block(index, False)
        elif not cluster.index_exists(holding) or not self._holding_usable(heal, index, holding):
            return False
        with contextlib.suppress(IndexExists):
            cluster.create_index(index)  # the group's drift template applies
        copied = self._copy_back(heal, holding, index, decisions, deadline)
        if copied is None:
            return False
        cluster.delete_index(holding)
        logger.info("index rebuilt under decided mappings", extra={"index": index, "docs": copied})
        return True

    def holding_index(self, index: str) -> str:
        """Where ``index`` is held while it is rebuilt (see the module doc)."""
        digest = hashlib.sha256(index.encode()).hexdigest()[:_HOLDING_DIGEST_HEX]
        return f"{self._prefix}{_HOLDING_INFIX}{digest}"

    def _holding_marker(self, index: str) -> dict[str, str]:
        return {"managed_by": "logstream", "index_prefix": self._prefix, "holding_for": index}

    def _holding_usable(self, heal: GroupHeal, index: str, holding: str) -> bool:
        """True when ``holding`` is absent or marked as this deployment's copy of ``index``."""
        try:
            meta = self._cluster.index_meta(holding)
        except IndexMissing:
            return True
        marker = self._holding_marker(index)
        if all(meta.get(key) == value for key, value in marker.items()):
            return True
        logger.error(
            "holding index is not this deployment's: rebuild refused",
            extra={"index": index, "holding": holding, "meta": meta},
        )
        heal.deferred.append(f"rebuild of {index}: {holding} exists and is not ours")
        return False

    def _copy_aside(self, heal: GroupHeal, index: str, holding: str, deadline: Deadline) -> bool:
        """Every document of the write-blocked ``index`` into ``holding``; False: not all."""
        cluster = self._cluster
        cluster.refresh(index)  # the block stops new writes; the refresh shows the last ones
        if not cluster.index_exists(holding):
            body = {
                "settings": _HOLDING_SETTINGS,
                "mappings": {
                    "dynamic": False,
                    "properties": {},
                    "_meta": self._holding_marker(index),
                },
            }
            cluster.create_index(holding, body)
        for page in cluster.iter_hits(index, page_size=_PAGE_SIZE):
            copies = [
                _document_from_hit(holding, hit, orjson.dumps(hit["_source"])) for hit in page
            ]
            copied = self._sink.deliver(copies, deadline)
            if copied.undelivered or copied.rejected:
                heal.deferred.append(f"rebuild of {index}: copy aside incomplete")
                return False
        cluster.refresh(holding)
        expected = cluster.count(index)
        held = cluster.count(holding)
        if held < expected:
            heal.deferred.append(f"rebuild of {index}: copied {held} of {expected}")
            return False
        return True

    def _copy_back(
        self,
        heal: GroupHeal,
        holding: str,
        index: str,
        decisions: GroupDecisions,
        deadline: Deadline,
    ) -> int | None:
        """Every held document back into ``index``, transformed; how many (None: not all)."""
        decided = decisions.decided()
        held = self._cluster.count(holding)
        back = 0
        for page in self._cluster.iter_hits(holding, page_size=_PAGE_SIZE):
            documents = []
            for hit in page:
                result = heal_source(orjson.dumps(hit["_source"]), decided)
                heal.values_moved += sum(result.moved.values())
                decisions.count_moves(result.moved)
                documents.append(_document_from_hit(index, hit, result.source))
            delivery = self._sink.deliver(documents, deadline)
            self._parked.park(delivery.rejected, deadline)
            if delivery.undelivered:
                heal.deferred.append(
                    f"rebuild of {index}: {len(delivery.undelivered)} documents not copied back"
                )
                return None
            back += len(documents)
        if back < held:
            heal.deferred.append(f"rebuild of {index}: {back} of {held} copied back")
            return None
        return held


def _document_from_hit(index: str, hit: Mapping[str, Any], source: bytes) -> Document:
    body = hit["_source"]
    timestamp = body.get("@timestamp")
    return Document.from_source(
        index=index,
        doc_id=str(hit["_id"]),
        timestamp=int(timestamp) if isinstance(timestamp, int) else 0,
        log_group=str(body.get("log_group") or ""),
        log_stream=str(body.get("log_stream") or ""),
        source=source,
        op="create",
    )
