"""Reconciliation logic on in-memory counters: exactness, the API-call bound,
Insights result parsing, and the service's watermark and failure rules."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logstream.aws.cloudwatch import BotoCloudWatchSource, EventPage, LogGroupInfo, LogGroupNotFound
from logstream.reconcile.service import (
    CountsUnavailable,
    IndexUnavailable,
    RangeCheck,
    Reconciler,
    RepairResult,
    Status,
    Timing,
    Tuning,
    Window,
    parse_request,
)
from logstream.reconcile.source_counts import (
    BIN_FIELD,
    COUNT_FIELD,
    FallbackCounter,
    FilterLogEventsCounter,
    InsightsCounter,
    count_query,
    parse_count_results,
)
from logstream.retry import Backoff, Deadline
from logstream.times import parse_time

T0 = 1_795_000_000_000 // 300_000 * 300_000  # a 5-minute boundary in 2026
HOUR = 3_600_000
PAGE = 10_000
GROUP = "/aws/lambda/orders"


# -- in-memory sides ------------------------------------------------------------


@dataclass
class MemorySource:
    """CloudWatch: an Insights-like counter (one query per call) and a fetcher."""

    events: list[dict[str, Any]]
    queries: int = 0
    fetch_calls: int = 0
    fail_counts: bool = False

    def counts(
        self, log_group: str, window: Window, step_ms: int, deadline: Deadline
    ) -> dict[int, int]:
        self.queries += 1
        if self.fail_counts:
            raise CountsUnavailable("insights down")
        out: Counter[int] = Counter()
        for event in self.events:
            if window.contains(event["timestamp"]):
                out[max(window.start, event["timestamp"] // step_ms * step_ms)] += 1
        return dict(out)

    def fetch(self, log_group: str, window: Window, deadline: Deadline) -> list[dict[str, Any]]:
        found = [e for e in self.events if window.contains(e["timestamp"])]
        self.fetch_calls += max(1, math.ceil(len(found) / PAGE))
        return found


class Fetcher:
    def __init__(self, source: MemorySource) -> None:
        self.source = source

    def events(self, log_group: str, window: Window, deadline: Deadline) -> list[dict[str, Any]]:
        return self.source.fetch(log_group, window, deadline)


@dataclass
class MemoryIndex:
    docs: dict[str, int] = field(default_factory=dict)  # id -> timestamp
    extra_group_docs: dict[str, int] = field(default_factory=dict)  # another group's docs
    down: bool = False

    def counts(self, log_group: str, window: Window, step_ms: int) -> dict[int, int]:
        if self.down:
            raise IndexUnavailable("cluster down")
        out: Counter[int] = Counter()
        for ts in self.docs.values():
            if window.contains(ts):
                out[max(window.start, ts // step_ms * step_ms)] += 1
        return dict(out)

    def ids(self, log_group: str, window: Window) -> set[str]:
        return {i for i, ts in self.docs.items() if window.contains(ts)}

    def refresh(self, log_group: str) -> None:
        return None


@dataclass
class MemoryRepairer:
    index: MemoryIndex
    refuse: bool = False
    reshipped: list[str] = field(default_factory=list)

    def reship(
        self, log_group: str, events: list[dict[str, Any]], deadline: Deadline
    ) -> RepairResult:
        if self.refuse:
            return RepairResult(undelivered=len(events), error="cluster refused")
        created = 0
        for event in events:
            if event["id"] not in self.index.docs:
                self.index.docs[event["id"]] = event["timestamp"]
                created += 1
            self.reshipped.append(event["id"])
        return RepairResult(delivered=created, duplicates=len(events) - created)


def make_events(timestamps: list[int]) -> list[dict[str, Any]]:
    ordered = sorted(timestamps)
    return [
        {"id": f"{ts:020d}{n:036d}", "timestamp": ts, "message": f"m{n}", "logStream": "s"}
        for n, ts in enumerate(ordered)
    ]


def check(
    events: list[dict[str, Any]],
    missing: set[str],
    span: Window,
    tuning: Tuning,
    deadline: Deadline | None = None,
) -> tuple[Any, MemorySource, MemoryIndex, MemoryRepairer]:
    source = MemorySource(events)
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events if e["id"] not in missing})
    repairer = MemoryRepairer(index)
    outcome = RangeCheck(
        GROUP, source=source, fetcher=Fetcher(source), index=index, repairer=repairer, tuning=tuning
    ).run(span, deadline or Deadline.after_seconds(600))
    return outcome, source, index, repairer


def runs_of(events: list[dict[str, Any]], missing: set[str]) -> int:
    """Gaps = maximal runs of consecutive missing events in time order."""
    runs, inside = 0, False
    for event in events:
        gone = event["id"] in missing
        runs += gone and not inside
        inside = gone
    return runs


# -- the algorithm ---------------------------------------------------------------


def test_window_split_is_epoch_aligned_and_half_open() -> None:
    window = Window(T0 + 1_000, T0 + 25_000)
    parts = window.split(10_000)
    assert parts == [
        Window(T0 + 1_000, T0 + 10_000),
        Window(T0 + 10_000, T0 + 20_000),
        Window(T0 + 20_000, T0 + 25_000),
    ]
    assert window.contains(T0 + 1_000) and not window.contains(T0 + 25_000)
    with pytest.raises(ValueError, match="empty"):
        Window(5, 5)


def test_a_clean_day_costs_one_count_query_and_no_fetch() -> None:
    rng = random.Random(1)
    events = make_events([T0 + rng.randrange(24 * HOUR) for _ in range(50_000)])
    outcome, source, _, repairer = check(events, set(), Window(T0, T0 + 24 * HOUR), Tuning())
    assert (source.queries, source.fetch_calls) == (1, 0)
    assert outcome.proven_through == T0 + 24 * HOUR
    assert outcome.windows_checked == 288
    assert outcome.events_in_source == outcome.events_in_index == 50_000
    assert repairer.reshipped == [] and outcome.gaps == []


def test_two_clean_days_cost_two_queries() -> None:
    events = make_events([T0 + i * 3_000 for i in range(57_600)])
    _, source, _, _ = check(events, set(), Window(T0, T0 + 48 * HOUR), Tuning())
    assert (source.queries, source.fetch_calls) == (2, 0)


def test_isolated_gaps_in_a_dense_day_cost_log_levels_each() -> None:
    # 200 events/s for a day would be big; 20/s over 2 hours keeps the test fast.
    rng = random.Random(7)
    events = make_events([T0 + rng.randrange(2 * HOUR) for _ in range(144_000)])
    missing = {e["id"] for e in rng.sample(events, 9)}
    k = runs_of(events, missing)
    outcome, source, index, repairer = check(events, missing, Window(T0, T0 + 2 * HOUR), Tuning())
    assert sorted(repairer.reshipped) == sorted(missing)
    assert len(index.docs) == len(events)
    levels = len(Tuning().steps_ms)
    assert source.queries <= 1 + 2 * (levels - 1) * k
    assert outcome.ranges_fetched <= k and source.fetch_calls <= k
    # each fetched range is at most a 10 s window here, never a whole bucket
    assert outcome.events_fetched <= k * 2 * 20 * 10
    assert outcome.proven_through == T0 + 2 * HOUR
    assert outcome.events_still_missing == 0


def test_a_whole_missing_hour_is_fetched_as_one_range() -> None:
    events = make_events([T0 + i * 2_000 for i in range(5 * 1800)])  # 5 hours, 1 per 2 s
    missing = {e["id"] for e in events if T0 + 2 * HOUR <= e["timestamp"] < T0 + 3 * HOUR}
    outcome, source, _, _ = check(events, missing, Window(T0, T0 + 5 * HOUR), Tuning())
    assert outcome.events_reshipped == 1800 == len(missing)
    assert (source.queries, outcome.ranges_fetched, outcome.refinements) == (1, 1, 0)
    assert len(outcome.gaps) == 1
    gap = outcome.gaps[0]
    assert (gap.start_ms, gap.end_ms, gap.missing) == (
        T0 + 2 * HOUR,
        T0 + 3 * HOUR - 2_000 + 1,
        1800,
    )


SMALL = Tuning(leaf_events=6, merge_events=10_000_000)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 1_500),
    singles=st.integers(0, 12),
    runs=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 300)), max_size=4),
    spread_hours=st.sampled_from([1, 3, 30]),
)
def test_property_every_gap_pattern_is_found_and_repaired_within_the_bound(
    seed: int, n: int, singles: int, runs: list[tuple[float, int]], spread_hours: int
) -> None:
    rng = random.Random(seed)
    # Bursts on purpose: many events in the same second and millisecond.
    timestamps = [
        T0 + rng.randrange(spread_hours * HOUR) // rng.choice([1, 1000]) * 1 for _ in range(n)
    ]
    events = make_events([T0 + (t - T0) for t in timestamps])
    missing = {e["id"] for e in rng.sample(events, min(singles, n))}
    for where, length in runs:
        start = int(where * (n - 1))
        missing |= {e["id"] for e in events[start : start + length]}
    span = Window(T0, T0 + (spread_hours + 1) * HOUR)
    outcome, source, index, repairer = check(events, missing, span, SMALL)

    # exactness: the index ends equal to CloudWatch, exactly the missing were re-shipped
    assert set(index.docs) == {e["id"] for e in events}
    assert sorted(repairer.reshipped) == sorted(missing)
    assert outcome.events_missing == outcome.events_reshipped == len(missing)
    assert sum(g.missing for g in outcome.gaps) == len(missing)
    for gap in outcome.gaps:
        assert gap.start_ms < gap.end_ms
    assert outcome.proven_through == span.end and outcome.stopped is None

    # the cost bound: chunks + 2(L-1) refinement queries per gap, one fetch per gap
    k = runs_of(events, missing)
    chunks = math.ceil((span.end - span.start) / SMALL.chunk_ms)
    levels = len(SMALL.steps_ms)
    assert source.queries <= chunks + 2 * (levels - 1) * k
    assert outcome.ranges_fetched <= k + chunks - 1
    assert len(outcome.gaps) <= k + chunks - 1  # a gap across a day boundary is two
    if not missing:
        assert (source.queries, source.fetch_calls) == (chunks, 0)


def test_documents_cloudwatch_does_not_hold_are_reported_not_deleted() -> None:
    events = make_events([T0 + i * 1_000 for i in range(100)])
    source = MemorySource(events)
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events})
    index.docs["stranger"] = T0 + 5_500
    outcome = RangeCheck(
        GROUP, source=source, fetcher=Fetcher(source), index=index, repairer=MemoryRepairer(index)
    ).run(Window(T0, T0 + HOUR), Deadline.after_seconds(60))
    assert outcome.unexpected_documents == 1
    assert outcome.unexpected[0].doc_ids == ["stranger"]
    assert "stranger" in index.docs
    assert outcome.proven_through == T0 + HOUR  # every CloudWatch event is in


def test_gap_still_open_after_repair_stops_the_watermark() -> None:
    events = make_events([T0 + i * 1_000 for i in range(3_600)])
    missing = {events[1_000]["id"]}
    source = MemorySource(events)
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events if e["id"] not in missing})
    outcome = RangeCheck(
        GROUP,
        source=source,
        fetcher=Fetcher(source),
        index=index,
        repairer=MemoryRepairer(index, refuse=True),
    ).run(Window(T0, T0 + 2 * HOUR), Deadline.after_seconds(60))
    assert outcome.events_still_missing == 1
    assert outcome.gaps[0].still_missing == 1
    gap_bucket = events[1_000]["timestamp"] // 300_000 * 300_000
    assert T0 <= outcome.proven_through <= gap_bucket


def test_out_of_time_keeps_progress_up_to_the_first_unchecked_window() -> None:
    events = make_events([T0 + i * 1_000 for i in range(3_600)])
    missing = {events[2_000]["id"]}
    outcome, *_ = check(
        events, missing, Window(T0, T0 + HOUR), Tuning(reserve_secs=5), Deadline.after_seconds(4)
    )
    assert outcome.stopped == "deadline"
    assert outcome.proven_through == T0


def test_unaligned_spans_are_refused() -> None:
    source = MemorySource([])
    index = MemoryIndex()
    with pytest.raises(ValueError, match="aligned"):
        RangeCheck(
            GROUP,
            source=source,
            fetcher=Fetcher(source),
            index=index,
            repairer=MemoryRepairer(index),
        ).run(Window(T0 + 1, T0 + HOUR), Deadline.after_seconds(5))
    assert Tuning().align(Window(T0 + 1, T0 + HOUR + 5)) == Window(T0 + 300_000, T0 + HOUR)


# -- Insights ----------------------------------------------------------------------


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


# -- requests and the service --------------------------------------------------------


def test_parse_request_shapes() -> None:
    scheduled = {
        "version": "0",
        "source": "aws.events",
        "detail-type": "Scheduled Event",
        "detail": {},
    }
    assert parse_request(scheduled, ["a", "b*"]).log_groups == ("a", "b*")
    manual = parse_request(
        {"log_groups": ["x"], "start": "2026-11-24T00:00:00Z", "end": 1795600000000}, []
    )
    assert manual.start_ms == parse_time("2026-11-24T00:00:00+00:00", "s")
    assert manual.end_ms == 1795600000000
    with pytest.raises(TypeError, match="unknown reconcile event keys"):
        parse_request({"groups": ["x"]}, ["a"])
    with pytest.raises(ValueError, match="not after"):
        parse_request({"start": 10, "end": 5}, ["a"])
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_time("last tuesday", "start")
    with pytest.raises(ValueError, match="no log groups"):
        parse_request({}, [])


class MemoryState:
    def __init__(self) -> None:
        self.marks: dict[str, int] = {}
        self.reports: list[Any] = []

    def watermark(self, log_group: str) -> int | None:
        return self.marks.get(log_group)

    def advance(self, log_group: str, to_ms: int, *, from_ms: int | None = None) -> bool:
        current = self.marks.get(log_group)
        if from_ms is not None and (current is None or current < from_ms):
            return False
        if current is not None and current >= to_ms:
            return False
        self.marks[log_group] = to_ms
        return True

    def save_report(self, report: Any) -> None:
        self.reports.append(report)


class Groups:
    """describe_group / groups_with_prefix over a fixed set; counts calls."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.calls: Counter[str] = Counter()

    def describe_group(self, log_group: str, deadline: Deadline) -> LogGroupInfo:
        self.calls["DescribeLogGroups"] += 1
        if log_group not in self.names:
            raise LogGroupNotFound(log_group)
        return LogGroupInfo(log_group, "123456789012", T0 - 40 * 86_400_000, None, 0)

    def groups_with_prefix(self, prefix: str, deadline: Deadline) -> list[LogGroupInfo]:
        self.calls["DescribeLogGroups"] += 1
        return [self.describe_group(n, deadline) for n in self.names if n.startswith(prefix)]

    def filter_page(self, *args: Any, **kwargs: Any) -> EventPage:
        raise AssertionError("not used")


def service(
    events: list[dict[str, Any]], index: MemoryIndex, state: MemoryState, now_ms: int
) -> Reconciler:
    source = MemorySource(events)
    return Reconciler(
        source=Groups(["/app/a", "/app/b"]),
        counter_for=lambda group: source,
        fetcher=Fetcher(source),
        index=index,
        shipper=None,
        state=state,
        timing=Timing(settle_ms=900_000, backfill_days=1, region="us-east-1"),
        repairer_for=lambda info: MemoryRepairer(index),
        clock=lambda: now_ms / 1000,
    )


def test_service_scheduled_run_advances_watermarks_and_reports_missing_groups() -> None:
    events = make_events([T0 + i * 10_000 for i in range(360)])  # one hour
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events[5:]})
    state = MemoryState()
    now = T0 + 2 * HOUR + 123
    run = service(events, index, state, now).run(["/app/*", "/gone"], Deadline.after_seconds(60))
    by_group = {g.log_group: g for g in run.groups}
    assert by_group["/gone"].status is Status.GROUP_MISSING
    assert by_group["/app/a"].status is Status.REPAIRED
    settled = (now - 900_000) // 300_000 * 300_000
    assert state.marks["/app/a"] == settled == by_group["/app/a"].watermark_after
    assert by_group["/app/a"].start_ms == (now - 86_400_000) // 300_000 * 300_000
    assert len(state.reports) == 3 and not run.failed
    # second run: from the watermark, nothing to re-ship
    again = service(events, index, state, now + 600_000).run(["/app/a"], Deadline.after_seconds(60))
    assert again.groups[0].status in {Status.CLEAN, Status.UP_TO_DATE}
    assert again.groups[0].events_reshipped == 0


def test_service_keeps_the_watermark_when_the_index_is_down() -> None:
    events = make_events([T0 + i * 10_000 for i in range(360)])
    index = MemoryIndex(down=True)
    state = MemoryState()
    state.marks["/app/a"] = T0
    run = service(events, index, state, T0 + 3 * HOUR).run(
        ["/app/a", "/app/b"], Deadline.after_seconds(60)
    )
    assert [g.status for g in run.groups] == [Status.FAILED, Status.FAILED]
    assert "cluster down" in (run.groups[0].error or "")
    assert state.marks == {"/app/a": T0}
    assert len(state.reports) == 2


def test_service_manual_range_moves_the_watermark_only_when_adjoining() -> None:
    events = make_events([T0 + i * 10_000 for i in range(360)])
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events})
    state = MemoryState()
    recon = service(events, index, state, T0 + 5 * HOUR)
    report = recon.run(
        ["/app/a"], Deadline.after_seconds(60), start_ms=T0, end_ms=T0 + HOUR
    ).groups[0]
    assert report.status is Status.CLEAN and "/app/a" not in state.marks  # no watermark yet
    state.marks["/app/a"] = T0 + HOUR
    recon.run(["/app/a"], Deadline.after_seconds(60), start_ms=T0, end_ms=T0 + 2 * HOUR)
    assert state.marks["/app/a"] == T0 + 2 * HOUR
    clipped = recon.run(["/app/a"], Deadline.after_seconds(60), start_ms=T0, end_ms=T0 + 9 * HOUR)
    assert clipped.groups[0].end_ms == T0 + 5 * HOUR - 900_000
    assert any("clipped" in note for note in clipped.groups[0].notes)
