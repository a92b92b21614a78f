"""Backfill claim order: one huge group (or an old huge job) cannot starve the others."""

from __future__ import annotations

from typing import Any, cast

from logstream.aws.cloudwatch import CloudWatchSource, EventPage
from logstream.backfill.chunk_store import ChunkStore
from logstream.backfill.claim_order import round_robin
from logstream.backfill.job_store import JobStore
from logstream.backfill.model import Chunk, JobStatus
from logstream.backfill.worker import BackfillWorker
from logstream.retry import Deadline
from logstream.shipping.report import ShipReport
from logstream.shipping.service import Shipper


def chunk(job: str, number: int, group: str) -> Chunk:
    return Chunk(job, number, group, "123456789012", number, number + 1, "pending", None, 0)


def test_round_robin_interleaves_groups_across_jobs_oldest_first() -> None:
    huge = [chunk("old", n, "/huge") for n in range(4)] + [chunk("old", 4, "/small")]
    newer = [chunk("new", 0, "/fresh"), chunk("new", 1, "/fresh")]
    order = [(c.job_id, c.number) for c in round_robin([huge, newer])]
    assert order == [
        ("old", 0),  # /huge's first
        ("old", 4),  # /small's only
        ("new", 0),  # /fresh's first
        ("old", 1),
        ("new", 1),
        ("old", 2),
        ("old", 3),
    ]


class Jobs:
    def __init__(self, chunks: dict[str, list[Chunk]]) -> None:
        self.chunks = chunks

    def job_ids(self, *, active_only: bool) -> list[str]:
        return list(self.chunks)

    def status(self, job_id: str) -> str:
        return JobStatus.ACTIVE


class Chunks:
    def __init__(self, jobs: dict[str, list[Chunk]]) -> None:
        self.jobs = jobs
        self.done: list[str] = []

    def open_chunks(self, job_id: str) -> list[Chunk]:
        return [c for c in self.jobs[job_id] if f"{c.job_id}/{c.number}" not in self.done]

    def lease(self, candidate: Chunk, owner: str, lease_ms: int) -> Chunk:
        return candidate

    def save_page(self, candidate: Chunk, owner: str, **page: Any) -> bool:
        return True

    def complete(self, candidate: Chunk, owner: str) -> bool:
        self.done.append(f"{candidate.job_id}/{candidate.number}")
        return True

    def release(self, candidate: Chunk, owner: str) -> bool:
        return True


class OnePage:
    def filter_page(self, *args: Any, **kwargs: Any) -> EventPage:
        return EventPage(events=[{"id": "1", "timestamp": 1, "message": "m"}], next_token=None)


class Shipping:
    def ship_events(self, events: list[Any], *args: Any, **kwargs: Any) -> ShipReport:
        return ShipReport(events=len(events), delivered=len(events))


def test_a_new_groups_job_is_worked_before_an_old_huge_job_finishes() -> None:
    """Each worker run has time for 3 chunks (one look at the clock per page and per chunk)."""
    jobs = {
        "old": [chunk("old", n, "/huge") for n in range(50)],
        "new": [chunk("new", 0, "/fresh")],
    }
    chunks = Chunks(jobs)
    left = [0]
    worker = BackfillWorker(
        cast(JobStore, Jobs(jobs)),
        cast(ChunkStore, chunks),
        cast(CloudWatchSource, OnePage()),
        cast(Shipper, Shipping()),
        region="us-east-1",
        lease_ms=60_000,
        clock=lambda: 0.0,
    )

    def remaining() -> int:
        left[0] -= 10_000
        return max(0, left[0])

    left[0] = 90_000
    first = worker.run(Deadline(remaining))
    assert first.stopped_before_deadline
    assert "new/0" in chunks.done  # in the first run, not after 50 chunks of /huge
    assert chunks.done.index("new/0") == 1
