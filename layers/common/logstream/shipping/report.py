"""What one shipping call did: the report, the failure it raises, and the metrics it emits."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from logstream.errors import InfrastructureError
from logstream.observability import Metric, count, logger, record
from logstream.shipping.delivery import Undelivered


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


class DeliveryIncomplete(InfrastructureError):
    """Some documents could not be delivered or parked before the deadline."""

    def __init__(self, report: ShipReport, sample: list[Undelivered]) -> None:
        self.report = report
        reasons = sorted({u.reason for u in sample})[:3]
        super().__init__(
            f"{report.undelivered} of {report.events} documents undelivered, "
            f"{report.parking_failures} quarantine records unwritten "
            f"({'; '.join(reasons)}); failing so the events are retried"
        )


def emit(report: ShipReport) -> None:
    """The shipping metrics and one summary log line."""
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
