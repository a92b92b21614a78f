"""Quarantine replay: put a group's parked documents back into their own index.

Each parked document is transformed under the group's decisions (and the caps
its refusal calls for) and sent again to its original index under its
original ``_id`` (``create``: a document already there counts as done). A
refusal that teaches something new decides it on the spot and the document is
tried again, up to three rounds; what is still refused is parked again with
the new reason, and what the cluster acknowledged leaves the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Final

from logstream.cluster.port import Cluster
from logstream.retry import Deadline
from logstream.schema.decisions import GroupDecisions
from logstream.schema.diagnosis import HEALABLE, Diagnosis, ErrorClass, diagnosis_of
from logstream.schema.mappings import MappingSource
from logstream.schema.parked import PAGE_SIZE, ParkedDocument, ParkedDocuments
from logstream.schema.report import GroupHeal
from logstream.schema.transform import TransformResult, heal_source
from logstream.shipping.delivery import BulkSink, Rejection
from logstream.shipping.documents import Document

#: How often a parked document is transformed and sent before it is parked again.
_MAX_ROUNDS: Final = 3
#: No replay page is started with less time left than this (seconds).
_PAGE_MIN_SECONDS: Final = 10

#: Called when a refusal changed the decisions: save them, install the group's template.
Settle = Callable[[GroupHeal, GroupDecisions], None]


class QuarantineReplay:
    """Replays parked documents page by page, bounded by the deadline."""

    def __init__(
        self,
        cluster: Cluster,
        sink: BulkSink,
        parked: ParkedDocuments,
        *,
        depth_limit: int,
        settle: Settle,
    ) -> None:
        self._cluster = cluster
        self._sink = sink
        self._parked = parked
        self._depth_limit = depth_limit
        self._settle = settle

    def replay(
        self,
        heal: GroupHeal,
        parked: list[ParkedDocument],
        decisions: GroupDecisions,
        deadline: Deadline,
    ) -> None:
        healable = [p for p in parked if p.diagnosis.error_class in HEALABLE]
        heal.unhealable = len(parked) - len(healable)
        heal.still_quarantined += heal.unhealable
        for start in range(0, len(healable), PAGE_SIZE):
            if deadline.remaining() < _PAGE_MIN_SECONDS:
                heal.deferred.append(f"replay: {len(healable) - start} records left for next run")
                heal.still_quarantined += len(healable) - start
                return
            self._replay_page(heal, healable[start : start + PAGE_SIZE], decisions, deadline)

    def _replay_page(
        self,
        heal: GroupHeal,
        page: list[ParkedDocument],
        decisions: GroupDecisions,
        deadline: Deadline,
    ) -> None:
        pending = [(p, p.diagnosis) for p in page]
        done: list[ParkedDocument] = []
        # A record tried again is transformed again: only its last transform counts.
        moved: dict[str, Mapping[str, int]] = {}
        for round_number in range(_MAX_ROUNDS):
            if not pending:
                break
            decided = decisions.decided()
            documents: list[Document] = []
            owners: dict[int, ParkedDocument] = {}
            mappings = MappingSource(self._cluster)  # fresh per round, one GET per index
            for record, diagnosis in pending:
                result = self._transform(record, diagnosis, decided, mappings)
                moved[record.record_id] = result.moved
                document = record.document(result.source)
                owners[id(document)] = record
                documents.append(document)
            delivery = self._sink.deliver(documents, deadline)
            heal.replayed += len(delivery.delivered)
            heal.already_present += len(delivery.duplicates)
            done += [owners[id(d)] for d in delivery.delivered + delivery.duplicates]
            if delivery.undelivered:
                heal.deferred.append(
                    f"replay: {len(delivery.undelivered)} documents undelivered "
                    f"({delivery.undelivered[0].reason[:200]})"
                )
                heal.still_quarantined += len(delivery.undelivered)
            pending = []
            refused: list[Rejection] = []
            for rejection in delivery.rejected:
                record = owners[id(rejection.document)]
                diagnosis = diagnosis_of(rejection)
                if decisions.from_refusal(diagnosis, record.timestamp):
                    self._settle(heal, decisions)
                if diagnosis.error_class in HEALABLE and round_number + 1 < _MAX_ROUNDS:
                    pending.append((record, diagnosis))
                else:
                    refused.append(replace(rejection, document=record.document()))
            if refused:
                heal.still_quarantined += len(refused)
                self._parked.park(refused, deadline)
        for record_moves in moved.values():
            decisions.count_moves(record_moves)
            heal.values_moved += sum(record_moves.values())
        heal.decisions_written = decisions.save()
        self._parked.unpark(done)

    def _transform(
        self,
        record: ParkedDocument,
        diagnosis: Diagnosis,
        decided: dict[str, str],
        mappings: MappingSource,
    ) -> TransformResult:
        """The record's source under the decisions, and the cap its refusal calls for."""
        known = (
            mappings.known(record.target_index)
            if diagnosis.error_class is ErrorClass.FIELD_LIMIT
            else None
        )
        depth = self._depth_limit if diagnosis.error_class is ErrorClass.DEPTH_LIMIT else None
        return heal_source(record.source, decided, known=known, depth_limit=depth)
