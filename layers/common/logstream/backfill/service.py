"""The backfill operations the function, the CLI and auto-backfill call.

``start`` validates a request, plans it and stores job and chunks (once per
client token); ``work`` runs a worker until there is no work or no time left;
``status``, ``cancel`` and ``list_jobs`` read and steer jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from logstream.aws.cloudwatch import CloudWatchSource
from logstream.backfill.chunk_store import ChunkStore
from logstream.backfill.claims import GroupClaims
from logstream.backfill.job_store import JobStore
from logstream.backfill.model import JobNotFound, JobView, WorkReport
from logstream.backfill.plan import plan_job
from logstream.backfill.request import parse_request
from logstream.backfill.tokens import ClientTokens
from logstream.backfill.worker import BackfillWorker
from logstream.observability import logger
from logstream.own_groups import OwnGroups
from logstream.retry import Deadline
from logstream.shipping.service import Shipper


@dataclass(slots=True)
class BackfillService:
    """Backfill jobs: plan, work, read and cancel them."""

    jobs: JobStore
    chunks: ChunkStore
    claims: GroupClaims
    source: CloudWatchSource
    shipper: Shipper
    region: str
    default_groups: tuple[str, ...]
    default_days: int
    max_days: int
    target_chunk_events: int
    lease_ms: int
    tokens: ClientTokens | None = None
    own_groups: OwnGroups = field(default_factory=OwnGroups)
    clock: Callable[[], float] = time.time

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def start(self, payload: object, deadline: Deadline) -> JobView:
        """Plan a job from a manual request; BackfillInputError before anything is stored.

        With a ``client_token`` the request is planned once: a start that
        finds the token bound answers with that job and stores nothing.
        """
        request = parse_request(
            payload,
            now_ms=self._now_ms(),
            default_groups=self.default_groups,
            default_days=self.default_days,
        )
        token = request.client_token if self.tokens is not None else None
        bound = self.tokens.job_for(token) if self.tokens is not None and token else None
        if bound is not None and self._exists(bound):
            return self.jobs.view(bound)
        plan = plan_job(
            request,
            self.source,
            deadline,
            now_ms=self._now_ms(),
            max_days=self.max_days,
            target_chunk_events=self.target_chunk_events,
            exclude=self.own_groups,
        )
        if bound is not None:
            # The token's first start stopped before storing its job: finish it under its id.
            plan = replace(plan, job_id=bound)
        elif self.tokens is not None and token:
            owner = self.tokens.claim(token, plan.job_id)
            if owner != plan.job_id:
                return self.jobs.view(owner)
        # Chunks first: a job is offered to workers only once all its chunks exist.
        self.chunks.create(plan)
        self.jobs.create(plan)
        for warning in plan.warnings:
            logger.warning(warning, extra={"job_id": plan.job_id})
        logger.info(
            "backfill planned",
            extra={"job_id": plan.job_id, "groups": plan.groups, "chunks": len(plan.chunks)},
        )
        return self.jobs.view(plan.job_id)

    def _exists(self, job_id: str) -> bool:
        try:
            self.jobs.status(job_id)
        except JobNotFound:
            return False
        return True

    def worker(self, owner: str | None = None) -> BackfillWorker:
        return BackfillWorker(
            self.jobs,
            self.chunks,
            self.source,
            self.shipper,
            region=self.region,
            lease_ms=self.lease_ms,
            owner=owner,
        )

    def work(self, deadline: Deadline, job_ids: Sequence[str] | None = None) -> WorkReport:
        return self.worker().run(deadline, job_ids=job_ids)

    def status(self, job_id: str) -> JobView:
        return self.jobs.view(job_id)

    def cancel(self, job_id: str) -> JobView:
        return self.jobs.cancel(job_id)

    def list_jobs(self) -> list[JobView]:
        return [self.jobs.view(job_id) for job_id in self.jobs.job_ids(active_only=False)]
