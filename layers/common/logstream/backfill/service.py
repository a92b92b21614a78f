"""Backfill: history into the index in resumable chunks, exactly once beside the live stream.

A *job* covers some log groups over a time range. Planning splits it into
*chunks* (one group, one half-open time window sized by the group's event
density) and records job and chunks in the state table. Workers lease chunks
with conditional writes, page FilterLogEvents, ship each page through the same
:class:`~logstream.shipping.Shipper` as the live path, and save the page's
``nextToken`` only after the cluster acknowledged it. So:

- a worker that stops before its deadline releases the chunk and the next one
  resumes mid-chunk; a worker that dies keeps its lease until it expires, then
  the chunk resumes from the last acknowledged page;
- two workers never hold one chunk at once (the lease is a conditional write);
- replays are harmless: ``_id`` = event id, op ``create``, a 409 is a duplicate.

State-table items (``pk`` / ``sk``):

- ``backfill#<job>`` / ``job``: status, range, groups, counters, warnings
- ``backfill#<job>`` / ``chunk#<n>``: group, window, status, lease, nextToken, counters
- ``backfill-jobs`` / ``<created>#<job>``: the index of jobs, for listing and for workers
- ``subscribed#<group>`` / ``group``: groups already seen (auto-backfill runs once)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from logstream.aws.cloudwatch import CloudWatchSource, LogGroupInfo, LogGroupNotFound
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.shipping.documents import EventOrigin
from logstream.shipping.service import Shipper
from logstream.times import iso, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DAY_MS: Final = 86_400_000
HOUR_MS: Final = 3_600_000
_MIN_CHUNK_MS: Final = 15 * 60_000
_MAX_CHUNK_MS: Final = DAY_MS
_MAX_CHUNKS_PER_JOB: Final = 5_000
#: Rough bytes CloudWatch stores per event, to turn storedBytes into a density.
_BYTES_PER_EVENT: Final = 200
_JOBS_PK: Final = "backfill-jobs"


class BackfillInputError(ValueError):
    """The request cannot be planned as asked; the message says why."""


class JobNotFound(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"backfill job {job_id!r} does not exist")


class JobStatus(StrEnum):
    ACTIVE = "active"
    DONE = "done"
    CANCELLED = "cancelled"


class ChunkStatus(StrEnum):
    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """What to backfill: group names or ``prefix*`` patterns, and a half-open range."""

    log_groups: tuple[str, ...]
    start_ms: int
    end_ms: int


def parse_request(
    payload: Mapping[str, Any], *, now_ms: int, default_groups: Sequence[str], default_days: int
) -> BackfillRequest:
    """Validate a manual start request: ``log_groups``, and ``days`` or ``start``/``end``."""
    groups = payload.get("log_groups", payload.get("log_group", list(default_groups)))
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise BackfillInputError("log_groups must be a list of log group names or prefixes*")
    if not groups:
        raise BackfillInputError("no log_groups given and LOG_GROUPS is empty")
    if "days" in payload and ("start" in payload or "end" in payload):
        raise BackfillInputError("give either days or start/end, not both")
    if "start" in payload:
        try:
            start = parse_time(payload["start"], "start")
            end = parse_time(payload["end"], "end") if "end" in payload else now_ms
        except ValueError as error:
            raise BackfillInputError(str(error)) from None
    else:
        days = payload.get("days", default_days)
        if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
            raise BackfillInputError(f"days must be a positive whole number, not {days!r}")
        end = now_ms
        start = now_ms - days * DAY_MS
    if end <= start:
        raise BackfillInputError(
            f"the range ends ({iso(end)}) before or when it starts ({iso(start)})"
        )
    return BackfillRequest(tuple(dict.fromkeys(groups)), start, end)


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    log_group: str
    account: str
    start_ms: int
    end_ms: int


@dataclass(slots=True)
class JobPlan:
    job_id: str
    request: BackfillRequest
    chunks: list[ChunkPlan]
    warnings: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def chunk_span_ms(info: LogGroupInfo, now_ms: int, target_events: int) -> int:
    """A chunk length that holds about ``target_events`` at the group's average density."""
    lifetime_ms = max(HOUR_MS, now_ms - info.created_ms) if info.created_ms else 30 * DAY_MS
    if info.retention_days:
        lifetime_ms = min(lifetime_ms, info.retention_days * DAY_MS)
    events = info.stored_bytes / _BYTES_PER_EVENT
    if events <= 0:
        return 6 * HOUR_MS  # no size known (a new group, or an emulator): a safe middle
    span = int(target_events / (events / lifetime_ms))
    return max(_MIN_CHUNK_MS, min(_MAX_CHUNK_MS, span))


def plan_job(
    request: BackfillRequest,
    source: CloudWatchSource,
    deadline: Deadline,
    *,
    now_ms: int,
    max_days: int,
    target_chunk_events: int,
) -> JobPlan:
    """Resolve groups, clamp the range per group, and cut it into chunks."""
    plan = JobPlan(job_id=uuid.uuid4().hex[:16], request=request, chunks=[])
    for pattern in request.log_groups:
        if pattern.endswith("*"):
            infos = source.groups_with_prefix(pattern[:-1], deadline)
            if not infos:
                raise BackfillInputError(f"no log group matches {pattern!r}")
        else:
            try:
                infos = [source.describe_group(pattern, deadline)]
            except LogGroupNotFound:
                raise BackfillInputError(f"log group {pattern!r} does not exist") from None
        for info in infos:
            if info.name in plan.groups:
                continue
            plan.groups.append(info.name)
            start, end = _clamp(request, info, now_ms, max_days, plan.warnings)
            if end <= start:
                continue
            span = chunk_span_ms(info, now_ms, target_chunk_events)
            span = max(span, -(-(end - start) // _MAX_CHUNKS_PER_JOB))
            # Align to the span so re-planned jobs cut the same windows.
            cursor = start
            while cursor < end:
                upper = min(end, (cursor // span + 1) * span)
                plan.chunks.append(ChunkPlan(info.name, info.account, cursor, upper))
                cursor = upper
    return plan


def _clamp(
    request: BackfillRequest, info: LogGroupInfo, now_ms: int, max_days: int, warnings: list[str]
) -> tuple[int, int]:
    start, end = request.start_ms, request.end_ms
    end = min(end, now_ms)
    if end - start > max_days * DAY_MS:
        start = end - max_days * DAY_MS
        warnings.append(
            f"{info.name}: range longer than BACKFILL_MAX_DAYS={max_days}; clamped to start "
            f"at {iso(start)}"
        )
    if info.retention_days:
        oldest = now_ms - info.retention_days * DAY_MS
        if start < oldest:
            start = oldest
            warnings.append(
                f"{info.name}: retention is {info.retention_days} days; nothing older exists, "
                f"start clamped to {iso(start)}"
            )
    # Not clamped to the group's creation time: PutLogEvents accepts events
    # up to 14 days older than that.
    if end <= start:
        warnings.append(f"{info.name}: nothing to backfill in the requested range")
    return start, end


# --------------------------------------------------------------------------- the job store


@dataclass(slots=True)
class Chunk:
    job_id: str
    number: int
    log_group: str
    account: str
    start_ms: int
    end_ms: int
    status: str
    next_token: str | None
    events: int


@dataclass(slots=True)
class JobView:
    """A job's progress as an operator reads it."""

    job_id: str
    status: str
    log_groups: list[str]
    start: str
    end: str
    chunks_total: int
    chunks_done: int
    events_shipped: int
    quarantined: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    eta_seconds: int | None
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _job_key(job_id: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(f"backfill#{job_id}"), "sk": _s("job")}


def _chunk_key(job_id: str, number: int) -> dict[str, dict[str, str]]:
    return {"pk": _s(f"backfill#{job_id}"), "sk": _s(f"chunk#{number:06d}")}


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class BackfillStore:
    """Jobs, chunks and leases in the DynamoDB state table."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Any = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def create(self, plan: JobPlan) -> None:
        now = self._now_ms()
        created = iso(now)
        # Chunks first: a job is only listed for workers once all its chunks exist.
        items: list[dict[str, Any]] = [
            {
                **_chunk_key(plan.job_id, n),
                "log_group": _s(c.log_group),
                "account": _s(c.account),
                "start_ms": _n(c.start_ms),
                "end_ms": _n(c.end_ms),
                "status": _s(ChunkStatus.PENDING),
                "events": _n(0),
                "pages": _n(0),
            }
            for n, c in enumerate(plan.chunks)
        ]
        items.append(
            {
                **_job_key(plan.job_id),
                "status": _s(JobStatus.ACTIVE if plan.chunks else JobStatus.DONE),
                "log_groups": {"L": [_s(g) for g in plan.groups] or [_s("-")]},
                "start_ms": _n(plan.request.start_ms),
                "end_ms": _n(plan.request.end_ms),
                "chunks_total": _n(len(plan.chunks)),
                "chunks_done": _n(0),
                "events": _n(0),
                "quarantined": _n(0),
                "created_ms": _n(now),
                "warnings": {"L": [_s(w) for w in plan.warnings]},
            }
        )
        items.append(
            {
                "pk": _s(_JOBS_PK),
                "sk": _s(f"{created}#{plan.job_id}"),
                "job_id": _s(plan.job_id),
                "status": _s(JobStatus.ACTIVE if plan.chunks else JobStatus.DONE),
            }
        )
        for start in range(0, len(items), 25):
            requests: Any = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            pending: Any = {self._table: requests}
            while pending:
                answer = self._client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}

    def _job_item(self, job_id: str) -> dict[str, Any]:
        item = self._client.get_item(
            TableName=self._table, Key=_job_key(job_id), ConsistentRead=True
        ).get("Item")
        if not item:
            raise JobNotFound(job_id)
        return dict(item)

    def job_status(self, job_id: str) -> str:
        return str(self._job_item(job_id)["status"]["S"])

    def view(self, job_id: str) -> JobView:
        item = self._job_item(job_id)
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
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(_JOBS_PK)},
        }
        if active_only:
            kwargs["FilterExpression"] = "#s = :active"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"][":active"] = _s(JobStatus.ACTIVE)
        ids: list[str] = []
        while True:
            page = self._client.query(**kwargs)
            ids += [item["job_id"]["S"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def cancel(self, job_id: str) -> JobView:
        self._job_item(job_id)
        self._finish(job_id, JobStatus.CANCELLED)
        return self.view(job_id)

    def _finish(self, job_id: str, status: JobStatus) -> bool:
        """Move an active job to ``status`` (done or cancelled); False if it was not active."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_job_key(job_id),
                UpdateExpression="SET #s = :status, finished_ms = :now",
                ConditionExpression="#s = :active",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":status": _s(status),
                    ":active": _s(JobStatus.ACTIVE),
                    ":now": _n(self._now_ms()),
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        self._set_index_status(job_id, status)
        return True

    def _set_index_status(self, job_id: str, status: JobStatus) -> None:
        created = self._job_item(job_id)["created_ms"]["N"]
        self._client.update_item(
            TableName=self._table,
            Key={"pk": _s(_JOBS_PK), "sk": _s(f"{iso(int(created))}#{job_id}")},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": _s(status)},
        )

    def open_chunks(self, job_id: str) -> list[Chunk]:
        """Chunks not done yet (pending, or leased: their lease may have expired)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :chunk)",
            "FilterExpression": "#s <> :done",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":pk": _s(f"backfill#{job_id}"),
                ":chunk": _s("chunk#"),
                ":done": _s(ChunkStatus.DONE),
            },
            "ConsistentRead": True,
        }
        chunks: list[Chunk] = []
        while True:
            page = self._client.query(**kwargs)
            chunks += [_chunk_of(job_id, item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return chunks
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def lease(self, chunk: Chunk, owner: str, lease_ms: int) -> Chunk | None:
        """Take ``chunk`` if it is pending or its lease expired; None if someone holds it."""
        now = self._now_ms()
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_chunk_key(chunk.job_id, chunk.number),
                UpdateExpression=(
                    "SET #s = :leased, lease_owner = :me, lease_expires = :exp ADD attempts :one"
                ),
                ConditionExpression=("#s = :pending OR (#s = :leased AND lease_expires < :now)"),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":leased": _s(ChunkStatus.LEASED),
                    ":pending": _s(ChunkStatus.PENDING),
                    ":me": _s(owner),
                    ":exp": _n(now + lease_ms),
                    ":now": _n(now),
                    ":one": _n(1),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return _chunk_of(chunk.job_id, answer["Attributes"])

    def _update_chunk(
        self, chunk: Chunk, owner: str, expression: str, values: dict[str, Any]
    ) -> bool:
        """A write that only the lease holder may make; False when the lease was lost."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_chunk_key(chunk.job_id, chunk.number),
                UpdateExpression=expression,
                ConditionExpression="lease_owner = :me AND #s = :leased",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":me": _s(owner),
                    ":leased": _s(ChunkStatus.LEASED),
                    **values,
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def save_page(
        self,
        chunk: Chunk,
        owner: str,
        *,
        next_token: str | None,
        events: int,
        quarantined: int,
        lease_ms: int,
    ) -> bool:
        """Record an acknowledged page: the resume token and counters; renews the lease."""
        token_part = "next_token = :token, " if next_token else ""
        remove = "" if next_token else " REMOVE next_token"
        values: dict[str, Any] = {
            ":events": _n(events),
            ":exp": _n(self._now_ms() + lease_ms),
            ":one": _n(1),
        }
        if next_token:
            values[":token"] = _s(next_token)
        saved = self._update_chunk(
            chunk,
            owner,
            f"SET {token_part}lease_expires = :exp ADD events :events, pages :one{remove}",
            values,
        )
        if saved:
            self._add_job_counters(chunk.job_id, events=events, quarantined=quarantined)
        return saved

    def _add_job_counters(self, job_id: str, *, events: int, quarantined: int) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=_job_key(job_id),
            UpdateExpression=(
                "ADD events :e, quarantined :q SET started_ms = if_not_exists(started_ms, :now)"
            ),
            ExpressionAttributeValues={
                ":e": _n(events),
                ":q": _n(quarantined),
                ":now": _n(self._now_ms()),
            },
        )

    def restart_chunk(self, chunk: Chunk, owner: str) -> bool:
        """Forget an unusable resume token (they expire); the chunk replays harmlessly."""
        return self._update_chunk(chunk, owner, "REMOVE next_token", {})

    def release(self, chunk: Chunk, owner: str) -> bool:
        """Give a chunk back before the deadline; its resume token is kept."""
        return self._update_chunk(
            chunk,
            owner,
            "SET #s = :pending REMOVE lease_owner, lease_expires",
            {":pending": _s(ChunkStatus.PENDING)},
        )

    def complete(self, chunk: Chunk, owner: str) -> bool:
        """Mark a chunk done and count it on its job; finish the job with its last chunk."""
        if not self._update_chunk(
            chunk,
            owner,
            "SET #s = :done REMOVE lease_owner, lease_expires, next_token",
            {":done": _s(ChunkStatus.DONE)},
        ):
            return False
        answer = self._client.update_item(
            TableName=self._table,
            Key=_job_key(chunk.job_id),
            UpdateExpression="ADD chunks_done :one",
            ExpressionAttributeValues={":one": _n(1)},
            ReturnValues="ALL_NEW",
        )
        job = answer["Attributes"]
        if int(job["chunks_done"]["N"]) >= int(job["chunks_total"]["N"]):
            self._finish(chunk.job_id, JobStatus.DONE)
        return True

    def claim_group(self, log_group: str) -> bool:
        """True exactly once per group: the first time anyone claims it."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(f"subscribed#{log_group}"),
                    "sk": _s("group"),
                    "first_seen_ms": _n(self._now_ms()),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def unclaim_group(self, log_group: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key={"pk": _s(f"subscribed#{log_group}"), "sk": _s("group")}
        )


def _chunk_of(job_id: str, item: Mapping[str, Any]) -> Chunk:
    return Chunk(
        job_id=job_id,
        number=int(item["sk"]["S"].split("#", 1)[1]),
        log_group=item["log_group"]["S"],
        account=item.get("account", {}).get("S", ""),
        start_ms=int(item["start_ms"]["N"]),
        end_ms=int(item["end_ms"]["N"]),
        status=item["status"]["S"],
        next_token=item.get("next_token", {}).get("S"),
        events=int(item.get("events", {}).get("N", "0")),
    )


# --------------------------------------------------------------------------- the worker


@dataclass(slots=True)
class WorkReport:
    """What one worker invocation did."""

    worker: str
    chunks_completed: list[str] = field(default_factory=list)
    chunks_touched: list[str] = field(default_factory=list)
    pages: int = 0
    events: int = 0
    delivered: int = 0
    duplicates: int = 0
    quarantined: int = 0
    stopped_before_deadline: bool = False
    lost_leases: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        result = {name: getattr(self, name) for name in self.__slots__}
        result["events_per_second"] = round(self.events_per_second, 1)
        return result


class BackfillWorker:
    """Leases chunks and ships them until there is no work or no time left."""

    def __init__(
        self,
        store: BackfillStore,
        source: CloudWatchSource,
        shipper: Shipper,
        *,
        region: str,
        lease_ms: int,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._source = source
        self._shipper = shipper
        self._region = region
        self._lease_ms = lease_ms
        self._owner = owner or f"worker-{uuid.uuid4().hex[:12]}"

    def run(self, deadline: Deadline, *, job_ids: Sequence[str] | None = None) -> WorkReport:
        started = time.perf_counter()
        report = WorkReport(worker=self._owner)
        # Time one page may need: starts generous, then follows what pages really take.
        self._page_budget = 5.0
        try:
            for job_id in job_ids if job_ids is not None else self._store.job_ids(active_only=True):
                if not self._work_job(job_id, deadline, report):
                    break
        finally:
            report.seconds = time.perf_counter() - started
            count(Metric.BACKFILL_EVENTS, report.events)
            count(Metric.BACKFILL_CHUNKS_COMPLETED, len(report.chunks_completed))
        return report

    def _work_job(self, job_id: str, deadline: Deadline, report: WorkReport) -> bool:
        """Work one job's open chunks; False when the invocation must stop."""
        for candidate in self._store.open_chunks(job_id):
            if deadline.remaining() < self._page_budget:
                report.stopped_before_deadline = True
                return False
            if self._store.job_status(job_id) != JobStatus.ACTIVE:
                return True
            chunk = self._store.lease(candidate, self._owner, self._lease_ms)
            if chunk is None:
                continue  # another worker holds it
            report.chunks_touched.append(f"{job_id}/{chunk.number}")
            if not self._work_chunk(chunk, deadline, report):
                return False
        return True

    def _work_chunk(self, chunk: Chunk, deadline: Deadline, report: WorkReport) -> bool:
        origin = EventOrigin(
            log_group=chunk.log_group, log_stream="", owner=chunk.account, region=self._region
        )
        token = chunk.next_token
        while True:
            if deadline.remaining() < self._page_budget:
                self._store.release(chunk, self._owner)
                report.stopped_before_deadline = True
                return False
            if self._store.job_status(chunk.job_id) != JobStatus.ACTIVE:
                self._store.release(chunk, self._owner)
                return True
            page_started = time.perf_counter()
            try:
                page = self._source.filter_page(
                    chunk.log_group, chunk.start_ms, chunk.end_ms, deadline, next_token=token
                )
            except ClientError as error:
                if token and error.response.get("Error", {}).get("Code") == (
                    "InvalidParameterException"
                ):
                    logger.warning("resume token rejected; replaying the chunk from its start")
                    self._store.restart_chunk(chunk, self._owner)
                    token = None
                    continue
                raise
            # DeliveryIncomplete propagates: the lease stays until it expires and
            # the chunk then resumes from the last acknowledged page.
            shipped = self._shipper.ship_events(page.events, origin, deadline)
            report.pages += 1
            report.events += shipped.events
            report.delivered += shipped.delivered
            report.duplicates += shipped.duplicates
            report.quarantined += shipped.quarantined
            if not self._store.save_page(
                chunk,
                self._owner,
                next_token=page.next_token,
                events=shipped.events,
                quarantined=shipped.quarantined,
                lease_ms=self._lease_ms,
            ):
                report.lost_leases += 1
                logger.warning("lease lost; another worker resumes the chunk")
                return True
            self._page_budget = max(5.0, 2 * (time.perf_counter() - page_started))
            if page.next_token is None:
                if self._store.complete(chunk, self._owner):
                    report.chunks_completed.append(f"{chunk.job_id}/{chunk.number}")
                return True
            token = page.next_token


# --------------------------------------------------------------------------- services


@dataclass(slots=True)
class BackfillService:
    """The operations the function, the CLI and the decoder's auto-backfill call."""

    store: BackfillStore
    source: CloudWatchSource
    shipper: Shipper
    region: str
    default_groups: tuple[str, ...]
    default_days: int
    max_days: int
    target_chunk_events: int
    lease_ms: int
    clock: Any = time.time

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def start(self, payload: Mapping[str, Any], deadline: Deadline) -> JobView:
        request = parse_request(
            payload,
            now_ms=self._now_ms(),
            default_groups=self.default_groups,
            default_days=self.default_days,
        )
        plan = plan_job(
            request,
            self.source,
            deadline,
            now_ms=self._now_ms(),
            max_days=self.max_days,
            target_chunk_events=self.target_chunk_events,
        )
        self.store.create(plan)
        for warning in plan.warnings:
            logger.warning(warning, extra={"job_id": plan.job_id})
        logger.info(
            "backfill planned",
            extra={"job_id": plan.job_id, "groups": plan.groups, "chunks": len(plan.chunks)},
        )
        return self.store.view(plan.job_id)

    def worker(self) -> BackfillWorker:
        return BackfillWorker(
            self.store, self.source, self.shipper, region=self.region, lease_ms=self.lease_ms
        )

    def work(self, deadline: Deadline, job_ids: Sequence[str] | None = None) -> WorkReport:
        return self.worker().run(deadline, job_ids=job_ids)

    def status(self, job_id: str) -> JobView:
        return self.store.view(job_id)

    def cancel(self, job_id: str) -> JobView:
        return self.store.cancel(job_id)

    def list_jobs(self) -> list[JobView]:
        return [self.store.view(job_id) for job_id in self.store.job_ids(active_only=False)]

    def auto_backfill(self, log_group: str, deadline: Deadline) -> str | None:
        """Plan the last BACKFILL_DAYS of a group seen for the first time; returns the job id."""
        if self.default_days <= 0 or not self.store.claim_group(log_group):
            return None
        try:
            view = self.start({"log_groups": [log_group], "days": self.default_days}, deadline)
        except Exception:
            # Unclaim so the next delivery tries again; the error still surfaces.
            self.store.unclaim_group(log_group)
            raise
        count(Metric.BACKFILL_JOBS_PLANNED)
        return view.job_id


def handle_event(
    service: BackfillService, event: Mapping[str, Any], deadline: Deadline
) -> dict[str, Any]:
    """Route a Lambda event: an EventBridge schedule works; a manual invoke names an action.

    Manual actions: ``start`` (plan, then work until the deadline), ``status``,
    ``cancel``, ``list``, ``work``. Bad input answers ``{"ok": false, "error": ...}``
    without failing the invocation (retrying it could not help); anything else
    raises, so the Errors alarm sees it.
    """
    if event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event":
        return {"ok": True, "work": service.work(deadline).as_dict()}
    try:
        return _manual_action(service, event, deadline)
    except (BackfillInputError, JobNotFound) as error:
        logger.error("backfill request refused", extra={"reason": str(error)})
        return {"ok": False, "error": str(error)}


def _job_id_of(event: Mapping[str, Any], action: str) -> str:
    job_id = event.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise BackfillInputError(f"action {action!r} needs a job_id")
    return job_id


def _manual_action(
    service: BackfillService, event: Mapping[str, Any], deadline: Deadline
) -> dict[str, Any]:
    action = event.get("action", "start")
    if action == "start":
        job = service.start(event, deadline)
        work = service.work(deadline, job_ids=[job.job_id])
        return {"ok": True, "job": service.status(job.job_id).as_dict(), "work": work.as_dict()}
    if action == "work":
        return {"ok": True, "work": service.work(deadline).as_dict()}
    if action == "status":
        return {"ok": True, "job": service.status(_job_id_of(event, action)).as_dict()}
    if action == "cancel":
        return {"ok": True, "job": service.cancel(_job_id_of(event, action)).as_dict()}
    if action == "list":
        return {"ok": True, "jobs": [view.as_dict() for view in service.list_jobs()]}
    raise BackfillInputError(f"unknown action {action!r}: use start, status, cancel, list or work")
