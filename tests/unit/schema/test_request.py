"""The schema-heal event: bad manual input is answered, never raised."""

from __future__ import annotations

from typing import Any, cast

import pytest

from logstream.errors import InputError
from logstream.retry import Deadline
from logstream.schema.healer import SchemaHealer
from logstream.schema.request import HealRequest, handle_event, is_scheduled, parse_request


def test_a_manual_request_names_groups_or_asks_for_a_report() -> None:
    assert parse_request({}) == HealRequest()
    assert parse_request({"log_groups": ["/a", "/b"], "report_only": True}) == HealRequest(
        ("/a", "/b"), report_only=True
    )


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"log_groups": "/app/x"}, "log_groups must be a list of log group names"),
        ({"log_groups": ["/a", ""]}, "log_groups must be a list of log group names"),
        ({"report_only": "yes"}, "report_only must be true or false"),
        (["/app/x"], "the event must be a JSON object"),
        ("heal", "the event must be a JSON object"),
        (7, "the event must be a JSON object"),
        (None, "the event must be a JSON object"),
        (True, "the event must be a JSON object"),
        ({"log_groups": [1, {"a": 1}]}, "log_groups must be a list of log group names"),
    ],
)
def test_bad_manual_input_is_answered_not_raised(event: Any, error: str) -> None:
    with pytest.raises(InputError, match=error):
        parse_request(event)
    never_used = cast(SchemaHealer, object())  # bad input never reaches the healer
    answer = handle_event(never_used, event, Deadline.after_seconds(60))
    assert answer["ok"] is False
    assert answer["error"].startswith(error)


def test_an_eventbridge_schedule_is_recognised() -> None:
    assert is_scheduled({"source": "aws.events", "detail-type": "Scheduled Event"})
    assert not is_scheduled({"log_groups": ["/a"]})
    assert not is_scheduled(["/a"])
