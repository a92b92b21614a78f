"""Backfill jobs in the state table: the job item, the job index, counters and status.

Items and keys: :mod:`logstream.state_table` (``backfill#<job>`` / ``job`` and
``backfill-jobs`` / ``<created>#<job>``). A job's status moves once, from
active to done or cancelled, with a conditional write.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from logstream.backfill.model import JobNotFound, JobStatus, JobView
from logstream.backfill.plan import JobPlan
from logstream.state_table import (
    BACKFILL_JOBS_PK,
    backfill_index_key,
    backfill_job_key,
    condition_failed,
    n,
    s,
)
from logstream.times import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

#: What a job id can look like; anything else cannot name a job (and may not fit a key).
_JOB_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


class JobStore:
    """Jobs: create, read, list, count progress, finish or cancel."""

    def __init__(
        self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def create(self, plan: JobPlan) -> None:
        """Write the job, then its index entry: workers find a job through the index, so it
        is listed only once the job (and, written before it, its chunks) exists."""
        now = self._now_ms()
        status = JobStatus.ACTIVE if plan.chunks else JobStatus.DONE
        job: dict[str, Any] = {
            **backfill_job_key(plan.job_id),
            "status": s(status),
            "log_groups": {"L": [s(g) for g in plan.groups] or [s("-")]},
            "start_ms": n(plan.request.start_ms),
            "end_ms": n(plan.request.end_ms),
            "chunks_total": n(len(plan.chunks)),
            "chunks_done": n(0),
            "events": n(0),
            "quarantined": n(0),
            "created_ms": n(now),
            "warnings": {"L": [s(w) for w in plan.warnings]},
        }
        self._client.put_item(TableName=self._table, Item=job)
        self._client.put_item(
            TableName=self._table,
            Item={
                **backfill_index_key(iso(now), plan.job_id),
                "job_id": s(plan.job_id),
                "status": s(status),
            },
        )

    def _item(self, job_id: str) -> dict[str, Any]:
        if not _JOB_ID.fullmatch(job_id):
            raise JobNotFound(job_id)
        item = self._client.get_item(
            TableName=self._table, Key=backfill_job_key(job_id), ConsistentRead=True
        ).get("Item")
        if not item:
            raise JobNotFound(job_id)
        return dict(item)

    def status(self, job_id: str) -> str:
        return str(self._item(job_id)["status"]["S"])

    def view(self, job_id: str) -> JobView:
        item = self._item(job_id)
        total = int(item["chunks_total"]["N"])
        done = int(item["chunks_done"]["N"])
        started = int(item["started_ms"]["N"]) if "started_ms" in item else None
        finished = int(item["finished_ms"]["N"]) if "finished_ms" in item else None
        eta = None
        if started is not None and finished is None and 0 < done < total:
            elapsed = self._now_ms() - started
            eta = int(elapsed * (total - done) / done / 1000)
        return JobView(
            job_id=job_id,
            status=item["status"]["S"],
            log_groups=[g["S"] for g in item["log_groups"]["L"] if g["S"] != "-"],
            start=iso(int(item["start_ms"]["N"])),
            end=iso(int(item["end_ms"]["N"])),
            chunks_total=total,
            chunks_done=done,
            events_shipped=int(item["events"]["N"]),
            quarantined=int(item["quarantined"]["N"]),
            created_at=iso(int(item["created_ms"]["N"])),
            started_at=iso(started) if started is not None else None,
            finished_at=iso(finished) if finished is not None else None,
            eta_seconds=eta,
            warnings=[w["S"] for w in item.get("warnings", {}).get("L", [])],
        )

    def job_ids(self, *, active_only: bool) -> list[str]:
        """Every job's id from the index, oldest first."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": s(BACKFILL_JOBS_PK)},
        }
        if active_only:
            kwargs["FilterExpression"] = "#s = :active"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"][":active"] = s(JobStatus.ACTIVE)
        ids: list[str] = []
        while True:
            page = self._client.query(**kwargs)
            ids += [item["job_id"]["S"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def cancel(self, job_id: str) -> JobView:
        self._item(job_id)
        self.finish(job_id, JobStatus.CANCELLED)
        return self.view(job_id)

    def finish(self, job_id: str, status: JobStatus) -> bool:
        """Move an active job to ``status`` (done or cancelled); False if it was not active."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=backfill_job_key(job_id),
                UpdateExpression="SET #s = :status, finished_ms = :now",
                ConditionExpression="#s = :active",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":status": s(status),
                    ":active": s(JobStatus.ACTIVE),
                    ":now": n(self._now_ms()),
                },
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        self._set_index_status(job_id, status)
        return True

    def _set_index_status(self, job_id: str, status: JobStatus) -> None:
        created = self._item(job_id)["created_ms"]["N"]
        self._client.update_item(
            TableName=self._table,
            Key=backfill_index_key(iso(int(created)), job_id),
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": s(status)},
        )

    def add_progress(self, job_id: str, *, events: int, quarantined: int) -> None:
        """Count an acknowledged page's events on its job (and note when work started)."""
        self._client.update_item(
            TableName=self._table,
            Key=backfill_job_key(job_id),
            UpdateExpression=(
                "ADD events :e, quarantined :q SET started_ms = if_not_exists(started_ms, :now)"
            ),
            ExpressionAttributeValues={
                ":e": n(events),
                ":q": n(quarantined),
                ":now": n(self._now_ms()),
            },
        )

    def count_chunk_done(self, job_id: str) -> None:
        """Count one finished chunk; the last one finishes the job."""
        answer = self._client.update_item(
            TableName=self._table,
            Key=backfill_job_key(job_id),
            UpdateExpression="ADD chunks_done :one",
            ExpressionAttributeValues={":one": n(1)},
            ReturnValues="ALL_NEW",
        )
        job = answer["Attributes"]
        if int(job["chunks_done"]["N"]) >= int(job["chunks_total"]["N"]):
            self.finish(job_id, JobStatus.DONE)
