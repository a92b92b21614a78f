"""The CloudWatch-side counters: Insights result parsing and polling, the
FilterLogEvents fallback, and which counter the settings choose."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from logstream.aws.cloudwatch import BotoCloudWatchSource, EventPage, LogGroupNotFound
from logstream.reconcile.ports import CountsUnavailable
from logstream.reconcile.source_counts import (
    BIN_FIELD,
    COUNT_FIELD,
    FallbackCounter,
    FilterLogEventsCounter,
    InsightsCounter,
    count_query,
    counter_policy,
    parse_count_results,
)
from logstream.reconcile.window import Window
from logstream.retry import Backoff, Deadline
from logstream.settings import Settings
from logstream.times import parse_time
from tests.unit.reconcile.fakes import GROUP, T0, MemorySource, make_events


def insights_rows(*rows: tuple[str, int]) -> dict[str, Any]:
    """GetQueryResults as CloudWatch returns it for the count query."""
    return {
        "status": "Complete",
        "statistics": {"recordsMatched": float(sum(n for _, n in rows)), "recordsScanned": 1.0},
        "results": [
            [{"field": BIN_FIELD, "value": when}, {"field": COUNT_FIELD, "value": str(n)}]
            for when, n in rows
        ],
    }


def test_count_query_names_the_columns_it_reads() -> None:
    assert count_query(300_000) == (f"stats count(*) as {COUNT_FIELD} by bin(300s) as {BIN_FIELD}")
    with pytest.raises(ValueError, match="whole seconds"):
        count_query(1_500)


def test_insights_results_are_read_by_alias_and_clipped_to_the_window() -> None:
    window = Window(
        parse_time("2026-11-24T10:00:00Z", "t"), parse_time("2026-11-24T10:15:00Z", "t")
    )
    response = insights_rows(
        ("2026-11-24 10:00:00.000", 42),
        ("2026-11-24 10:10:00.000", 7),
        ("2026-11-24 10:15:00.000", 3),  # the inclusive end second: dropped
    )
    assert parse_count_results(response, window, 300_000) == {
        window.start: 42,
        window.start + 600_000: 7,
    }


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (
            [
                [
                    {"field": "count(*)", "value": "5"},
                    {"field": BIN_FIELD, "value": "2026-11-24 10:00:00.000"},
                ]
            ],
            "lacks",
        ),
        ([[{"field": "@ptr", "value": "1"}]], "lacks"),
        (
            [
                [
                    {"field": COUNT_FIELD, "value": "5"},
                    {"field": BIN_FIELD, "value": "2026-11-24 10:02:00.000"},
                ]
            ],
            "not a",
        ),
        (
            [
                [
                    {"field": COUNT_FIELD, "value": "x"},
                    {"field": BIN_FIELD, "value": "2026-11-24 10:00:00.000"},
                ]
            ],
            "count",
        ),
        (
            [[{"field": COUNT_FIELD, "value": "5"}, {"field": BIN_FIELD, "value": "yesterday"}]],
            "bin value",
        ),
    ],
)
def test_insights_results_in_another_shape_are_an_error_never_zero(rows: Any, match: str) -> None:
    window = Window(
        parse_time("2026-11-24T10:00:00Z", "t"), parse_time("2026-11-24T10:15:00Z", "t")
    )
    with pytest.raises(CountsUnavailable, match=match):
        parse_count_results({"status": "Complete", "results": rows}, window, 300_000)


class FakeLogs:
    """A boto3 logs client answering StartQuery / GetQueryResults from a script."""

    def __init__(self, answers: list[Any], start_errors: list[str] | None = None) -> None:
        self.answers = answers
        self.start_errors = start_errors or []
        self.stopped: list[str] = []
        self.queries: list[dict[str, Any]] = []

    def start_query(self, **kwargs: Any) -> dict[str, Any]:
        if self.start_errors:
            code = self.start_errors.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": code}}, "StartQuery")
        self.queries.append(kwargs)
        return {"queryId": "q1"}

    def get_query_results(self, queryId: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer

    def stop_query(self, queryId: str) -> dict[str, Any]:
        self.stopped.append(queryId)
        return {"success": True}


def insights(logs: FakeLogs, max_polls: int = 5) -> tuple[InsightsCounter, BotoCloudWatchSource]:
    source = BotoCloudWatchSource(logs, Backoff(1, 2, sleep=lambda _: None))  # type: ignore[arg-type]
    return InsightsCounter(logs, source, max_polls=max_polls, sleep=lambda _: None), source  # type: ignore[arg-type]


def test_insights_counter_polls_until_complete_and_counts_calls() -> None:
    window = Window(
        parse_time("2026-11-24T10:00:00Z", "t"), parse_time("2026-11-24T10:10:00Z", "t")
    )
    logs = FakeLogs(
        [
            {"status": "Scheduled"},
            {"status": "Running", "results": []},
            insights_rows(("2026-11-24 10:05:00.000", 9)),
        ],
        start_errors=["LimitExceededException"],
    )
    counter, source = insights(logs)
    assert counter.counts(GROUP, window, 300_000, Deadline.after_seconds(60)) == {
        window.start + 300_000: 9
    }
    assert logs.queries[0]["startTime"] == window.start // 1000
    assert logs.queries[0]["endTime"] == window.end // 1000
    assert source.calls == Counter(
        {"StartQuery": 2, "StartQuery.throttled": 1, "GetQueryResults": 3}
    )


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout"])
def test_insights_failures_raise_counts_unavailable(status: str) -> None:
    counter, _ = insights(FakeLogs([{"status": status}]))
    with pytest.raises(CountsUnavailable, match=status.lower()):
        counter.counts(GROUP, Window(T0, T0 + 300_000), 300_000, Deadline.after_seconds(60))


def test_insights_that_never_finishes_is_stopped_after_bounded_polls() -> None:
    logs = FakeLogs([{"status": "Running"}])
    counter, source = insights(logs, max_polls=4)
    with pytest.raises(CountsUnavailable, match="4 polls"):
        counter.counts(GROUP, Window(T0, T0 + 300_000), 300_000, Deadline.after_seconds(60))
    assert logs.stopped == ["q1"]
    assert source.calls["GetQueryResults"] == 4 and source.calls["StopQuery"] == 1


def test_insights_on_a_deleted_group_is_group_not_found() -> None:
    counter, _ = insights(FakeLogs([], start_errors=["ResourceNotFoundException"]))
    with pytest.raises(LogGroupNotFound):
        counter.counts(GROUP, Window(T0, T0 + 300_000), 300_000, Deadline.after_seconds(60))


def test_fallback_counter_switches_once_and_for_the_rest_of_the_run() -> None:
    events = make_events([T0 + 1_000, T0 + 2_000])
    broken, scanner = MemorySource(events, fail_counts=True), MemorySource(events)
    counter = FallbackCounter(broken, scanner)
    window = Window(T0, T0 + 300_000)
    assert counter.counts(GROUP, window, 300_000, Deadline.after_seconds(5)) == {T0: 2}
    assert counter.counts(GROUP, window, 300_000, Deadline.after_seconds(5)) == {T0: 2}
    assert (broken.queries, scanner.queries, counter.fallbacks) == (1, 2, 1)


def test_filter_log_events_counter_counts_once_then_refines_for_free() -> None:
    class Pages:
        def __init__(self) -> None:
            self.calls: Counter[str] = Counter()

        def filter_page(
            self, log_group: str, start: int, end: int, deadline: Deadline, **kw: Any
        ) -> EventPage:
            self.calls["FilterLogEvents"] += 1
            return EventPage(make_events([T0 + 500, T0 + 1_500, T0 + 1_700, T0 + 299_999]), None)

    pages = Pages()
    counter = FilterLogEventsCounter(pages)  # type: ignore[arg-type]
    deadline = Deadline.after_seconds(5)
    assert counter.counts(GROUP, Window(T0, T0 + 300_000), 300_000, deadline) == {T0: 4}
    assert counter.counts(GROUP, Window(T0, T0 + 10_000), 1_000, deadline) == {T0: 1, T0 + 1_000: 2}
    assert pages.calls["FilterLogEvents"] == 1


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, FallbackCounter),
        ({"RECONCILE_INSIGHTS": "false"}, FilterLogEventsCounter),
        ({"FILTER_PATTERN": "ERROR"}, FilterLogEventsCounter),
    ],
)
def test_counter_policy_uses_insights_only_when_it_can_count_what_was_shipped(
    env: dict[str, str], expected: type
) -> None:
    logs = FakeLogs([])
    source = BotoCloudWatchSource(logs, Backoff(1, 2, sleep=lambda _: None))  # type: ignore[arg-type]
    settings = Settings.from_env({"AWS_REGION": "eu-west-1", **env})
    counter_for = counter_policy(settings, logs, source)  # type: ignore[arg-type]
    first, second = counter_for(GROUP), counter_for(GROUP)
    assert type(first) is expected
    assert first is not second  # a fresh counter per group run: no state carried over
