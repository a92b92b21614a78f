"""The FilterLogEvents counter stops between pages when the deadline's reserve is reached."""

from __future__ import annotations

from typing import Any

import pytest

from logstream.aws.cloudwatch import EventPage
from logstream.reconcile.ports import CountingOutOfTime
from logstream.reconcile.range_check import RangeCheck
from logstream.reconcile.source_counts import FilterLogEventsCounter
from logstream.reconcile.window import Tuning, Window
from logstream.retry import Deadline
from tests.unit.reconcile.fakes import (
    GROUP,
    T0,
    Fetcher,
    MemoryIndex,
    MemoryRepairer,
    MemorySource,
    make_events,
)

HOUR = 3_600_000


class EndlessPages:
    """A busy day: every page has more after it, and each page costs 1 s of a fake clock."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.pages = 0

    def deadline(self, budget: float) -> Deadline:
        return Deadline(lambda: int((budget - self.elapsed) * 1000))

    def filter_page(
        self, log_group: str, start: int, end: int, deadline: Deadline, **kw: Any
    ) -> EventPage:
        self.pages += 1
        self.elapsed += 1.0
        return EventPage(make_events([start + self.pages]), f"token-{self.pages}")


def test_the_counter_stops_between_pages_at_the_reserve() -> None:
    pages = EndlessPages()
    counter = FilterLogEventsCounter(pages, reserve_secs=5)  # type: ignore[arg-type]
    with pytest.raises(CountingOutOfTime):
        counter.counts(GROUP, Window(T0, T0 + HOUR), HOUR, pages.deadline(20))
    assert pages.pages == 16  # stopped below the reserve, not after a whole day


def test_a_range_check_counting_with_it_stops_as_out_of_time() -> None:
    pages = EndlessPages()
    index = MemoryIndex()
    source = MemorySource([])
    outcome = RangeCheck(
        GROUP,
        source=FilterLogEventsCounter(pages, reserve_secs=5),  # type: ignore[arg-type]
        fetcher=Fetcher(source),
        index=index,
        repairer=MemoryRepairer(index),
        tuning=Tuning(reserve_secs=5),
    ).run(Window(T0, T0 + HOUR), pages.deadline(20))
    assert outcome.stopped == "deadline"
    assert outcome.proven_through == T0
