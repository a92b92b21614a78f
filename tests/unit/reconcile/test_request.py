"""The function's events: scheduled and manual requests, and their answers."""

from __future__ import annotations

from typing import Any

import pytest

from logstream.errors import InputError
from logstream.reconcile.report import ReconcileFailed
from logstream.reconcile.request import handle_event, parse_request
from logstream.retry import Deadline
from logstream.times import parse_time
from tests.unit.reconcile.fakes import HOUR, T0, MemoryIndex, MemoryState, make_events, service

SCHEDULED: dict[str, Any] = {
    "version": "0",
    "source": "aws.events",
    "detail-type": "Scheduled Event",
    "detail": {},
}


def test_parse_request_shapes() -> None:
    scheduled = dict(SCHEDULED)
    assert parse_request(scheduled, ["a", "b*"]).log_groups == ("a", "b*")
    manual = parse_request(
        {"log_groups": ["x"], "start": "2026-11-24T00:00:00Z", "end": 1795600000000}, []
    )
    assert manual.start_ms == parse_time("2026-11-24T00:00:00+00:00", "s")
    assert manual.end_ms == 1795600000000
    with pytest.raises(InputError, match="unknown reconcile event keys"):
        parse_request({"groups": ["x"]}, ["a"])
    with pytest.raises(InputError, match="not after"):
        parse_request({"start": 10, "end": 5}, ["a"])
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_time("last tuesday", "start")
    with pytest.raises(InputError, match="ISO-8601"):
        parse_request({"start": "last tuesday"}, ["a"])
    with pytest.raises(InputError, match="no log groups"):
        parse_request({}, [])
    with pytest.raises(InputError, match="JSON object"):
        parse_request(["a"], ["a"])


def _reconciler(index: MemoryIndex) -> Any:
    events = make_events([T0 + i * 10_000 for i in range(360)])
    return service(events, index, MemoryState(), T0 + 3 * HOUR)


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"groups": ["/app/a"]}, "unknown reconcile event keys"),
        ({"log_groups": "/app/a"}, "must be a list"),
        ({"log_groups": ["/app/a"], "start": "last tuesday"}, "ISO-8601"),
        ({"log_groups": ["/app/a"], "start": 10, "end": 5}, "not after"),
        ({}, "no log groups"),
    ],
)
def test_bad_manual_input_is_answered_not_raised(event: dict[str, Any], error: str) -> None:
    answer = handle_event(_reconciler(MemoryIndex()), event, Deadline.after_seconds(60), [])
    assert answer["ok"] is False
    assert error in answer["error"]


def test_a_manual_run_answers_ok_with_its_report() -> None:
    answer = handle_event(
        _reconciler(MemoryIndex()),
        {"log_groups": ["/app/a"], "start": T0, "end": T0 + HOUR},
        Deadline.after_seconds(60),
        [],
    )
    assert answer["ok"] is True
    assert [g["log_group"] for g in answer["groups"]] == ["/app/a"]


def test_a_scheduled_run_without_configured_groups_raises() -> None:
    with pytest.raises(InputError, match="no log groups"):
        handle_event(_reconciler(MemoryIndex()), SCHEDULED, Deadline.after_seconds(60), [])


@pytest.mark.parametrize("manual", [False, True])
def test_an_infrastructure_failure_raises_after_every_group_was_tried(manual: bool) -> None:
    event = {"log_groups": ["/app/a", "/app/b"]} if manual else SCHEDULED
    with pytest.raises(ReconcileFailed, match="2 of 2 log groups") as failure:
        handle_event(
            _reconciler(MemoryIndex(down=True)),
            event,
            Deadline.after_seconds(60),
            ["/app/a", "/app/b"],
        )
    assert [g.log_group for g in failure.value.report.failed] == ["/app/a", "/app/b"]
