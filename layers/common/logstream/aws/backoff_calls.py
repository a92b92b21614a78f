"""One CloudWatch Logs call, retried with backoff while the API says "slow down".

CloudWatch's quotas are low and account-wide, so throttling is normal: a call
is retried with full jitter inside the caller's deadline and counted by kind
(``calls[kind]``, ``calls[kind + ".throttled"]``), so a run can report what it
cost. Which error codes mean "slow down" depends on the API (LimitExceeded is
throttling for the readers, the two-filter limit for PutSubscriptionFilter), so
the caller names them, and the error to raise when the deadline comes first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from logstream.retry import Backoff, Deadline


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def refused_page_token(error: BaseException) -> bool:
    """Whether CloudWatch refused a saved ``nextToken`` (InvalidParameterException):
    tokens go stale, so a listing resumed from one starts its prefix over."""
    return isinstance(error, ClientError) and error_code(error) == "InvalidParameterException"


def call_with_backoff[T](
    request: Callable[[], T],
    *,
    kind: str,
    deadline: Deadline,
    backoff: Backoff,
    calls: Counter[str],
    retryable: Collection[str],
    gave_up: Callable[[str], Exception],
) -> T:
    """``request()``; a ``retryable`` error is retried until ``deadline``, then
    ``gave_up(message)`` is raised from it. Any other error propagates."""
    attempt = 0
    while True:
        calls[kind] += 1
        try:
            return request()
        except ClientError as error:
            if error_code(error) not in retryable:
                raise
            calls[f"{kind}.throttled"] += 1
            if not backoff.wait(attempt, deadline):
                raise gave_up(f"{kind} throttled until the deadline") from error
            attempt += 1


@dataclass(slots=True)
class CountedCalls:
    """An adapter's :func:`call_with_backoff`, with the codes and the error fixed once.

    ``calls`` counts every call by kind (and its throttled retries), for the
    adapter's report of what a run cost.
    """

    backoff: Backoff
    retryable: Collection[str]
    gave_up: Callable[[str], Exception]
    calls: Counter[str] = field(default_factory=Counter)

    def __call__[T](self, kind: str, deadline: Deadline, request: Callable[[], T]) -> T:
        return call_with_backoff(
            request,
            kind=kind,
            deadline=deadline,
            backoff=self.backoff,
            calls=self.calls,
            retryable=self.retryable,
            gave_up=self.gave_up,
        )
