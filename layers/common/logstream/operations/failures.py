"""Replay the decoder's on-failure queue: batches Lambda gave up on, shipped again.

When the decoder fails a batch after Lambda's retries, its on-failure
destination (the SQS queue ``DecoderFailureQueueUrl``) receives a record whose
``requestPayload`` is the original subscription event. Replaying decodes and
ships each payload through the live path (same ``_id`` per event, so events
already indexed are harmless duplicates) and deletes a message only after
its whole batch was delivered or parked. A message that fails again, or is
not such a record, stays in the queue and is reported; it is hidden from the
rest of the run (so the run ends) and made visible again when the run ends,
ready for the next replay.

With ``Transport=kinesis`` the record holds no payload but ``KinesisBatchInfo``
(stream, shard, sequence range): given a :class:`KinesisRangeReader`, the
replay reads that range back from the stream (within its retention) and ships
each record; the message is deleted once every record of it was.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

from logstream.errors import LogstreamError
from logstream.operations.kinesis_failures import (
    KinesisBatchInfo,
    KinesisRangeReader,
    kinesis_batch_info,
)
from logstream.retry import Deadline
from logstream.shipping.live import LiveShipper
from logstream.shipping.payload import subscription_data
from logstream.shipping.report import ShipReport

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

#: While a replay works on a message, other consumers do not see it (seconds).
VISIBILITY_SECONDS: Final = 300
#: No message is taken with less time left than this (seconds).
_MESSAGE_MIN_SECONDS: Final = 5


@dataclass(slots=True)
class ReplayReport:
    """What a replay did: every message received is in exactly one count."""

    messages: int = 0
    replayed: int = 0
    failed: int = 0
    unreadable: int = 0
    events: int = 0
    delivered: int = 0
    duplicates: int = 0
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def request_payload_data(body: str) -> str:
    """``awslogs.data`` of an on-failure record; TypeError/ValueError when it is not one."""
    record = _record(body)
    payload = record.get("requestPayload", record)
    return subscription_data(payload)


def _record(body: str) -> dict[str, Any]:
    record = json.loads(body)
    if not isinstance(record, dict):
        raise TypeError("not a Lambda on-failure record (a JSON object)")
    return record


def _kinesis_info(body: str) -> KinesisBatchInfo | None:
    """The Kinesis range of an on-failure record, None for any other body (or not JSON)."""
    try:
        record = _record(body)
    except (TypeError, ValueError):
        return None
    return kinesis_batch_info(record)


class FailureReplay:
    """Drains the on-failure queue through the live shipper."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        shipper: LiveShipper,
        kinesis: KinesisRangeReader | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._shipper = shipper
        self._kinesis = kinesis

    def run(self, deadline: Deadline, *, max_messages: int | None = None) -> ReplayReport:
        report = ReplayReport()
        seen: set[str] = set()
        kept: list[str] = []
        try:
            self._drain(deadline, max_messages, report, seen, kept)
        finally:
            for receipt in kept:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
                )
        return report

    def _drain(
        self,
        deadline: Deadline,
        max_messages: int | None,
        report: ReplayReport,
        seen: set[str],
        kept: list[str],
    ) -> None:
        while deadline.remaining() >= _MESSAGE_MIN_SECONDS:
            wanted = 10 if max_messages is None else min(10, max_messages - report.messages)
            if wanted <= 0:
                break
            messages = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=wanted,
                VisibilityTimeout=VISIBILITY_SECONDS,
                WaitTimeSeconds=1,
            ).get("Messages", [])
            fresh = [m for m in messages if m.get("MessageId", "") not in seen]
            if not fresh:
                break  # empty, or only messages this run already tried came back
            for message in fresh:
                seen.add(message.get("MessageId", ""))
                report.messages += 1
                if not self._replay(message, report, deadline):
                    kept.append(message["ReceiptHandle"])

    def _replay(self, message: Any, report: ReplayReport, deadline: Deadline) -> bool:
        """Ship one message's batch; True once it was delivered and the message deleted."""
        body = str(message.get("Body", ""))
        try:
            payloads = self._payloads(body, deadline)
        except (TypeError, ValueError) as error:
            report.unreadable += 1
            report.errors.append(f"message {message.get('MessageId')}: {error}")
            return False
        except LogstreamError as error:
            report.failed += 1
            report.errors.append(f"message {message.get('MessageId')}: {error}"[:500])
            return False
        shipped: list[ShipReport] = []
        try:
            for data, received_from, home_account in payloads:
                shipped.append(
                    self._shipper.ship_payload(
                        data, deadline, received_from=received_from, home_account=home_account
                    )
                )
        except LogstreamError as error:
            # Kept in the queue: it becomes visible again for the next replay.
            report.failed += 1
            report.errors.append(f"message {message.get('MessageId')}: {error}"[:500])
            return False
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        report.replayed += 1
        for one in shipped:
            report.events += one.events
            report.delivered += one.delivered
            report.duplicates += one.duplicates
            report.quarantined += one.quarantined
        return True

    def _payloads(self, body: str, deadline: Deadline) -> list[tuple[str, str, str | None]]:
        """``(data, where it came from, the stream's account)`` of each payload of the message."""
        info = _kinesis_info(body)
        if info is None:
            return [(request_payload_data(body), "", None)]
        if self._kinesis is None:
            raise ValueError("a Kinesis on-failure record, but no Kinesis client to read it")
        records = self._kinesis.payloads(info, deadline)
        if not records or (info.batch_size is not None and len(records) < info.batch_size):
            raise ValueError(
                f"{len(records)} of {info.batch_size or 'its'} records of {info.shard_id} "
                f"{info.start}..{info.end} are still in the stream (past its retention?)"
            )
        account = info.stream_arn.split(":")[4] if info.stream_arn.count(":") >= 5 else None
        return [
            (data, f"Kinesis record {sequence} of {info.stream_arn}", account)
            for sequence, data in records
        ]
