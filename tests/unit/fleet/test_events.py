"""The subscriber's events, and CloudFormation always getting an answer (a real HTTP PUT)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from logstream.errors import InfrastructureError
from logstream.fleet.events import handle_event
from logstream.fleet.removal import RemovalReport
from logstream.fleet.service import FleetService
from logstream.fleet.subscriber import Outcome
from logstream.fleet.sweep import SweepReport
from logstream.retry import Deadline
from logstream.settings import SettingsError

EVENTS = Path(__file__).resolve().parents[3] / "events"
DEADLINE = Deadline(lambda: 60_000)


class ResponseSink:
    """A local stand-in for the presigned S3 URL: records each PUT body and its headers."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.content_types: list[str | None] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                sink.bodies.append(json.loads(self.rfile.read(length)))
                sink.content_types.append(self.headers.get("Content-Type"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cfn-response?sig=x"


@pytest.fixture
def sink() -> Iterator[ResponseSink]:
    sink = ResponseSink()
    thread = threading.Thread(target=sink.server.serve_forever, daemon=True)
    thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


class Service:
    """Records what the events asked for; raises ``error`` from each operation if set."""

    def __init__(self, error: Exception | None = None, *, removal_complete: bool = True) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.error = error
        self.removal_complete = removal_complete

    def subscribe_new(self, log_group: str, deadline: Deadline) -> Outcome:
        self.calls.append(("subscribe", log_group))
        return Outcome.SUBSCRIBED

    def sweep(self, deadline: Deadline) -> SweepReport:
        self.calls.append(("sweep", None))
        if self.error:
            raise self.error
        return SweepReport(groups=3, complete=True, runs=1)

    def remove_all(self, deadline: Deadline) -> RemovalReport:
        self.calls.append(("remove", None))
        if self.error:
            raise self.error
        return RemovalReport(removed=2, complete=self.removal_complete)

    def factory(self) -> FleetService:
        return self  # type: ignore[return-value]


def _stack_event(request_type: str, url: str) -> dict[str, Any]:
    event = json.loads((EVENTS / "subscriber-custom-resource.json").read_text())
    return {**event, "RequestType": request_type, "ResponseURL": url}


def test_a_cloudtrail_create_log_group_event_subscribes_that_group() -> None:
    event = json.loads((EVENTS / "subscriber-create-log-group.json").read_text())
    service = Service()
    answer = handle_event(event, DEADLINE, service.factory)
    group = event["detail"]["requestParameters"]["logGroupName"]
    assert answer == {"ok": True, "log_group": group, "outcome": Outcome.SUBSCRIBED}
    assert service.calls == [("subscribe", group)]


def test_a_failed_create_log_group_call_created_nothing() -> None:
    event = json.loads((EVENTS / "subscriber-create-log-group.json").read_text())
    event["detail"]["errorCode"] = "ResourceAlreadyExistsException"
    service = Service()
    assert handle_event(event, DEADLINE, service.factory)["ok"] is True
    assert service.calls == []


def test_the_schedule_sweeps_and_a_stranger_is_told_what_is_taken() -> None:
    service = Service()
    scheduled = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    assert handle_event(scheduled, DEADLINE, service.factory)["groups"] == 3
    answer = handle_event({"hello": 1}, DEADLINE, service.factory)
    assert answer["ok"] is False
    assert "CreateLogGroup" in answer["error"]


@pytest.mark.parametrize(("request_type", "call"), [("Create", "sweep"), ("Update", "sweep")])
def test_create_and_update_sweep_and_answer_success(
    sink: ResponseSink, request_type: str, call: str
) -> None:
    service = Service()
    sent = handle_event(_stack_event(request_type, sink.url), DEADLINE, service.factory)
    assert service.calls == [(call, None)]
    assert sink.bodies == [sent]
    assert sent["Status"] == "SUCCESS"
    assert sent["PhysicalResourceId"] == "logstream-fleet-subscriptions"
    assert sink.content_types == [""]  # the presigned URL was signed without one


def test_delete_removes_our_filters_and_keeps_the_physical_id(sink: ResponseSink) -> None:
    service = Service()
    event = {**_stack_event("Delete", sink.url), "PhysicalResourceId": "kept-id"}
    sent = handle_event(event, DEADLINE, service.factory)
    assert service.calls == [("remove", None)]
    assert (sent["Status"], sent["PhysicalResourceId"]) == ("SUCCESS", "kept-id")
    assert sent["Data"]["removed"] == "2"


def test_an_error_is_answered_failed_with_its_reason(sink: ResponseSink) -> None:
    service = Service(InfrastructureError("DynamoDB unreachable"))
    sent = handle_event(_stack_event("Create", sink.url), DEADLINE, service.factory)
    assert sink.bodies == [sent]
    assert sent["Status"] == "FAILED"
    assert "DynamoDB unreachable" in sent["Reason"]


def test_a_delete_out_of_time_fails_so_a_second_delete_finishes(sink: ResponseSink) -> None:
    service = Service(removal_complete=False)
    sent = handle_event(_stack_event("Delete", sink.url), DEADLINE, service.factory)
    assert sent["Status"] == "FAILED"
    assert "delete the stack again" in sent["Reason"]


def test_a_delete_with_bad_settings_succeeds_so_the_stack_can_go(sink: ResponseSink) -> None:
    bad = SettingsError({"SUBSCRIPTION_DESTINATION_ARN": "is required"})
    sent = handle_event(_stack_event("Delete", sink.url), DEADLINE, Service(bad).factory)
    assert sent["Status"] == "SUCCESS"
    failed = handle_event(_stack_event("Create", sink.url), DEADLINE, Service(bad).factory)
    assert failed["Status"] == "FAILED"
    assert "SUBSCRIPTION_DESTINATION_ARN" in failed["Reason"]


def test_an_unreachable_response_url_fails_the_invocation_so_lambda_retries() -> None:
    event = _stack_event("Create", "http://127.0.0.1:9/nothing-listens")
    with pytest.raises(InfrastructureError, match="could not answer CloudFormation"):
        handle_event(event, DEADLINE, Service().factory)
