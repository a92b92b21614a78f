"""The range check on in-memory counters: exactness, the API-call bound, proven-through."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logstream.reconcile.range_check import RangeCheck
from logstream.reconcile.window import Tuning, Window
from logstream.retry import Deadline
from tests.unit.reconcile.fakes import (
    GROUP,
    HOUR,
    T0,
    Fetcher,
    MemoryIndex,
    MemoryRepairer,
    MemorySource,
    check,
    make_events,
    runs_of,
)


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
