"""The backfill worker: lease chunks, page FilterLogEvents, ship, save the resume token.

Chunks are tried round-robin across groups (:mod:`~logstream.backfill.claim_order`),
so one large group or an old large job cannot hold up the others.

Each page goes through the live path's :class:`~logstream.shipping.Shipper`
and its ``nextToken`` is saved only after the cluster acknowledged the page.
A worker that stops before its deadline releases its chunk, and the next one
resumes mid-chunk; a worker that dies keeps its lease until it expires, then
the chunk resumes from the last acknowledged page. Replays are harmless:
``_id`` = event id, op ``create``, a 409 is a duplicate.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Final

from botocore.exceptions import ClientError

from logstream.aws.cloudwatch import CloudWatchSource
from logstream.backfill.chunk_store import ChunkStore
from logstream.backfill.claim_order import round_robin
from logstream.backfill.job_store import JobStore
from logstream.backfill.model import Chunk, JobStatus, WorkReport
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.shipping.documents import EventOrigin
from logstream.shipping.report import DeliveryIncomplete
from logstream.shipping.service import Shipper

#: Seconds a page may need before any was timed; pages then set it (twice the last one).
_FIRST_PAGE_BUDGET: Final = 5.0
#: Time left below which an incomplete delivery is the deadline's doing, not the cluster's.
_OUT_OF_TIME_SECS: Final = 2.0


class BackfillWorker:
    """Leases chunks and ships them until there is no work or no time left."""

    def __init__(
        self,
        jobs: JobStore,
        chunks: ChunkStore,
        source: CloudWatchSource,
        shipper: Shipper,
        *,
        region: str,
        lease_ms: int,
        owner: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._jobs = jobs
        self._chunks = chunks
        self._source = source
        self._shipper = shipper
        self._region = region
        self._lease_ms = lease_ms
        self._owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self._clock = clock
        self._page_budget = _FIRST_PAGE_BUDGET

    def run(self, deadline: Deadline, *, job_ids: Sequence[str] | None = None) -> WorkReport:
        started = self._clock()
        report = WorkReport(worker=self._owner)
        self._page_budget = _FIRST_PAGE_BUDGET
        try:
            jobs = job_ids if job_ids is not None else self._jobs.job_ids(active_only=True)
            self._work(self._candidates(jobs, deadline, report), deadline, report)
        finally:
            report.seconds = self._clock() - started
            count(Metric.BACKFILL_EVENTS, report.events)
            count(Metric.BACKFILL_CHUNKS_COMPLETED, len(report.chunks_completed))
        return report

    def _candidates(
        self, job_ids: Sequence[str], deadline: Deadline, report: WorkReport
    ) -> list[Chunk]:
        """Open chunks of the jobs (oldest first), round-robin across groups."""
        open_by_job: list[list[Chunk]] = []
        for job_id in job_ids:
            if deadline.remaining() < self._page_budget:
                report.stopped_before_deadline = True
                break
            open_by_job.append(self._chunks.open_chunks(job_id))
        return round_robin(open_by_job)

    def _work(self, candidates: list[Chunk], deadline: Deadline, report: WorkReport) -> None:
        """Lease and ship candidates in turn until none is left or time runs short."""
        finished: set[str] = set()  # jobs no longer active
        for candidate in candidates:
            if deadline.remaining() < self._page_budget:
                report.stopped_before_deadline = True
                return
            if candidate.job_id in finished:
                continue
            if self._jobs.status(candidate.job_id) != JobStatus.ACTIVE:
                finished.add(candidate.job_id)
                continue
            chunk = self._chunks.lease(candidate, self._owner, self._lease_ms)
            if chunk is None:
                continue  # another worker holds it
            report.chunks_touched.append(f"{chunk.job_id}/{chunk.number}")
            if not self._work_chunk(chunk, deadline, report):
                return

    def _work_chunk(self, chunk: Chunk, deadline: Deadline, report: WorkReport) -> bool:
        """Ship a leased chunk page by page; False when the invocation must stop."""
        origin = EventOrigin(
            log_group=chunk.log_group, log_stream="", owner=chunk.account, region=self._region
        )
        token = chunk.next_token
        while True:
            if deadline.remaining() < self._page_budget:
                self._chunks.release(chunk, self._owner)
                report.stopped_before_deadline = True
                return False
            if self._jobs.status(chunk.job_id) != JobStatus.ACTIVE:
                self._chunks.release(chunk, self._owner)
                return True
            page_started = self._clock()
            try:
                page = self._source.filter_page(
                    chunk.log_group, chunk.start_ms, chunk.end_ms, deadline, next_token=token
                )
            except ClientError as error:
                if token and error.response.get("Error", {}).get("Code") == (
                    "InvalidParameterException"
                ):
                    logger.warning("resume token rejected; replaying the chunk from its start")
                    self._chunks.restart_chunk(chunk, self._owner)
                    token = None
                    continue
                raise
            try:
                shipped = self._shipper.ship_events(page.events, origin, deadline)
            except DeliveryIncomplete:
                if deadline.remaining() > _OUT_OF_TIME_SECS:
                    # The cluster failed, not the clock: fail the invocation. The lease
                    # stays until it expires; the chunk resumes from the last saved page.
                    raise
                # A page slower than its budget ran into the deadline: hand the chunk
                # back now, so the next worker resumes it from the last saved page.
                self._chunks.release(chunk, self._owner)
                report.stopped_before_deadline = True
                return False
            if not self._chunks.save_page(
                chunk,
                self._owner,
                next_token=page.next_token,
                events=shipped.events,
                quarantined=shipped.quarantined,
                lease_ms=self._lease_ms,
            ):
                # The page counts for the worker that now holds the chunk (it ships
                # it again, harmlessly): counted here too, it would count twice.
                report.lost_leases += 1
                logger.warning("lease lost; another worker resumes the chunk")
                return True
            report.pages += 1
            report.events += shipped.events
            report.delivered += shipped.delivered
            report.duplicates += shipped.duplicates
            report.quarantined += shipped.quarantined
            self._page_budget = max(_FIRST_PAGE_BUDGET, 2 * (self._clock() - page_started))
            if page.next_token is None:
                if self._chunks.complete(chunk, self._owner):
                    report.chunks_completed.append(f"{chunk.job_id}/{chunk.number}")
                return True
            token = page.next_token
