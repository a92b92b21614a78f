"""Failure replay on fakes: a message is deleted only after its batch shipped; the rest stays
and is made visible again when the run ends."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from logstream.errors import InfrastructureError
from logstream.operations.failures import FailureReplay, request_payload_data
from logstream.retry import Deadline
from logstream.shipping.live import LiveShipper
from logstream.shipping.report import ShipReport


def record(data: str) -> str:
    return json.dumps({"requestPayload": {"awslogs": {"data": data}}, "version": "1.0"})


def test_request_payload_data_reads_an_on_failure_record_and_a_bare_event() -> None:
    assert request_payload_data(record("H4sI")) == "H4sI"
    assert request_payload_data(json.dumps({"awslogs": {"data": "abc"}})) == "abc"
    for body in ("[]", '{"requestPayload": {}}', "not json"):
        with pytest.raises((TypeError, ValueError)):
            request_payload_data(body)


class FakeSqs:
    def __init__(self, bodies: list[str]) -> None:
        self.messages = {
            f"m{i}": {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": b}
            for i, b in enumerate(bodies)
        }
        self.visible = set(self.messages)
        self.deleted: list[str] = []
        self.made_visible: list[str] = []

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        taken = sorted(self.visible)[: kwargs["MaxNumberOfMessages"]]
        self.visible -= set(taken)
        return {"Messages": [self.messages[m] for m in taken]}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        self.deleted.append(ReceiptHandle)

    def change_message_visibility(self, **kwargs: Any) -> None:
        self.made_visible.append(kwargs["ReceiptHandle"])


class FakeShipper:
    def ship_payload(
        self,
        data: str,
        deadline: Deadline,
        *,
        received_from: str = "",
        home_account: str | None = None,
    ) -> ShipReport:
        if data == "fails":
            raise InfrastructureError("cluster down")
        return ShipReport(events=2, delivered=2)


def test_only_shipped_messages_are_deleted() -> None:
    sqs = FakeSqs([record("ok"), record("fails"), "{}", record("ok2")])
    replay = FailureReplay(cast(Any, sqs), "url", cast(LiveShipper, FakeShipper()))
    report = replay.run(Deadline.after_seconds(60))
    assert (report.messages, report.replayed, report.failed, report.unreadable) == (4, 2, 1, 1)
    assert report.events == 4
    assert sorted(sqs.deleted) == ["r0", "r3"]
    assert sorted(sqs.made_visible) == ["r1", "r2"]


def test_max_messages_bounds_a_run() -> None:
    sqs = FakeSqs([record(f"ok{i}") for i in range(25)])
    replay = FailureReplay(cast(Any, sqs), "url", cast(LiveShipper, FakeShipper()))
    assert replay.run(Deadline.after_seconds(60), max_messages=12).replayed == 12
    assert len(sqs.deleted) == 12
