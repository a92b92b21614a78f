"""The shipping service: events in, documents delivered or parked, watermarks advanced.

Live delivery, backfill, reconciliation and schema healing all ship through
:class:`Shipper`, so they share one set of guarantees:

- every event becomes exactly one document with ``_id`` = event id, written
  with ``create`` (a replay is a harmless 409);
- a document the cluster refuses is parked in quarantine with its reason and
  never counted as delivered;
- watermarks advance only over acknowledged documents;
- anything still undelivered raises :class:`DeliveryIncomplete` after the rest
  is settled, so the invocation fails and Lambda's retry keeps the data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from logstream.naming import is_sanitized
from logstream.observability import Metric, count, logger, record
from logstream.retry import Deadline
from logstream.shipping.bulk import BulkSink, DeliveryReport, Rejection, Undelivered
from logstream.shipping.checkpoints import CheckpointStore, acknowledged_watermarks
from logstream.shipping.documents import Document, EventOrigin, build_documents
from logstream.shipping.payload import LogBatch, PayloadError, decode_payload
from logstream.shipping.quarantine import (
    bad_event_record,
    bad_payload_record,
    oversize_record,
    rejection_record,
)


@dataclass(slots=True)
class ShipReport:
    """What one shipping call did, in numbers an operator can add up.

    ``events == delivered + duplicates + quarantined + undelivered`` always holds.
    """

    events: int = 0
    delivered: int = 0
    duplicates: int = 0
    quarantined: int = 0
    undelivered: int = 0
    #: quarantine records (bad events, oversize originals) that could not be written
    parking_failures: int = 0
    retried: int = 0
    bad_events: int = 0
    oversize_messages: int = 0
    empty_messages: int = 0
    requests: int = 0
    splits: int = 0
    bytes_sent: int = 0
    checkpoints_advanced: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DeliveryIncomplete(RuntimeError):
    """Some documents could not be delivered or parked before the deadline."""

    def __init__(self, report: ShipReport, sample: list[Undelivered]) -> None:
        self.report = report
        reasons = sorted({u.reason for u in sample})[:3]
        super().__init__(
            f"{report.undelivered} of {report.events} documents undelivered, "
            f"{report.parking_failures} quarantine records unwritten "
            f"({'; '.join(reasons)}); failing so the events are retried"
        )


class Rescue(Protocol):
    """Fixes refused documents and re-sends them (see :class:`logstream.healing.DriftRescue`).

    Every rejection handed in ends in exactly one bucket of the returned
    report; what it cannot fix comes back in ``rejected`` and is parked.
    """

    def __call__(self, rejected: Sequence[Rejection], deadline: Deadline) -> DeliveryReport: ...


class Shipper:
    """Ships events through one bulk sink, parking what the cluster refuses."""

    def __init__(
        self,
        sink: BulkSink,
        *,
        index_prefix: str,
        quarantine_index: str,
        region: str,
        checkpoints: CheckpointStore | None,
        prepare: Callable[[], object] | None = None,
        on_live_batch: Callable[[LogBatch, Deadline], object] | None = None,
        rescue: Rescue | None = None,
        own_log_groups: frozenset[str] = frozenset(),
    ) -> None:
        self._sink = sink
        self._index_prefix = index_prefix
        self._quarantine_index = quarantine_index
        self._region = region
        self._checkpoints = checkpoints
        self._prepare = prepare
        self._on_live_batch = on_live_batch
        self._rescue = rescue
        # The shipper's own log groups: shipping them would feed every
        # invocation's log lines back into the next invocation, forever.
        self._own_log_groups = own_log_groups
        self._warned_feedback = False

    def _ensure_prepared(self) -> None:
        # Index templates must exist before the first document creates an index.
        if self._prepare is not None:
            self._prepare()
            self._prepare = None

    def ship_payload(self, raw_data: str, deadline: Deadline) -> ShipReport:
        """The live path: one ``awslogs.data`` string from a subscription filter."""
        self._ensure_prepared()
        try:
            batch = decode_payload(raw_data)
        except PayloadError as error:
            return self._park_bad_payload(raw_data, error, deadline)
        if batch.log_group in self._own_log_groups:
            return self._refuse_feedback_loop(batch)
        if batch.is_control:
            count(Metric.CONTROL_MESSAGES)
            logger.info("control message acknowledged", extra={"log_group": batch.log_group})
            return ShipReport()
        if batch.repaired_utf8:
            count(Metric.INVALID_UTF8)
            logger.error(
                "payload held invalid UTF-8; bad bytes replaced with U+FFFD",
                extra={"log_group": batch.log_group, "log_stream": batch.log_stream},
            )
        report = self.ship_batch(batch, deadline)
        if self._on_live_batch is not None:
            self._after_live_batch(batch, deadline)
        return report

    def _refuse_feedback_loop(self, batch: LogBatch) -> ShipReport:
        count(Metric.FEEDBACK_LOOP_BATCHES)
        if not self._warned_feedback:
            # Logged once per container: each log line here would trigger another batch.
            self._warned_feedback = True
            logger.error(
                "the shipper's own log group is subscribed; its batches are skipped. "
                "Remove the subscription filter to stop the loop.",
                extra={"log_group": batch.log_group},
            )
        return ShipReport()

    def _after_live_batch(self, batch: LogBatch, deadline: Deadline) -> None:
        """Run the live-batch hook (auto-backfill of new groups) after delivery.

        The batch is already delivered, so a hook failure must not fail the
        invocation (a retry would only replay delivered events). The hook
        itself makes sure the work is tried again on a later delivery.
        """
        assert self._on_live_batch is not None
        try:
            self._on_live_batch(batch, deadline)
        except Exception:  # noqa: BLE001 - logged with its traceback and counted
            count(Metric.AUTO_BACKFILL_FAILURES)
            logger.exception(
                "auto-backfill planning failed; it is retried on the next delivery",
                extra={"log_group": batch.log_group},
            )

    def ship_batch(self, batch: LogBatch, deadline: Deadline) -> ShipReport:
        origin = EventOrigin(
            log_group=batch.log_group,
            log_stream=batch.log_stream,
            owner=batch.owner,
            region=self._region,
            encoding_repaired=batch.repaired_utf8,
        )
        return self.ship_events(batch.events, origin, deadline)

    def ship_events(
        self,
        events: Iterable[Any],
        origin: EventOrigin,
        deadline: Deadline,
    ) -> ShipReport:
        """Ship CloudWatch events; malformed ones are parked, never lost or fatal."""
        self._ensure_prepared()
        started = time.perf_counter()
        built = build_documents(events, origin, self._index_prefix)
        if is_sanitized(origin.log_group):
            count(Metric.SANITIZED_GROUP_NAMES)
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
                bad_event_record(self._quarantine_index, origin.log_group, origin.log_stream, bad)
                for bad in built.bad_events
            ]
        if built.oversize:
            count(Metric.OVERSIZE_MESSAGES, len(built.oversize))
            logger.error(
                "messages over 256 KiB were cut; full text parked in quarantine",
                extra={"log_group": origin.log_group, "count": len(built.oversize)},
            )
            records += [oversize_record(self._quarantine_index, o) for o in built.oversize]
        if built.empty_messages:
            count(Metric.EMPTY_MESSAGES, built.empty_messages)

        delivery = self._sink.deliver(built.documents + records, deadline)
        self._rescue_rejections(delivery, deadline)
        self._park_rejections(delivery, deadline)

        report = self._settle(delivery, records, built.documents)
        report.bad_events = len(built.bad_events)
        report.empty_messages = built.empty_messages
        report.oversize_messages = len(built.oversize)
        report.seconds = time.perf_counter() - started
        self._emit(report)
        if delivery.undelivered:
            raise DeliveryIncomplete(report, delivery.undelivered[:20])
        return report

    def _rescue_rejections(self, delivery: DeliveryReport, deadline: Deadline) -> None:
        """Give refused documents one fixed re-send (decided drift, caps) before parking."""
        candidates = [r for r in delivery.rejected if r.document.index != self._quarantine_index]
        if self._rescue is None or not candidates:
            return
        delivery.rejected = [
            r for r in delivery.rejected if r.document.index == self._quarantine_index
        ]
        delivery.merge(self._rescue(candidates, deadline))

    def _park_rejections(self, delivery: DeliveryReport, deadline: Deadline) -> None:
        """Send refused documents to quarantine; a failure to park leaves them undelivered."""
        refused_records = [
            r for r in delivery.rejected if r.document.index == self._quarantine_index
        ]
        to_park = [r for r in delivery.rejected if r.document.index != self._quarantine_index]
        # A quarantine record is never parked again: it stays undelivered and fails the call.
        delivery.undelivered += [
            Undelivered(r.document, f"quarantine refused the record: {r.reason}")
            for r in refused_records
        ]
        delivery.rejected = []
        if not to_park:
            return
        logger.warning(
            "documents refused by the cluster, parking in quarantine",
            extra={
                "count": len(to_park),
                "error_types": sorted({r.error_type for r in to_park}),
                "sample_reason": to_park[0].reason[:500],
            },
        )
        parked_records = [rejection_record(self._quarantine_index, r) for r in to_park]
        parking = self._sink.deliver(parked_records, deadline)
        parked = {id(d) for d in parking.delivered + parking.duplicates}
        for rejection, record_doc in zip(to_park, parked_records, strict=True):
            if id(record_doc) in parked:
                delivery.rejected.append(rejection)
            else:
                delivery.undelivered.append(
                    Undelivered(rejection.document, "refused, and parking in quarantine failed")
                )
        delivery.requests += parking.requests
        delivery.bytes_sent += parking.bytes_sent
        delivery.retried += parking.retried

    def _settle(
        self, delivery: DeliveryReport, records: list[Document], documents: list[Document]
    ) -> ShipReport:
        # Quarantine records written alongside are bookkeeping, not events: they
        # are left out of the counts, but one that failed still fails the call.
        record_ids = {id(r) for r in records}

        def events_only(docs: Iterable[Document]) -> list[Document]:
            return [d for d in docs if id(d) not in record_ids]

        undelivered_events = events_only(u.document for u in delivery.undelivered)
        report = ShipReport(
            events=len(documents),
            delivered=len(events_only(delivery.delivered)),
            duplicates=len(events_only(delivery.duplicates)),
            quarantined=len(delivery.rejected),
            undelivered=len(undelivered_events),
            parking_failures=len(delivery.undelivered) - len(undelivered_events),
            retried=delivery.retried,
            requests=delivery.requests,
            splits=delivery.splits,
            bytes_sent=delivery.bytes_sent,
        )
        if self._checkpoints is not None:
            marks = acknowledged_watermarks(events_only(delivery.acknowledged), undelivered_events)
            report.checkpoints_advanced = self._checkpoints.advance(marks) if marks else 0
        return report

    def _park_bad_payload(
        self, raw_data: str, error: PayloadError, deadline: Deadline
    ) -> ShipReport:
        count(Metric.BAD_PAYLOADS)
        logger.error(
            "subscription payload could not be decoded; parked in quarantine",
            extra={
                "error_kind": error.kind.value,
                "detail": error.detail[:300],
                "bytes": len(raw_data),
            },
        )
        delivery = self._sink.deliver(
            [bad_payload_record(self._quarantine_index, raw_data, error)], deadline
        )
        if delivery.undelivered or delivery.rejected:
            # Failing the invocation hands the payload to the on-failure queue instead.
            raise DeliveryIncomplete(ShipReport(events=0, undelivered=1), delivery.undelivered)
        return ShipReport(requests=delivery.requests, bytes_sent=delivery.bytes_sent)

    @staticmethod
    def _emit(report: ShipReport) -> None:
        count(Metric.EVENTS_RECEIVED, report.events)
        count(Metric.DOCUMENTS_DELIVERED, report.delivered)
        count(Metric.DOCUMENTS_DUPLICATE, report.duplicates)
        count(Metric.DOCUMENTS_QUARANTINED, report.quarantined)
        count(Metric.DOCUMENTS_RETRIED, report.retried)
        count(Metric.DOCUMENTS_UNDELIVERED, report.undelivered)
        count(Metric.BULK_REQUESTS, report.requests)
        count(Metric.BULK_SPLITS, report.splits)
        record(Metric.BYTES_SENT, MetricUnit.Bytes, report.bytes_sent)
        record(Metric.BATCH_LATENCY, MetricUnit.Milliseconds, round(report.seconds * 1000, 3))
        logger.info("batch shipped", extra=report.as_dict())
