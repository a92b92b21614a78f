"""Backfill planning on an in-memory CloudWatch: groups resolved, ranges clamped, chunks cut."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from logstream.aws.cloudwatch import EventPage, LogGroupInfo, LogGroupNotFound
from logstream.backfill.model import BackfillInputError
from logstream.backfill.plan import (
    HOUR_MS,
    MAX_GROUPS_PER_JOB,
    ChunkPlan,
    JobPlan,
    chunk_span_ms,
    plan_job,
)
from logstream.backfill.request import DAY_MS, EARLIEST_MS, BackfillRequest
from logstream.own_groups import OwnGroups
from logstream.retry import Deadline
from logstream.times import parse_time

NOW = parse_time("2026-11-24T10:00:00Z", "now")
MAX_DAYS = 400


class FakeSource:
    """Just enough of CloudWatchSource for planning: group look-ups."""

    def __init__(self, *groups: LogGroupInfo) -> None:
        self.groups = {g.name: g for g in groups}
        self.calls: Counter[str] = Counter()

    def describe_group(self, log_group: str, deadline: Deadline) -> LogGroupInfo:
        self.calls["DescribeLogGroups"] += 1
        if log_group not in self.groups:
            raise LogGroupNotFound(log_group)
        return self.groups[log_group]

    def groups_with_prefix(self, prefix: str, deadline: Deadline) -> list[LogGroupInfo]:
        self.calls["DescribeLogGroups"] += 1
        return [g for name, g in sorted(self.groups.items()) if name.startswith(prefix)]

    def filter_page(self, *args: object, **kwargs: object) -> EventPage:
        raise AssertionError("planning never reads events")


def group(
    name: str, *, retention_days: int | None = None, stored_bytes: int = 0, age_days: int = 100
) -> LogGroupInfo:
    return LogGroupInfo(
        name=name,
        account="123456789012",
        created_ms=NOW - age_days * DAY_MS,
        retention_days=retention_days,
        stored_bytes=stored_bytes,
    )


def plan(request: BackfillRequest, source: FakeSource, *, target: int = 50_000) -> JobPlan:
    return plan_job(
        request,
        source,
        Deadline.after_seconds(60),
        now_ms=NOW,
        max_days=MAX_DAYS,
        target_chunk_events=target,
    )


def covered(chunks: list[ChunkPlan], log_group: str) -> list[tuple[int, int]]:
    return [(c.start_ms, c.end_ms) for c in chunks if c.log_group == log_group]


def assert_contiguous(windows: list[tuple[int, int]], start: int, end: int) -> None:
    assert windows[0][0] == start
    assert windows[-1][1] == end
    assert all(a_end == b_start for (_, a_end), (b_start, _) in itertools.pairwise(windows))
    assert all(lo < hi for lo, hi in windows)


def test_chunks_cover_the_range_exactly_and_align_to_the_span() -> None:
    source = FakeSource(group("/a"))
    request = BackfillRequest(("/a",), NOW - 2 * DAY_MS + 123, NOW)
    result = plan(request, source)
    windows = covered(result.chunks, "/a")
    assert_contiguous(windows, request.start_ms, NOW)
    span = 6 * HOUR_MS  # no stored size known
    assert all(hi % span == 0 for _, hi in windows[:-1])
    assert result.groups == ["/a"]
    assert result.warnings == []
    assert all(c.account == "123456789012" for c in result.chunks)
    assert len(result.job_id) == 16


def test_names_and_prefixes_resolve_each_group_once() -> None:
    source = FakeSource(group("/app/one"), group("/app/two"), group("/other"))
    request = BackfillRequest(("/app/one", "/app/*", "/other"), NOW - DAY_MS, NOW)
    result = plan(request, source)
    assert result.groups == ["/app/one", "/app/two", "/other"]
    for name in result.groups:
        assert_contiguous(covered(result.chunks, name), NOW - DAY_MS, NOW)


def test_a_range_longer_than_max_days_is_clamped_with_a_warning() -> None:
    source = FakeSource(group("/a"))
    result = plan(BackfillRequest(("/a",), NOW - 3650 * DAY_MS, NOW), source)
    assert_contiguous(covered(result.chunks, "/a"), NOW - MAX_DAYS * DAY_MS, NOW)
    assert len(result.warnings) == 1
    assert f"BACKFILL_MAX_DAYS={MAX_DAYS}" in result.warnings[0]


def test_a_range_from_the_epoch_is_clamped_like_any_long_range() -> None:
    # What parse_request makes of days=10**9.
    source = FakeSource(group("/a"))
    result = plan(BackfillRequest(("/a",), EARLIEST_MS, NOW), source)
    assert_contiguous(covered(result.chunks, "/a"), NOW - MAX_DAYS * DAY_MS, NOW)
    assert len(result.chunks) <= MAX_DAYS * 4 + 1
    assert "BACKFILL_MAX_DAYS" in result.warnings[0]


def test_a_range_older_than_the_retention_starts_at_the_retention() -> None:
    source = FakeSource(group("/kept", retention_days=7))
    result = plan(BackfillRequest(("/kept",), NOW - 30 * DAY_MS, NOW), source)
    assert_contiguous(covered(result.chunks, "/kept"), NOW - 7 * DAY_MS, NOW)
    assert ["retention is 7 days" in w for w in result.warnings] == [True]


def test_an_end_in_the_future_stops_at_now() -> None:
    source = FakeSource(group("/a"))
    result = plan(BackfillRequest(("/a",), NOW - DAY_MS, NOW + 365 * DAY_MS), source)
    assert_contiguous(covered(result.chunks, "/a"), NOW - DAY_MS, NOW)


def test_a_range_entirely_in_the_future_plans_nothing_and_says_so() -> None:
    source = FakeSource(group("/a"))
    result = plan(BackfillRequest(("/a",), NOW + DAY_MS, NOW + 2 * DAY_MS), source)
    assert result.chunks == []
    assert result.groups == ["/a"]
    assert ["nothing to backfill" in w for w in result.warnings] == [True]


def test_a_range_entirely_before_the_retention_plans_nothing() -> None:
    source = FakeSource(group("/kept", retention_days=1))
    result = plan(BackfillRequest(("/kept",), NOW - 30 * DAY_MS, NOW - 10 * DAY_MS), source)
    assert result.chunks == []
    assert any("nothing to backfill" in w for w in result.warnings)


def test_an_unknown_group_or_an_empty_prefix_is_refused() -> None:
    source = FakeSource(group("/a"))
    with pytest.raises(BackfillInputError, match="does not exist"):
        plan(BackfillRequest(("/missing",), NOW - DAY_MS, NOW), source)
    with pytest.raises(BackfillInputError, match="no log group matches"):
        plan(BackfillRequest(("/nothing*",), NOW - DAY_MS, NOW), source)


def test_a_job_covers_at_most_max_groups() -> None:
    names = [f"/many/{n:04d}" for n in range(MAX_GROUPS_PER_JOB)]
    source = FakeSource(*(group(name) for name in names))
    assert len(plan(BackfillRequest(("/many/*",), NOW - DAY_MS, NOW), source).groups) == len(names)
    source = FakeSource(*(group(name) for name in [*names, "/many/extra"]))
    with pytest.raises(BackfillInputError, match=f"more than {MAX_GROUPS_PER_JOB} log groups"):
        plan(BackfillRequest(("/many/*",), NOW - DAY_MS, NOW), source)


def test_a_dense_group_is_cut_finer_but_never_into_more_than_5000_chunks() -> None:
    dense = group("/dense", stored_bytes=10**15, age_days=400)
    assert chunk_span_ms(dense, NOW, 50_000) == 15 * 60_000  # the shortest chunk
    result = plan(BackfillRequest(("/dense",), NOW - MAX_DAYS * DAY_MS, NOW), FakeSource(dense))
    assert len(result.chunks) <= 5_000
    assert_contiguous(covered(result.chunks, "/dense"), NOW - MAX_DAYS * DAY_MS, NOW)


def test_chunk_span_follows_density_within_bounds() -> None:
    # 200 bytes an event: 1e9 bytes over 100 days = 5e6 events, 50,000 a day.
    medium = group("/medium", stored_bytes=10**9, age_days=100)
    assert chunk_span_ms(medium, NOW, 50_000) == DAY_MS
    assert chunk_span_ms(medium, NOW, 25_000) == DAY_MS // 2
    assert chunk_span_ms(group("/sparse", stored_bytes=1), NOW, 50_000) == DAY_MS
    assert chunk_span_ms(group("/unknown"), NOW, 50_000) == 6 * HOUR_MS


def test_logstream_own_groups_are_never_planned_whatever_pattern_names_them() -> None:
    own = OwnGroups(frozenset({"/aws/lambda/decoder"}), ("/aws/lambda/logstream-",))
    source = FakeSource(
        group("/aws/lambda/orders"),
        group("/aws/lambda/decoder"),
        group("/aws/lambda/logstream-ReconcileFunction-AB12"),
    )
    request = BackfillRequest(("/*",), NOW - DAY_MS, NOW)
    result = plan_job(
        request,
        source,
        Deadline.after_seconds(60),
        now_ms=NOW,
        max_days=MAX_DAYS,
        target_chunk_events=50_000,
        exclude=own,
    )
    assert result.groups == ["/aws/lambda/orders"]
    assert {c.log_group for c in result.chunks} == {"/aws/lambda/orders"}
    assert sorted(result.warnings) == [
        "/aws/lambda/decoder is logstream's own log group: not backfilled",
        "/aws/lambda/logstream-ReconcileFunction-AB12 is logstream's own log group: not backfilled",
    ]
