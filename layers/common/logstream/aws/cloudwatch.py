"""Reading CloudWatch Logs: the source side of backfill and reconciliation.

CloudWatch's read APIs have low, account-wide quotas, so throttling is normal:
every call goes through one :class:`~logstream.aws.backoff_calls.CountedCalls`,
which backs off with full jitter inside the caller's deadline and counts calls
by kind, so a run can report (and tests can bound) how many API calls it made.

Events come back normalised to the shape the document builder takes:
``id``, ``timestamp``, ``message``, ``logStream``, ``ingestionTime``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from logstream.aws.backoff_calls import CountedCalls
from logstream.retry import Backoff, Deadline

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

_THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "LimitExceededException"}
)
#: FilterLogEvents returns at most 10,000 events (and 1 MB) per page.
MAX_PAGE_EVENTS = 10_000


class SourceThrottled(RuntimeError):
    """CloudWatch kept throttling until the deadline; try again on the next run."""


class LogGroupNotFound(LookupError):
    def __init__(self, log_group: str) -> None:
        self.log_group = log_group
        super().__init__(f"log group {log_group!r} does not exist")


@dataclass(frozen=True, slots=True)
class LogGroupInfo:
    name: str
    account: str  # from the group's ARN: the `owner` of its documents
    created_ms: int
    retention_days: int | None  # None: never expire
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class GroupPage:
    """One DescribeLogGroups page: groups in name order, and where the next starts."""

    groups: list[LogGroupInfo]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[dict[str, Any]]
    next_token: str | None


class CloudWatchSource(Protocol):
    calls: Counter[str]

    def describe_group(self, log_group: str, deadline: Deadline) -> LogGroupInfo: ...

    def groups_with_prefix(self, prefix: str, deadline: Deadline) -> list[LogGroupInfo]: ...

    def filter_page(
        self,
        log_group: str,
        start_ms: int,
        end_ms: int,
        deadline: Deadline,
        *,
        next_token: str | None = None,
        filter_pattern: str | None = None,
        limit: int = MAX_PAGE_EVENTS,
    ) -> EventPage: ...


class BotoCloudWatchSource:
    """:class:`CloudWatchSource` over a boto3 ``logs`` client."""

    def __init__(self, client: CloudWatchLogsClient, backoff: Backoff) -> None:
        self._client = client
        self._call = CountedCalls(backoff, _THROTTLING_CODES, SourceThrottled)
        self.calls = self._call.calls

    def describe_group(self, log_group: str, deadline: Deadline) -> LogGroupInfo:
        for info in self.groups_with_prefix(log_group, deadline):
            if info.name == log_group:
                return info
        raise LogGroupNotFound(log_group)

    def groups_with_prefix(self, prefix: str, deadline: Deadline) -> list[LogGroupInfo]:
        found: list[LogGroupInfo] = []
        token: str | None = None
        while True:
            page = self.group_page(prefix, deadline, token)
            found += page.groups
            token = page.next_token
            if not token:
                return found

    def group_page(self, prefix: str, deadline: Deadline, next_token: str | None) -> GroupPage:
        """One page of the groups whose name starts with ``prefix`` (a listing
        that must stop at a deadline and resume pages through this)."""
        # "" lists every group (account mode); the API refuses an empty prefix.
        kwargs: dict[str, Any] = {"logGroupNamePrefix": prefix} if prefix else {}
        if next_token:
            kwargs["nextToken"] = next_token
        page = self._call(
            "DescribeLogGroups", deadline, lambda: self._client.describe_log_groups(**kwargs)
        )
        groups = [
            LogGroupInfo(
                name=group["logGroupName"],
                account=_account_of(group.get("arn", "")),
                created_ms=int(group.get("creationTime", 0)),
                retention_days=group.get("retentionInDays"),
                stored_bytes=int(group.get("storedBytes", 0)),
            )
            for group in page.get("logGroups", [])
        ]
        return GroupPage(groups, page.get("nextToken") or None)

    def filter_page(
        self,
        log_group: str,
        start_ms: int,
        end_ms: int,
        deadline: Deadline,
        *,
        next_token: str | None = None,
        filter_pattern: str | None = None,
        limit: int = MAX_PAGE_EVENTS,
    ) -> EventPage:
        """One page of events with ``start_ms <= timestamp < end_ms``."""
        kwargs: dict[str, Any] = {
            "logGroupName": log_group,
            "startTime": start_ms,
            # FilterLogEvents' endTime is inclusive; windows here are half-open.
            "endTime": end_ms - 1,
            "limit": limit,
        }
        if next_token:
            kwargs["nextToken"] = next_token
        if filter_pattern:
            kwargs["filterPattern"] = filter_pattern
        try:
            page = self._call(
                "FilterLogEvents", deadline, lambda: self._client.filter_log_events(**kwargs)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise LogGroupNotFound(log_group) from error
            raise
        events = [
            {
                "id": event["eventId"],
                "timestamp": event["timestamp"],
                "message": event.get("message", ""),
                "logStream": event.get("logStreamName", ""),
                "ingestionTime": event.get("ingestionTime"),
            }
            for event in page.get("events", [])
            if start_ms <= event["timestamp"] < end_ms
        ]
        return EventPage(events=events, next_token=page.get("nextToken") or None)

    def iter_events(
        self,
        log_group: str,
        start_ms: int,
        end_ms: int,
        deadline: Deadline,
        *,
        filter_pattern: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every event of a window, page after page."""
        token: str | None = None
        while True:
            page = self.filter_page(
                log_group,
                start_ms,
                end_ms,
                deadline,
                next_token=token,
                filter_pattern=filter_pattern,
            )
            yield from page.events
            if page.next_token is None:
                return
            token = page.next_token


def _account_of(arn: str) -> str:
    """``arn:aws:logs:<region>:<account>:log-group:<name>`` -> ``<account>``."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""
