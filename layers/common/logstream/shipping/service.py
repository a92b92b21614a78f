"""The shipping service: events in, documents delivered or parked.

Live delivery, backfill, reconciliation and schema healing all ship through
:class:`Shipper`, so they share one set of guarantees:

- every event becomes exactly one document with ``_id`` = ``document_id(event
  id)``, written with ``create`` (a replay is a harmless 409);
- a document the cluster refuses is parked in quarantine with its reason and
  never counted as delivered (:mod:`logstream.shipping.parking`);
- acknowledged watermarks (live path only) advance only over acknowledged
  documents;
- anything still undelivered raises :class:`DeliveryIncomplete` after the rest
  is settled, so the invocation fails and Lambda's retry keeps the data.

Events are built into documents a part at a time, and each part is on its
way to the cluster while the next is built. The sink sizes the parts
(:meth:`~logstream.shipping.bulk.ClusterBulkSink.stream_part_size`: equal
shares for its workers); events that come without a length go
:data:`PART_EVENTS` at a time. Nothing is settled (parking, metrics,
watermarks) before every part's answer.

A delivery's events and documents are freed during the next delivery, once
its last part is queued and this thread only waits for answers. Freed on
return, a 10,000-event delivery took about 5 ms of CPU after its last
acknowledgement: billed time in which the cluster had nothing left to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any, Final

from logstream.naming import IndexLayout, is_sanitized
from logstream.observability import Metric, count
from logstream.retry import Deadline
from logstream.shipping.checkpoints import LiveCheckpoints
from logstream.shipping.delivery import DeliveryReport, StreamingSink
from logstream.shipping.documents import Document, DocumentBatch, EventOrigin, build_in_parts
from logstream.shipping.parking import Parking
from logstream.shipping.report import DeliveryIncomplete, ShipReport, emit

__all__ = ["PART_EVENTS", "DeliveryIncomplete", "ShipReport", "Shipper"]

#: Events built before their documents go to the sink when their number is not
#: known beforehand: few, so the first request leaves early.
PART_EVENTS: Final = 1000


class Shipper:
    """Ships events through one bulk sink, parking what the cluster refuses."""

    def __init__(
        self,
        sink: StreamingSink,
        parking: Parking,
        *,
        index_prefix: str,
        region: str,
        layout: IndexLayout = IndexLayout.GROUP_DAILY,
        prepare: Callable[[Deadline], object] | None = None,
        part_size: int | None = None,
    ) -> None:
        """``part_size``: events per part; None lets the sink size them by the payload."""
        self._sink = sink
        self._part_size = part_size
        self._parking = parking
        self._index_prefix = index_prefix
        self._layout = layout
        self._region = region
        self._prepare = prepare
        # The last delivery's batch, records and event list, freed by the next one (see above).
        self._leftovers: tuple[object, ...] = ()

    @property
    def parking(self) -> Parking:
        return self._parking

    @property
    def region(self) -> str:
        return self._region

    def ensure_prepared(self, deadline: Deadline) -> None:
        """Install what must exist before the first document creates an index (templates).

        Runs inside the first invocation's budget, so it gets the deadline.
        """
        if self._prepare is not None:
            self._prepare(deadline)
            self._prepare = None

    def ship_events(
        self,
        events: Iterable[Any],
        origin: EventOrigin,
        deadline: Deadline,
        *,
        checkpoints: LiveCheckpoints | None = None,
    ) -> ShipReport:
        """Ship CloudWatch events; malformed ones are parked, never lost or fatal.

        ``checkpoints``, given by the live path only, receives each stream's
        acknowledged watermark after the cluster answered.
        """
        self.ensure_prepared(deadline)
        started = time.perf_counter()
        built = DocumentBatch()
        records: list[Document] = []
        delivery = self._sink.deliver_stream(self._parts(events, origin, built, records), deadline)
        if is_sanitized(origin.log_group):
            count(Metric.SANITIZED_GROUP_NAMES)
        if built.empty_messages:
            count(Metric.EMPTY_MESSAGES, built.empty_messages)
        self._parking.settle_rejections(delivery, deadline)

        report, acknowledged, undelivered = _settle(delivery, records, built.documents)
        report.bad_events = len(built.bad_events)
        report.empty_messages = built.empty_messages
        report.oversize_messages = len(built.oversize)
        report.seconds = time.perf_counter() - started
        # Metrics first: a checkpoint write that fails below must not hide what was shipped.
        emit(report)
        if checkpoints is not None:
            report.checkpoints_advanced = checkpoints.settle(acknowledged, undelivered, deadline)
        self._leftovers = (built, records, events if isinstance(events, list) else None)
        if delivery.undelivered:
            raise DeliveryIncomplete(report, delivery.undelivered[:20])
        return report

    def _parts(
        self,
        events: Iterable[Any],
        origin: EventOrigin,
        built: DocumentBatch,
        records: list[Document],
    ) -> Iterator[list[Document]]:
        """The documents a part at a time, gathered into ``built``; then the quarantine
        records of the batch's bad and cut events, also kept in ``records``."""
        part_size = self._part_size
        if part_size is None:
            part_size = PART_EVENTS
            if isinstance(events, Sized):
                part_size = self._sink.stream_part_size(len(events))
        yield from build_in_parts(
            events, origin, self._index_prefix, self._layout, part_size=part_size, into=built
        )
        records += self._parking.records_for(built, origin)
        if records:
            yield records
        # Every part is queued: the sink only waits for answers now, so this costs no time.
        self._leftovers = ()

    def redeliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        """Send documents built before (parked ones) again, with the same rescue and parking.

        Every document ends in one bucket of the report: acknowledged
        (``delivered`` or ``duplicates``), ``rejected`` (refused again and
        parked again with the new reason) or ``undelivered``.
        """
        self.ensure_prepared(deadline)
        delivery = self._sink.deliver(documents, deadline)
        self._parking.settle_rejections(delivery, deadline)
        return delivery


def _settle(
    delivery: DeliveryReport, records: list[Document], documents: list[Document]
) -> tuple[ShipReport, list[Document], list[Document]]:
    """The report, and the acknowledged and undelivered events (records left out).

    Quarantine records written alongside are bookkeeping, not events: they are
    left out of the counts, but one that failed still fails the call.
    """
    record_ids = {id(r) for r in records}

    def events_only(docs: Iterable[Document]) -> list[Document]:
        if not record_ids:  # the usual batch: nothing to leave out
            return list(docs)
        return [d for d in docs if id(d) not in record_ids]

    undelivered = events_only(u.document for u in delivery.undelivered)
    report = ShipReport(
        events=len(documents),
        delivered=len(events_only(delivery.delivered)),
        duplicates=len(events_only(delivery.duplicates)),
        quarantined=len(delivery.rejected),
        undelivered=len(undelivered),
        parking_failures=len(delivery.undelivered) - len(undelivered),
        retried=delivery.retried,
        requests=delivery.requests,
        splits=delivery.splits,
        bytes_sent=delivery.bytes_sent,
    )
    return report, events_only(delivery.acknowledged), undelivered
