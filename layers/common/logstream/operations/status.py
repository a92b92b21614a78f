"""Per log group, how the deployment is doing: the answer of ``logstream status``.

For each group: whether a subscription filter feeds the decoder, the newest
acknowledged event (the ``checkpoint#`` watermarks) and the lag behind now,
the newest backfill job's progress, reconciliation's verified-through mark
and the gaps its last run left open, and the quarantine by reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from logstream.backfill.model import JobView
from logstream.operations.quarantine import QuarantineView
from logstream.reconcile.store import DynamoReconcileState
from logstream.state_table import checkpoint_pk, s
from logstream.times import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_logs.client import CloudWatchLogsClient

#: State-table items that name a log group in their key, by key prefix.
_GROUP_PREFIXES = ("checkpoint#", "reconciled#", "subscribed#")


@dataclass(slots=True)
class GroupStatus:
    """One log group's state; ``None`` where nothing is known yet."""

    log_group: str
    subscribed: bool | None = None
    last_acknowledged: str | None = None
    lag_seconds: int | None = None
    streams: int = 0
    backfill: dict[str, Any] | None = None
    verified_through: str | None = None
    reconcile_status: str | None = None
    gaps_open: int = 0
    events_still_missing: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StatusReader:
    """Reads each source of the status once per group."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table: str,
        logs: CloudWatchLogsClient,
        quarantine: QuarantineView,
        jobs: Callable[[], Sequence[JobView]],
        *,
        decoder_arn: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._logs = logs
        self._quarantine = quarantine
        self._jobs = jobs
        self._decoder_arn = decoder_arn
        self._clock = clock
        self._reconcile = DynamoReconcileState(dynamodb, table)

    def known_groups(self, configured: Iterable[str]) -> list[str]:
        """The configured groups, and every group the state table or quarantine has seen."""
        groups = set(configured) | set(self._groups_in_table())
        groups |= {g for g in self._quarantine.counts_by_reason() if g}
        return sorted(groups)

    def read(self, groups: Sequence[str]) -> list[GroupStatus]:
        jobs = list(self._jobs())
        quarantined = self._quarantine.counts_by_reason()
        now_ms = int(self._clock() * 1000)
        return [self._group(g, jobs, quarantined, now_ms) for g in groups]

    def _group(
        self,
        group: str,
        jobs: list[JobView],
        quarantined: Mapping[str, dict[str, int]],
        now_ms: int,
    ) -> GroupStatus:
        status = GroupStatus(group, subscribed=self._subscribed(group))
        marks = self._checkpoints(group)
        status.streams = len(marks)
        if marks:
            newest = max(marks)
            status.last_acknowledged = iso(newest)
            status.lag_seconds = max(0, (now_ms - newest) // 1000)
        mine = [j for j in jobs if any(_matches(p, group) for p in j.log_groups)]
        if mine:
            job = mine[-1]
            status.backfill = {
                "job_id": job.job_id,
                "status": job.status,
                "chunks_done": job.chunks_done,
                "chunks_total": job.chunks_total,
                "events_shipped": job.events_shipped,
            }
        watermark = self._reconcile.watermark(group)
        status.verified_through = iso(watermark) if watermark is not None else None
        last = self._reconcile.reports(group, 1)
        if last:
            status.reconcile_status = str(last[0].get("status"))
            still = [g for g in last[0].get("gaps", []) if g.get("still_missing")]
            status.gaps_open = len(still)
            status.events_still_missing = int(last[0].get("events_still_missing", 0))
        status.quarantined = dict(quarantined.get(group, {}))
        return status

    def _subscribed(self, group: str) -> bool | None:
        """Whether a subscription filter sends the group to the decoder (any, if unknown)."""
        try:
            filters = self._logs.describe_subscription_filters(logGroupName=group).get(
                "subscriptionFilters", []
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        if self._decoder_arn is None:
            return bool(filters)
        return any(f.get("destinationArn") == self._decoder_arn for f in filters)

    def _checkpoints(self, group: str) -> list[int]:
        marks: list[int] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": s(checkpoint_pk(group))},
        }
        while True:
            page = self._dynamodb.query(**kwargs)
            marks += [int(i["watermark"]["N"]) for i in page.get("Items", []) if "watermark" in i]
            if "LastEvaluatedKey" not in page:
                return marks
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _groups_in_table(self) -> set[str]:
        found: set[str] = set()
        paginator = self._dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table, ProjectionExpression="pk"):
            for item in page.get("Items", []):
                pk = item["pk"]["S"]
                for prefix in _GROUP_PREFIXES:
                    if pk.startswith(prefix):
                        found.add(pk.removeprefix(prefix))
        return found


def _matches(pattern: str, group: str) -> bool:
    return group.startswith(pattern[:-1]) if pattern.endswith("*") else pattern == group
