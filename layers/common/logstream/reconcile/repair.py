"""Re-shipping missing events through the live path's :class:`~logstream.shipping.service.Shipper`:
the same documents, ``_id``s (``create``; a 409 is fine) and quarantine."""

from __future__ import annotations

from typing import Any

from logstream.reconcile.ports import RepairResult
from logstream.retry import Deadline
from logstream.shipping.documents import EventOrigin
from logstream.shipping.service import DeliveryIncomplete, Shipper


class ShipperRepairer:
    """:class:`~logstream.reconcile.ports.Repairer` over the one :class:`Shipper`."""

    def __init__(self, shipper: Shipper, *, owner: str, region: str) -> None:
        self._shipper = shipper
        self._owner = owner
        self._region = region

    def reship(
        self, log_group: str, events: list[dict[str, Any]], deadline: Deadline
    ) -> RepairResult:
        origin = EventOrigin(
            log_group=log_group, log_stream="", owner=self._owner, region=self._region
        )
        try:
            report = self._shipper.ship_events(events, origin, deadline)
        except DeliveryIncomplete as error:
            shipped = error.report
            return RepairResult(
                shipped.delivered,
                shipped.duplicates,
                shipped.quarantined,
                shipped.undelivered,
                str(error),
            )
        return RepairResult(
            report.delivered, report.duplicates, report.quarantined, report.undelivered
        )
