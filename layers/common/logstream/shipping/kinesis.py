"""The Kinesis transport: one event-source-mapping batch, shipped record by record.

With ``Transport=kinesis`` CloudWatch Logs writes each subscription delivery
as one Kinesis record (gzip JSON, the same payload a direct subscription puts
in ``awslogs.data``), and Lambda's event source mapping hands the decoder up
to ``BatchSize`` of them at once. Each record goes through the live path on
its own (Powertools ``BatchProcessor``), so its exactly-once machinery
(``_id`` = event id, checkpoints keyed by the payload) applies per record.

What "failed" means for a record
--------------------------------
- Undeliverable (the cluster refused it past every retry, a quarantine record
  could not be written: :class:`~logstream.errors.InfrastructureError`): the
  record fails and its sequence number goes into ``batchItemFailures``. Lambda
  checkpoints everything before it and sends it again, bounded by
  ``MaximumRetryAttempts``, then hands the range to the on-failure queue.
- Corrupt (bad base64 / gzip / JSON, not a CloudWatch Logs payload): retrying
  cannot fix it, and failing it would hold up the shard until the retries run
  out, then leave only a pointer in the on-failure queue (Kinesis on-failure
  records carry sequence numbers, not data, and the stream forgets the data
  after its retention). So it is parked whole in quarantine with its reason and
  sequence number, counted (``BadPayloads``) and acknowledged. Only a failure
  to park it fails the record.
- Control messages and the shipper's own groups: acknowledged, as on the
  direct path.

Groups of other accounts (the record's ``owner`` is not the stream's account)
are shipped, but no backfill is planned for them: backfill and
reconciliation read CloudWatch Logs in this account only.

A stuck record must not starve the rest of the batch: each record may use at
most an equal share of the time still left (:class:`TimeShares`), so records
that finish early hand their time on to the next ones.

Kinesis is ordered: Lambda resumes a shard at the lowest failed sequence
number, so records after a failed one in the same batch are sent again. They
land as ``create`` 409s (duplicates, harmless); records before it are not.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)

from logstream.errors import InfrastructureError
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.shipping.live import LiveShipper
from logstream.shipping.report import ShipReport

KINESIS_EVENT_SOURCE = "aws:kinesis"


def is_kinesis_batch(event: Any) -> bool:
    """Whether ``event`` is an event-source-mapping batch of Kinesis records."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(
            isinstance(record, dict) and record.get("eventSource") == KINESIS_EVENT_SOURCE
            for record in records
        )
    )


class KinesisBatchFailed(InfrastructureError):
    """Every record of the batch failed: the invocation fails so Lambda retries (and bisects)."""


class TimeShares:
    """Per record, a deadline at an equal share of the time still left.

    Taken in order: record ``i`` of ``n`` may use ``remaining / (n - i)``
    seconds, measured when it starts, and never past the invocation's deadline.
    """

    def __init__(self, deadline: Deadline, records: int) -> None:
        self._deadline = deadline
        self._left = max(1, records)

    def next(self) -> Deadline:
        """The next record's deadline: it ends when the outer one has ``share`` less left."""
        outer = self._deadline
        left_now = outer.remaining()
        share = left_now / self._left
        self._left = max(1, self._left - 1)
        floor = left_now - share
        return Deadline(lambda: int(max(0.0, outer.remaining() - floor) * 1000))


class KinesisBatchShipper:
    """Ships one Kinesis batch through the live path; answers Lambda's partial batch response."""

    def __init__(self, live: LiveShipper) -> None:
        self._live = live

    def ship_batch(self, event: dict[str, Any], deadline: Deadline) -> PartialItemFailureResponse:
        """``{"batchItemFailures": [{"itemIdentifier": <sequence number>}, ...]}``.

        Raises :class:`KinesisBatchFailed` when every record failed.
        """
        shares = TimeShares(deadline, len(event["Records"]))

        def ship_record(record: KinesisStreamRecord) -> ShipReport:
            return self._ship_record(record, shares.next())

        processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
        try:
            response = process_partial_response(
                event=event, record_handler=ship_record, processor=processor
            )
        except BatchProcessingError as error:
            count(Metric.KINESIS_RECORDS_FAILED, len(event["Records"]))
            raise KinesisBatchFailed(
                f"all {len(event['Records'])} Kinesis records failed: {_reasons(processor)}"
            ) from error
        failures = response["batchItemFailures"]
        if failures:
            count(Metric.KINESIS_RECORDS_FAILED, len(failures))
            logger.error(
                "Kinesis records failed; Lambda sends them again from the first failed one",
                extra={
                    "failed": [failure["itemIdentifier"] for failure in failures],
                    "records": len(event["Records"]),
                    "reasons": _reasons(processor),
                },
            )
        return response

    def _ship_record(self, record: KinesisStreamRecord, deadline: Deadline) -> ShipReport:
        payload = record.kinesis
        stream_arn = record.event_source_arn
        return self._live.ship_payload(
            payload.data,
            deadline,
            received_from=f"Kinesis record {payload.sequence_number} of {stream_arn}",
            home_account=_account_of(stream_arn),
        )


def _account_of(arn: str) -> str | None:
    """The account of an ARN (the stream's: this deployment's account), None if unreadable."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _reasons(processor: BatchProcessor) -> list[str]:
    """The distinct failure messages, a few, for one log line."""
    messages = {f"{info[0].__name__}: {info[1]}"[:300] for info in processor.exceptions if info[0]}
    return sorted(messages)[:5]
