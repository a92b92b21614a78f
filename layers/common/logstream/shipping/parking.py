"""Parking: whatever the cluster refuses, or the pipeline cannot deliver as is, goes to quarantine.

Documents refused for a known reason get one fixed re-send first (the drift
rescue, :class:`Rescue`). Whatever is still refused is parked with its reason
(:mod:`logstream.shipping.quarantine` builds the records). A document whose
record could not be written stays undelivered, so the invocation fails and
Lambda retries: nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.shipping.delivery import BulkSink, DeliveryReport, Rejection, Undelivered
from logstream.shipping.documents import Document, DocumentBatch, EventOrigin
from logstream.shipping.payload import PayloadError
from logstream.shipping.quarantine import (
    bad_event_record,
    bad_payload_record,
    oversize_record,
    rejection_record,
)


class Rescue(Protocol):
    """Fixes refused documents and re-sends them (see :mod:`logstream.schema.rescue`).

    Every rejection handed in ends in exactly one bucket of the returned
    report; what it cannot fix comes back in ``rejected`` and is parked.
    """

    def __call__(self, rejected: Sequence[Rejection], deadline: Deadline) -> DeliveryReport: ...


class Parking:
    """Writes quarantine records through the same sink as everything else."""

    def __init__(self, sink: BulkSink, quarantine_index: str, rescue: Rescue | None) -> None:
        self._sink = sink
        self._index = quarantine_index
        self._rescue = rescue

    def records_for(self, built: DocumentBatch, origin: EventOrigin) -> list[Document]:
        """Quarantine records for a batch's bad events and the full text of cut messages."""
        records: list[Document] = []
        if built.bad_events:
            count(Metric.BAD_EVENTS, len(built.bad_events))
            logger.error(
                "events without id, timestamp or message parked in quarantine",
                extra={
                    "log_group": origin.log_group,
                    "count": len(built.bad_events),
                    "reasons": sorted({b.reason for b in built.bad_events}),
                },
            )
            records += [
                bad_event_record(self._index, origin.log_group, origin.log_stream, bad)
                for bad in built.bad_events
            ]
        if built.oversize:
            count(Metric.OVERSIZE_MESSAGES, len(built.oversize))
            logger.error(
                "messages over CloudWatch's 1 MB event limit were cut; full text parked",
                extra={"log_group": origin.log_group, "count": len(built.oversize)},
            )
            records += [oversize_record(self._index, o) for o in built.oversize]
        return records

    def settle_rejections(self, delivery: DeliveryReport, deadline: Deadline) -> None:
        """Rescue, then park, every refused document of ``delivery`` (in place)."""
        refused_records = [r for r in delivery.rejected if r.document.index == self._index]
        refused = [r for r in delivery.rejected if r.document.index != self._index]
        # A quarantine record is never parked again: it stays undelivered and fails the call.
        delivery.undelivered += [
            Undelivered(r.document, f"quarantine refused the record: {r.reason}")
            for r in refused_records
        ]
        delivery.rejected = []
        if refused and self._rescue is not None:
            rescued = self._rescue(refused, deadline)
            refused = rescued.rejected
            rescued.rejected = []
            delivery.merge(rescued)
        if refused:
            self._park(refused, delivery, deadline)

    def _park(self, refused: list[Rejection], delivery: DeliveryReport, deadline: Deadline) -> None:
        logger.warning(
            "documents refused by the cluster, parking in quarantine",
            extra={
                "count": len(refused),
                "error_types": sorted({r.error_type for r in refused}),
                "sample_reason": refused[0].reason[:500],
            },
        )
        records = [rejection_record(self._index, r) for r in refused]
        parking = self._sink.deliver(records, deadline)
        parked = {id(d) for d in parking.delivered + parking.duplicates}
        for rejection, record_doc in zip(refused, records, strict=True):
            if id(record_doc) in parked:
                delivery.rejected.append(rejection)
            else:
                delivery.undelivered.append(
                    Undelivered(rejection.document, "refused, and parking in quarantine failed")
                )
        delivery.requests += parking.requests
        delivery.bytes_sent += parking.bytes_sent
        delivery.retried += parking.retried

    def park_payload(
        self, raw_data: str, error: PayloadError, deadline: Deadline
    ) -> DeliveryReport:
        """Park a whole payload that could not be decoded, kept byte for byte."""
        count(Metric.BAD_PAYLOADS)
        logger.error(
            "subscription payload could not be decoded; parked in quarantine",
            extra={
                "error_kind": error.kind.value,
                "detail": error.detail[:300],
                "bytes": len(raw_data),
            },
        )
        return self._sink.deliver([bad_payload_record(self._index, raw_data, error)], deadline)
