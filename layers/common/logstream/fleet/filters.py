"""The CloudWatch side of subscribing: list groups, read, put and delete subscription filters.

CloudWatch's quotas on these APIs are low (DescribeSubscriptionFilters and
PutSubscriptionFilter: 5 per second per account), so throttling is normal:
every call backs off with full jitter inside the caller's deadline, and calls
are counted by kind so a sweep can report what it cost. ``LimitExceeded`` on
PutSubscriptionFilter is not throttling: it is the two-filters-per-group limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from logstream.aws.backoff_calls import CountedCalls, error_code
from logstream.errors import InfrastructureError
from logstream.retry import Backoff, Deadline

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

#: Retried with backoff. OperationAborted: another change to the same group is in flight.
_RETRYABLE = frozenset({"ThrottlingException", "Throttling", "OperationAbortedException"})
#: DescribeLogGroups returns at most 50 groups per page.
PAGE_LIMIT = 50
#: PutSubscriptionFilter test-delivers to the destination; a permission created moments ago
#: may not be seen yet (InvalidParameterException), so the put is tried this often in all.
PUT_ATTEMPTS = 3


class FleetThrottled(InfrastructureError):
    """CloudWatch kept throttling until the deadline; the next run continues."""


@dataclass(frozen=True, slots=True)
class FilterInfo:
    """One subscription filter of a group, as DescribeSubscriptionFilters tells it."""

    name: str
    destination_arn: str
    filter_pattern: str
    role_arn: str | None


@dataclass(frozen=True, slots=True)
class GroupPage:
    names: list[str]
    next_token: str | None


class PutResult(StrEnum):
    PUT = "put"
    LIMIT = "limit"  # the group already holds two filters
    MISSING = "missing"  # the group was deleted meanwhile


class SubscriptionFilters:
    """Subscription filters through a boto3 ``logs`` client; see the module docstring."""

    def __init__(self, client: CloudWatchLogsClient, backoff: Backoff) -> None:
        self._client = client
        self._backoff = backoff
        self._call = CountedCalls(backoff, _RETRYABLE, FleetThrottled)
        self.calls = self._call.calls

    def list_page(self, prefix: str, next_token: str | None, deadline: Deadline) -> GroupPage:
        """One page of group names starting with ``prefix`` (``""``: every group)."""
        kwargs: dict[str, Any] = {"limit": PAGE_LIMIT}
        if prefix:
            kwargs["logGroupNamePrefix"] = prefix
        if next_token:
            kwargs["nextToken"] = next_token
        page = self._call(
            "DescribeLogGroups", deadline, lambda: self._client.describe_log_groups(**kwargs)
        )
        names = [group["logGroupName"] for group in page.get("logGroups", [])]
        return GroupPage(names, page.get("nextToken") or None)

    def filters_of(self, log_group: str, deadline: Deadline) -> list[FilterInfo] | None:
        """The group's subscription filters, or None if the group does not exist."""
        try:
            answer = self._call(
                "DescribeSubscriptionFilters",
                deadline,
                lambda: self._client.describe_subscription_filters(logGroupName=log_group),
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise
        return [
            FilterInfo(
                name=row["filterName"],
                destination_arn=row.get("destinationArn", ""),
                filter_pattern=row.get("filterPattern", ""),
                role_arn=row.get("roleArn") or None,
            )
            for row in answer.get("subscriptionFilters", [])
        ]

    def put(self, log_group: str, wanted: FilterInfo, deadline: Deadline) -> PutResult:
        """Create or update (same name) one filter of the group."""
        kwargs: dict[str, Any] = {
            "logGroupName": log_group,
            "filterName": wanted.name,
            "filterPattern": wanted.filter_pattern,
            "destinationArn": wanted.destination_arn,
        }
        if wanted.role_arn:
            kwargs["roleArn"] = wanted.role_arn
        for attempt in range(PUT_ATTEMPTS):
            try:
                self._call(
                    "PutSubscriptionFilter",
                    deadline,
                    lambda: self._client.put_subscription_filter(**kwargs),
                )
            except ClientError as error:
                code = error_code(error)
                if code == "LimitExceededException":
                    return PutResult.LIMIT
                if code == "ResourceNotFoundException":
                    return PutResult.MISSING
                last = attempt == PUT_ATTEMPTS - 1
                if code != "InvalidParameterException" or last:
                    raise
                if not self._backoff.wait(attempt + 2, deadline):
                    raise
                continue
            return PutResult.PUT
        raise AssertionError("unreachable: the last attempt returns or raises")

    def delete(self, log_group: str, filter_name: str, deadline: Deadline) -> bool:
        """Delete one filter; False if it (or its group) was already gone."""
        try:
            self._call(
                "DeleteSubscriptionFilter",
                deadline,
                lambda: self._client.delete_subscription_filter(
                    logGroupName=log_group, filterName=filter_name
                ),
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True
