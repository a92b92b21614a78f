"""Planning: resolve a request's groups, clamp its range, cut it into chunks.

Pure apart from the CloudWatch look-ups it is handed: nothing here writes.
A chunk is one group's half-open window sized to hold about
BACKFILL_CHUNK_EVENTS events at the group's average density.
"""

from __future__ import annotations

import uuid
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Final

from logstream.aws.cloudwatch import CloudWatchSource, LogGroupInfo, LogGroupNotFound
from logstream.backfill.model import BackfillInputError, quoted
from logstream.backfill.request import DAY_MS, BackfillRequest
from logstream.retry import Deadline
from logstream.times import iso

HOUR_MS: Final = 3_600_000
_MIN_CHUNK_MS: Final = 15 * 60_000
_MAX_CHUNK_MS: Final = DAY_MS
_MAX_CHUNKS_PER_GROUP: Final = 5_000
#: Groups one job may cover: its item (names and warnings) must stay under 400 KB.
MAX_GROUPS_PER_JOB: Final = 100
#: Rough bytes CloudWatch stores per event, to turn storedBytes into a density.
_BYTES_PER_EVENT: Final = 200


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
    exclude: Container[str] = (),
) -> JobPlan:
    """Resolve groups, clamp the range per group, and cut it into chunks.

    Groups in ``exclude`` (logstream's own) are never planned, whatever pattern
    named them; the plan's warnings say which were left out.
    """
    plan = JobPlan(job_id=uuid.uuid4().hex[:16], request=request, chunks=[])
    for pattern in request.log_groups:
        for info in _resolve(pattern, source, deadline):
            if info.name in plan.groups:
                continue
            if info.name in exclude:
                plan.warnings.append(f"{info.name} is logstream's own log group: not backfilled")
                continue
            plan.groups.append(info.name)
            if len(plan.groups) > MAX_GROUPS_PER_JOB:
                raise BackfillInputError(
                    f"the request covers more than {MAX_GROUPS_PER_JOB} log groups; "
                    "split it into several jobs (narrower prefixes*)"
                )
            start, end = _clamp(request, info, now_ms, max_days, plan.warnings)
            if end > start:
                span = chunk_span_ms(info, now_ms, target_chunk_events)
                plan.chunks += _cut(info, start, end, span)
    return plan


def _resolve(pattern: str, source: CloudWatchSource, deadline: Deadline) -> list[LogGroupInfo]:
    if pattern.endswith("*"):
        infos = source.groups_with_prefix(pattern[:-1], deadline)
        if not infos:
            raise BackfillInputError(f"no log group matches {quoted(pattern)}")
        return infos
    try:
        return [source.describe_group(pattern, deadline)]
    except LogGroupNotFound:
        raise BackfillInputError(f"log group {quoted(pattern)} does not exist") from None


def _cut(info: LogGroupInfo, start: int, end: int, span: int) -> list[ChunkPlan]:
    # Aligning to the span (so re-planned jobs cut the same windows) can add
    # one partial chunk at the start: hence MAX - 1 full spans at most.
    span = max(span, -(-(end - start) // (_MAX_CHUNKS_PER_GROUP - 1)))
    chunks: list[ChunkPlan] = []
    cursor = start
    while cursor < end:
        upper = min(end, (cursor // span + 1) * span)
        chunks.append(ChunkPlan(info.name, info.account, cursor, upper))
        cursor = upper
    return chunks


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
