"""The live path: one subscription payload from CloudWatch Logs, decoded and shipped.

Around :class:`~logstream.shipping.service.Shipper` it adds what only live
delivery has: Lambda events that are no subscription delivery and
undecodable payloads parked whole (retrying could never fix them; only a
failure to park them fails the invocation), control messages, the
feedback-loop guard, acknowledged watermarks per stream, and the hook that
plans a backfill the first time a group is seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logstream.fleet.selection import GroupSelection
from logstream.observability import Metric, count, logger
from logstream.own_groups import OwnGroups
from logstream.retry import Deadline
from logstream.shipping.checkpoints import CheckpointStore, LiveCheckpoints
from logstream.shipping.documents import EventOrigin
from logstream.shipping.payload import (
    LogBatch,
    PayloadError,
    decode_payload,
    subscription_data,
)
from logstream.shipping.quarantine import json_text
from logstream.shipping.report import DeliveryIncomplete, ShipReport
from logstream.shipping.service import Shipper

#: Called after a live batch was delivered (auto-backfill planning).
LiveBatchHook = Callable[[LogBatch, Deadline], object]


class LiveShipper:
    """Ships ``awslogs.data`` payloads; see the module docstring."""

    def __init__(
        self,
        shipper: Shipper,
        *,
        checkpoints: CheckpointStore | None,
        on_live_batch: LiveBatchHook | None = None,
        own_log_groups: OwnGroups | None = None,
        selection: GroupSelection | None = None,
    ) -> None:
        self._shipper = shipper
        self._checkpoints = checkpoints
        self._on_live_batch = on_live_batch
        # The shipper's own log groups: shipping them would feed every
        # invocation's log lines back into the next invocation, forever.
        self._own_log_groups = own_log_groups or OwnGroups()
        self._warned_feedback = False
        # Account mode subscribes every group; the selection says which are shipped.
        self._selection = selection
        self._foreign_groups: set[str] = set()

    def ship_event(self, event: Any, deadline: Deadline) -> ShipReport:
        """One Lambda event from a subscription filter; any other event is parked whole."""
        try:
            raw_data = subscription_data(event)
        except PayloadError as error:
            self._shipper.ensure_prepared(deadline)
            return self._park_bad_payload(json_text(event), error, deadline)
        return self.ship_payload(raw_data, deadline)

    def ship_payload(
        self,
        raw_data: str,
        deadline: Deadline,
        *,
        received_from: str = "",
        home_account: str | None = None,
    ) -> ShipReport:
        """One ``awslogs.data`` string from a subscription filter (or one Kinesis record's data).

        ``received_from`` names where the payload came from (a Kinesis record),
        for the quarantine record of a payload that cannot be decoded.
        ``home_account``, when known, is the account this deployment reads
        CloudWatch in: a group of any other account is shipped, but no backfill
        is planned for it (its history cannot be read from here).
        """
        self._shipper.ensure_prepared(deadline)
        try:
            batch = decode_payload(raw_data)
        except PayloadError as error:
            if received_from:
                error = PayloadError(error.kind, f"{error.detail} ({received_from})")
            return self._park_bad_payload(raw_data, error, deadline)
        if batch.log_group in self._own_log_groups:
            return self._refuse_feedback_loop(batch)
        if self._selection is not None and (
            refusal := self._selection.refuses_delivery(batch.log_group)
        ):
            return self._refuse_unselected(batch, refusal)
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
        origin = EventOrigin(
            log_group=batch.log_group,
            log_stream=batch.log_stream,
            owner=batch.owner,
            region=self._shipper.region,
            encoding_repaired=batch.repaired_utf8,
        )
        report = self._shipper.ship_events(
            batch.events,
            origin,
            deadline,
            checkpoints=(
                LiveCheckpoints.for_payload(self._checkpoints, raw_data)
                if self._checkpoints is not None
                else None
            ),
        )
        if self._on_live_batch is not None:
            if home_account is None or batch.owner == home_account:
                self._after_live_batch(self._on_live_batch, batch, deadline)
            else:
                self._note_foreign_group(batch)
        return report

    def _note_foreign_group(self, batch: LogBatch) -> None:
        """Logged once per group and container: another account's group gets no backfill."""
        key = f"{batch.owner}:{batch.log_group}"
        if key in self._foreign_groups:
            return
        self._foreign_groups.add(key)
        logger.info(
            "a group of another account: shipped, but no backfill planned "
            "(backfill and reconciliation read this account's CloudWatch Logs)",
            extra={"log_group": batch.log_group, "owner": batch.owner},
        )

    def _park_bad_payload(
        self, raw_data: str, error: PayloadError, deadline: Deadline
    ) -> ShipReport:
        delivery = self._shipper.parking.park_payload(raw_data, error, deadline)
        if delivery.undelivered or delivery.rejected:
            # Failing the invocation hands the payload to the on-failure queue instead.
            raise DeliveryIncomplete(ShipReport(events=0, undelivered=1), delivery.undelivered)
        return ShipReport(requests=delivery.requests, bytes_sent=delivery.bytes_sent)

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

    @staticmethod
    def _refuse_unselected(batch: LogBatch, refusal: str) -> ShipReport:
        """A batch of a group outside the selection: counted and logged, not an error."""
        count(Metric.EVENTS_NOT_SELECTED, len(batch.events))
        logger.info(
            "batch of a group outside the selection skipped",
            extra={"log_group": batch.log_group, "reason": refusal, "events": len(batch.events)},
        )
        return ShipReport()

    @staticmethod
    def _after_live_batch(hook: LiveBatchHook, batch: LogBatch, deadline: Deadline) -> None:
        """Run the live-batch hook (auto-backfill of new groups) after delivery.

        The batch is already delivered, so a hook failure must not fail the
        invocation (a retry would only replay delivered events). The hook
        itself makes sure the work is tried again on a later delivery.
        """
        try:
            hook(batch, deadline)
        except Exception:  # noqa: BLE001 - logged with its traceback and counted
            count(Metric.AUTO_BACKFILL_FAILURES)
            logger.exception(
                "auto-backfill planning failed; it is retried on the next delivery",
                extra={"log_group": batch.log_group},
            )
