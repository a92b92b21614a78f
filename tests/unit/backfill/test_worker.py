"""The worker's counts: a page counts once, for the worker that saved it."""

from __future__ import annotations

from typing import Any, cast

from logstream.aws.cloudwatch import CloudWatchSource, EventPage
from logstream.backfill.chunk_store import ChunkStore
from logstream.backfill.job_store import JobStore
from logstream.backfill.model import Chunk, JobStatus
from logstream.backfill.worker import BackfillWorker
from logstream.retry import Deadline
from logstream.shipping.report import ShipReport
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
