"""The worker's counts: a page counts once, for the worker that saved it."""

from __future__ import annotations

from typing import Any, cast

import pytest

from logstream.aws.cloudwatch import CloudWatchSource, EventPage
from logstream.backfill.chunk_store import ChunkStore
from logstream.backfill.job_store import JobStore
from logstream.backfill.model import Chunk, JobStatus
from logstream.backfill.worker import BackfillWorker
from logstream.retry import Deadline
from logstream.shipping.report import DeliveryIncomplete, ShipReport
from logstream.shipping.service import Shipper

CHUNK = Chunk("job", 0, "/g", "123456789012", 0, 1_000, "leased", None, 0)


class Jobs:
    def job_ids(self, *, active_only: bool) -> list[str]:
        return ["job"]

    def status(self, job_id: str) -> str:
        return JobStatus.ACTIVE


class Chunks:
    def __init__(self, *, keeps_lease: bool) -> None:
        self.keeps_lease = keeps_lease
        self.saved: list[int] = []

    def open_chunks(self, job_id: str) -> list[Chunk]:
        return [CHUNK]

    def lease(self, chunk: Chunk, owner: str, lease_ms: int) -> Chunk:
        return chunk

    def save_page(self, chunk: Chunk, owner: str, **page: Any) -> bool:
        if self.keeps_lease:
            self.saved.append(page["events"])
        return self.keeps_lease

    def complete(self, chunk: Chunk, owner: str) -> bool:
        return True


class Source:
    def filter_page(self, *args: Any, **kwargs: Any) -> EventPage:
        events = [{"id": str(i), "timestamp": i, "message": "m"} for i in range(7)]
        return EventPage(events=events, next_token=None)


class CountingShipper:
    def ship_events(self, events: list[Any], *args: Any, **kwargs: Any) -> ShipReport:
        return ShipReport(events=len(events), delivered=len(events))


def _worker(chunks: Chunks) -> BackfillWorker:
    return BackfillWorker(
        cast(JobStore, Jobs()),
        cast(ChunkStore, chunks),
        cast(CloudWatchSource, Source()),
        cast(Shipper, CountingShipper()),
        region="us-east-1",
        lease_ms=60_000,
        clock=lambda: 0.0,
    )


def test_a_page_saved_under_the_lease_counts_for_this_worker() -> None:
    chunks = Chunks(keeps_lease=True)
    report = _worker(chunks).run(Deadline(lambda: 600_000))
    assert (report.pages, report.events, report.delivered) == (1, 7, 7)
    assert chunks.saved == [7]


def test_a_page_whose_lease_was_lost_counts_only_for_the_worker_that_took_over() -> None:
    report = _worker(Chunks(keeps_lease=False)).run(Deadline(lambda: 600_000))
    assert report.lost_leases == 1
    assert (report.pages, report.events, report.delivered) == (0, 0, 0)


class ReleasingChunks(Chunks):
    def __init__(self) -> None:
        super().__init__(keeps_lease=True)
        self.released: list[int] = []

    def release(self, chunk: Chunk, owner: str) -> bool:
        self.released.append(chunk.number)
        return True


class TimeRunningOut:
    """A shipper whose delivery runs into the deadline: the clock says so after it."""

    def __init__(self, clock: list[int]) -> None:
        self.clock = clock

    def ship_events(self, events: list[Any], *args: Any, **kwargs: Any) -> ShipReport:
        self.clock[0] = 500  # ms left once the page has used up the time
        report = ShipReport(events=len(events), undelivered=len(events))
        raise DeliveryIncomplete(report, [])


def _worker_with(chunks: Chunks, shipper: object) -> BackfillWorker:
    return BackfillWorker(
        cast(JobStore, Jobs()),
        cast(ChunkStore, chunks),
        cast(CloudWatchSource, Source()),
        cast(Shipper, shipper),
        region="us-east-1",
        lease_ms=60_000,
        clock=lambda: 0.0,
    )


def test_a_page_that_runs_into_the_deadline_hands_the_chunk_back_instead_of_failing() -> None:
    left = [600_000]
    chunks = ReleasingChunks()
    report = _worker_with(chunks, TimeRunningOut(left)).run(Deadline(lambda: left[0]))
    assert chunks.released == [0]
    assert report.stopped_before_deadline
    assert chunks.saved == []  # the page was not acknowledged: its token is not saved


def test_a_delivery_failure_with_time_left_fails_the_invocation() -> None:
    class ClusterDown:
        def ship_events(self, events: list[Any], *args: Any, **kwargs: Any) -> ShipReport:
            raise DeliveryIncomplete(ShipReport(events=len(events), undelivered=len(events)), [])

    chunks = ReleasingChunks()
    with pytest.raises(DeliveryIncomplete):
        _worker_with(chunks, ClusterDown()).run(Deadline(lambda: 600_000))
    assert chunks.released == []  # the lease stays until it expires
