"""Manual backfill requests: what is accepted, what is clamped, what is refused (and how)."""

from __future__ import annotations

from typing import Any

import pytest

from logstream.backfill.model import BackfillInputError
from logstream.backfill.request import (
    DAY_MS,
    EARLIEST_MS,
    LATEST_MS,
    MAX_PATTERNS,
    BackfillRequest,
    parse_request,
)
from logstream.errors import InputError
from logstream.times import parse_time

NOW = parse_time("2026-11-24T10:00:00Z", "now")


def parse(payload: object, *, default_groups: tuple[str, ...] = ()) -> BackfillRequest:
    return parse_request(payload, now_ms=NOW, default_groups=default_groups, default_days=30)


def refusal(payload: object) -> str:
    with pytest.raises(BackfillInputError) as caught:
        parse(payload)
    message = str(caught.value)
    assert len(message) < 400, "a rejected value is quoted short"
    return message


def test_days_end_now() -> None:
    request = parse({"log_groups": ["/a", "/b*", "/a"], "days": 3})
    assert request == BackfillRequest(("/a", "/b*"), NOW - 3 * DAY_MS, NOW)


def test_defaults_are_log_groups_and_backfill_days() -> None:
    assert parse({}, default_groups=("/x",)) == BackfillRequest(("/x",), NOW - 30 * DAY_MS, NOW)


def test_a_single_group_may_be_a_string() -> None:
    assert parse({"log_group": "/one", "days": 1}).log_groups == ("/one",)


def test_start_and_end_in_iso_or_epoch_ms() -> None:
    request = parse({"log_groups": ["/a"], "start": "2026-11-20T00:00:00Z", "end": NOW})
    assert request.start_ms == parse_time("2026-11-20T00:00:00Z", "start")
    assert request.end_ms == NOW
    assert parse({"log_groups": ["/a"], "start": "1000"}) == BackfillRequest(("/a",), 1000, NOW)


def test_the_whole_representable_range_is_accepted() -> None:
    request = parse({"log_groups": ["/a"], "start": EARLIEST_MS, "end": LATEST_MS})
    assert (request.start_ms, request.end_ms) == (EARLIEST_MS, LATEST_MS)


def test_absurd_days_start_at_the_epoch_instead_of_before_it() -> None:
    # Planning clamps further (BACKFILL_MAX_DAYS, retention) with a warning.
    assert parse({"log_groups": ["/a"], "days": 10**9}).start_ms == EARLIEST_MS
    assert parse({"log_groups": ["/a"], "days": 10**300}).start_ms == EARLIEST_MS


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"log_groups": "", "days": 1}, "list of log group names"),
        ({"log_groups": [1], "days": 1}, "list of log group names"),
        ({"log_groups": None}, "list of log group names"),
        ({"log_groups": []}, "LOG_GROUPS is empty"),
        ({"log_groups": ["/a"], "days": 0}, "positive whole number"),
        ({"log_groups": ["/a"], "days": -1}, "positive whole number"),
        ({"log_groups": ["/a"], "days": 1.5}, "positive whole number"),
        ({"log_groups": ["/a"], "days": True}, "positive whole number"),
        ({"log_groups": ["/a"], "days": "3"}, "positive whole number"),
        ({"log_groups": ["/a"], "days": 1, "start": "2026-11-20"}, "either days"),
        ({"log_groups": ["/a"], "days": 1, "end": "2026-11-20"}, "either days"),
        ({"log_groups": ["/a"], "end": "2026-11-20"}, "end needs a start"),
        ({"log_groups": ["/a"], "start": "last tuesday"}, "not ISO-8601"),
        ({"log_groups": ["/a"], "start": "²"}, "not ISO-8601"),
        ({"log_groups": ["/a"], "start": 1.5}, "not ISO-8601"),
        ({"log_groups": ["/a"], "start": None}, "not ISO-8601"),
        ({"log_groups": ["/a"], "start": "x" * 1_000_000}, "not ISO-8601"),
        ({"log_groups": ["/a"], "start": 10**18}, "outside 1970-01-01 .. 9999-12-31"),
        ({"log_groups": ["/a"], "start": "9" * 30}, "outside 1970-01-01 .. 9999-12-31"),
        # Past Python's int-parsing digit limit: refused, not a crash.
        ({"log_groups": ["/a"], "start": "9" * 5000}, "is not ISO-8601"),
        ({"log_groups": ["/a"], "start": -1}, "outside 1970-01-01"),
        ({"log_groups": ["/a"], "start": "0001-01-01T00:00:00+01:00"}, "outside 1970"),
        ({"log_groups": ["/a"], "start": 0, "end": 10**18}, "end=1000000000000000000 lies"),
        ({"log_groups": ["/a"], "start": NOW, "end": NOW}, "before or when it starts"),
        ({"log_groups": ["/a"], "start": NOW + DAY_MS}, "before or when it starts"),
        ({"log_groups": ["x" * 513], "days": 1}, "not a log group name"),
        ({"log_groups": ["/a b"], "days": 1}, "not a log group name"),
        ({"log_groups": ["*"], "days": 1}, "not a log group name"),
        ({"log_groups": ["/a**"], "days": 1}, "not a log group name"),
        ({"log_groups": [f"/g{n}" for n in range(MAX_PATTERNS + 1)]}, f"at most {MAX_PATTERNS}"),
    ],
)
def test_bad_requests_are_refused_with_what_to_send(payload: dict[str, Any], expected: str) -> None:
    assert expected in refusal(payload)


@pytest.mark.parametrize("payload", [["/a"], "days=3", 42, None])
def test_a_request_that_is_not_an_object_is_refused(payload: object) -> None:
    assert "JSON object" in refusal(payload)


def test_refusals_are_input_errors() -> None:
    # Manual invocations answer InputError with {"ok": false, "error": ...}.
    assert issubclass(BackfillInputError, InputError)


def test_a_huge_rejected_value_is_quoted_short() -> None:
    message = refusal({"log_groups": ["/a"], "start": "y" * 1_000_000})
    assert message.count("y") < 100
