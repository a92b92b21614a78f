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
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

from logstream.errors import LogstreamError
from logstream.retry import Deadline
from logstream.shipping.live import LiveShipper
from logstream.shipping.payload import subscription_data

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
    record = json.loads(body)
    if not isinstance(record, dict):
        raise TypeError("not a Lambda on-failure record (a JSON object)")
    payload = record.get("requestPayload", record)
    return subscription_data(payload)


class FailureReplay:
    """Drains the on-failure queue through the live shipper."""

    def __init__(self, sqs: SQSClient, queue_url: str, shipper: LiveShipper) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._shipper = shipper

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
        try:
            data = request_payload_data(str(message.get("Body", "")))
        except (TypeError, ValueError) as error:
            report.unreadable += 1
            report.errors.append(f"message {message.get('MessageId')}: {error}")
            return False
        try:
            shipped = self._shipper.ship_payload(data, deadline)
        except LogstreamError as error:
            # Kept in the queue: it becomes visible again for the next replay.
            report.failed += 1
            report.errors.append(f"message {message.get('MessageId')}: {error}"[:500])
            return False
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        report.replayed += 1
        report.events += shipped.events
        report.delivered += shipped.delivered
        report.duplicates += shipped.duplicates
        report.quarantined += shipped.quarantined
        return True
