"""The CloudWatch side: throttling is retried within the deadline, LimitExceeded is the
two-filter limit (not throttling), a missing group is an answer, not an error."""

from __future__ import annotations

from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from logstream.fleet.filters import FilterInfo, FleetThrottled, PutResult, SubscriptionFilters
from logstream.retry import Backoff, Deadline

WANTED = FilterInfo("stack-logstream", "arn:aws:lambda:us-east-1:1:function:d", "", None)


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class ScriptedClient:
    """Answers each call from a script: an exception to raise or a response to return."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def _next(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    describe_log_groups = _next
    describe_subscription_filters = _next
    put_subscription_filter = _next
    delete_subscription_filter = _next


def _filters(client: ScriptedClient, sleeps: list[float]) -> SubscriptionFilters:
    backoff = Backoff(base_ms=100, max_ms=1000, sleep=sleeps.append)
    return SubscriptionFilters(cast("Any", client), backoff)


def _deadline(seconds: float) -> Deadline:
    return Deadline(lambda: int(seconds * 1000))


def test_throttling_is_retried_and_counted() -> None:
    throttled = _error("ThrottlingException", "PutSubscriptionFilter")
    client, sleeps = ScriptedClient(throttled, throttled, {}), list[float]()
    filters = _filters(client, sleeps)
    assert filters.put("/g", WANTED, _deadline(60)) is PutResult.PUT
    assert len(client.calls) == 3
    assert len(sleeps) == 2
    assert filters.calls["PutSubscriptionFilter.throttled"] == 2


def test_throttling_past_the_deadline_stops_the_run() -> None:
    throttled = _error("ThrottlingException", "DescribeSubscriptionFilters")
    filters = _filters(ScriptedClient(throttled), [])
    with pytest.raises(FleetThrottled):
        filters.filters_of("/g", _deadline(0))


@pytest.mark.parametrize(
    ("code", "expected"),
    [("LimitExceededException", PutResult.LIMIT), ("ResourceNotFoundException", PutResult.MISSING)],
)
def test_put_answers_the_two_filter_limit_and_a_vanished_group(
    code: str, expected: PutResult
) -> None:
    client, sleeps = ScriptedClient(_error(code, "PutSubscriptionFilter")), list[float]()
    assert _filters(client, sleeps).put("/g", WANTED, _deadline(60)) is expected
    assert sleeps == []  # the limit is no reason to wait


def test_reading_filters_of_a_missing_group_is_none_and_other_errors_raise() -> None:
    missing = _error("ResourceNotFoundException", "DescribeSubscriptionFilters")
    denied = _error("AccessDeniedException", "DescribeSubscriptionFilters")
    filters = _filters(ScriptedClient(missing, denied), [])
    assert filters.filters_of("/g", _deadline(60)) is None
    with pytest.raises(ClientError):
        filters.filters_of("/g", _deadline(60))


def test_a_page_of_groups_and_its_token() -> None:
    page = {"logGroups": [{"logGroupName": "/a"}, {"logGroupName": "/b"}], "nextToken": "t2"}
    client = ScriptedClient(page, {"logGroups": []})
    filters = _filters(client, [])
    first = filters.list_page("/", None, _deadline(60))
    assert (first.names, first.next_token) == (["/a", "/b"], "t2")
    assert filters.list_page("", "t2", _deadline(60)).next_token is None
    assert client.calls == [
        {"limit": 50, "logGroupNamePrefix": "/"},
        {"limit": 50, "nextToken": "t2"},
    ]


def test_a_destination_not_yet_allowed_is_tried_again_then_raises() -> None:
    refused = _error("InvalidParameterException", "PutSubscriptionFilter")
    client, sleeps = ScriptedClient(refused, {}), list[float]()
    assert _filters(client, sleeps).put("/g", WANTED, _deadline(60)) is PutResult.PUT
    assert len(sleeps) == 1
    always = ScriptedClient(refused, refused, refused, {})
    with pytest.raises(ClientError):
        _filters(always, []).put("/g", WANTED, _deadline(60))
    assert len(always.calls) == 3
