"""The CloudWatch side of reconciliation: counting events per time bucket.

Two counters implement :class:`logstream.reconcile.ports.SourceCounter`:

- :class:`InsightsCounter` runs one Logs Insights query,
  ``stats count(*) as ls_events by bin(<step>s) as ls_bucket``, over a window.
  One query counts every bucket of a day, whatever the number of events.
  Results are read by the aliases given in the query (``ls_events``,
  ``ls_bucket``): a row without them is an error, never a zero. Insights is
  second-granular and eventually consistent, so it is only an optimisation:
  windows are aligned to whole seconds, buckets outside the window (the
  query's end time is inclusive) are dropped, the reconciler only counts
  windows older than the settle lag, and every re-ship is decided from
  FilterLogEvents, never from Insights alone.
- :class:`FilterLogEventsCounter` reads the window's events with
  FilterLogEvents and keeps a per-second histogram, so finer counts of the
  same window cost no further calls. It is the fallback when Insights fails,
  times out or answers in an unexpected shape, and the only counter when the
  subscription has a filter pattern (Insights has no filter-pattern syntax;
  FilterLogEvents takes the very same pattern).

:class:`FallbackCounter` tries Insights and switches to FilterLogEvents for the
rest of the group's run at the first failure. :func:`counter_policy` chooses
between them from the settings. :class:`FilterLogEventsFetcher` reads the
events of a leaf window.

All CloudWatch calls go through :class:`~logstream.aws.cloudwatch.BotoCloudWatchSource`,
which backs off on throttling and counts calls by kind.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from logstream.aws.cloudwatch import MAX_PAGE_EVENTS, BotoCloudWatchSource, LogGroupNotFound
from logstream.observability import logger
from logstream.reconcile.ports import CountingOutOfTime, CountsUnavailable, SourceCounter
from logstream.reconcile.window import SECOND_MS, Tuning, Window
from logstream.retry import Deadline
from logstream.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

#: The aliases the count query gives its two columns; results are read by them.
COUNT_FIELD: Final = "ls_events"
BIN_FIELD: Final = "ls_bucket"
#: Insights returns at most 10,000 rows; a day of 5-minute buckets is 288.
MAX_ROWS: Final = 10_000
_FINISHED_BADLY: Final = frozenset({"Failed", "Cancelled", "Timeout", "Unknown"})
_BIN_FORMATS: Final = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f%z")


def count_query(step_ms: int) -> str:
    """The Logs Insights query that counts events per ``step_ms`` bucket."""
    if step_ms % SECOND_MS or step_ms <= 0:
        raise ValueError("Insights bins are whole seconds")
    return f"stats count(*) as {COUNT_FIELD} by bin({step_ms // SECOND_MS}s) as {BIN_FIELD}"


def parse_bin_time(value: str) -> int:
    """An Insights ``bin()`` value (``2026-11-24 10:05:00.000``, UTC) -> epoch ms."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    for layout in _BIN_FORMATS:
        try:
            moment = datetime.strptime(text, layout)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return round(moment.timestamp() * 1000)
    raise CountsUnavailable(f"unreadable Insights bin value {value!r}")


def parse_count_results(response: Any, window: Window, step_ms: int) -> dict[int, int]:
    """GetQueryResults of :func:`count_query` -> bucket start -> events.

    Raises :class:`CountsUnavailable` for any row without both aliased fields,
    for a bucket not aligned to ``step_ms`` or before the window, and for a
    result set at Insights' row cap: a count read wrongly must never look like
    "nothing there". Buckets at or after the window's end (the query's end
    second is inclusive) are dropped.
    """
    rows = response.get("results") or []
    if len(rows) >= MAX_ROWS:
        raise CountsUnavailable(f"Insights returned {len(rows)} rows (its cap): counts incomplete")
    counts: dict[int, int] = {}
    for row in rows:
        fields = {cell.get("field"): cell.get("value") for cell in row}
        if fields.get(COUNT_FIELD) is None or fields.get(BIN_FIELD) is None:
            raise CountsUnavailable(
                f"Insights row lacks {COUNT_FIELD!r}/{BIN_FIELD!r} "
                f"(fields: {sorted(map(str, fields))})"
            )
        start = parse_bin_time(str(fields[BIN_FIELD]))
        try:
            events = int(float(str(fields[COUNT_FIELD])))
        except ValueError:
            raise CountsUnavailable(f"unreadable Insights count {fields[COUNT_FIELD]!r}") from None
        if start % step_ms or start < window.start:
            raise CountsUnavailable(
                f"Insights bucket {start} is not a {step_ms} ms bucket of {window.describe()}"
            )
        if start >= window.end:
            continue
        counts[start] = counts.get(start, 0) + events
    return counts


class InsightsCounter:
    """Counts per bucket with one Logs Insights query per call."""

    def __init__(
        self,
        client: CloudWatchLogsClient,
        source: BotoCloudWatchSource,
        *,
        max_polls: int = 20,
        first_poll_secs: float = 1.0,
        max_poll_secs: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._source = source
        self._max_polls = max_polls
        self._first_poll = first_poll_secs
        self._max_poll = max_poll_secs
        self._sleep = sleep

    def counts(
        self, log_group: str, window: Window, step_ms: int, deadline: Deadline
    ) -> dict[int, int]:
        query = count_query(step_ms)
        # startTime/endTime are whole seconds, endTime inclusive: the bucket that
        # starts at window.end may come back and is dropped by the parser.
        try:
            # The package's one wrapper for CloudWatch calls: backoff + call counts.
            started = self._source._call(
                "StartQuery",
                deadline,
                lambda: self._client.start_query(
                    logGroupName=log_group,
                    startTime=window.start // SECOND_MS,
                    endTime=window.end // SECOND_MS,
                    queryString=query,
                    limit=MAX_ROWS,
                ),
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise LogGroupNotFound(log_group) from error
            raise CountsUnavailable(f"StartQuery failed: {code}") from error
        query_id = started["queryId"]
        for poll in range(self._max_polls):
            pause = min(self._max_poll, self._first_poll * (2 ** max(0, poll - 1)))
            if deadline.remaining() < pause + 1:
                break
            self._sleep(pause)
            try:
                response = self._source._call(
                    "GetQueryResults",
                    deadline,
                    lambda: self._client.get_query_results(queryId=query_id),
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                raise CountsUnavailable(f"GetQueryResults failed: {code}") from error
            status = response.get("status", "Unknown")
            if status == "Complete":
                return parse_count_results(response, window, step_ms)
            if status in _FINISHED_BADLY:
                raise CountsUnavailable(f"Insights query {status.lower()}")
        self._stop(query_id, deadline)
        raise CountsUnavailable(f"Insights query not complete after {self._max_polls} polls")

    def _stop(self, query_id: str, deadline: Deadline) -> None:
        """Free the account's concurrent-query slot (best effort)."""
        try:
            self._source._call(
                "StopQuery", deadline, lambda: self._client.stop_query(queryId=query_id)
            )
        except Exception as error:  # noqa: BLE001 - best effort; the query times out anyway
            logger.warning("could not stop an Insights query", extra={"error": str(error)})


class FilterLogEventsCounter:
    """Counts by reading the window with FilterLogEvents (one call per page of events).

    The per-second histogram of the last window read is kept, so counting any
    sub-window again (the refinement steps) costs no calls.
    """

    def __init__(
        self,
        source: BotoCloudWatchSource,
        *,
        filter_pattern: str | None = None,
        reserve_secs: float = Tuning().reserve_secs,
    ):
        self._source = source
        self._filter_pattern = filter_pattern
        self._reserve = reserve_secs
        self._cached: tuple[str, Window, Counter[int]] | None = None

    def counts(
        self, log_group: str, window: Window, step_ms: int, deadline: Deadline
    ) -> dict[int, int]:
        per_second = self._histogram(log_group, window, deadline)
        counts: dict[int, int] = {}
        for second, events in per_second.items():
            if window.contains(second):
                key = max(window.start, second // step_ms * step_ms)
                counts[key] = counts.get(key, 0) + events
        return counts

    def _histogram(self, log_group: str, window: Window, deadline: Deadline) -> Counter[int]:
        cached = self._cached
        if cached is not None and cached[0] == log_group:
            covered = cached[1]
            if covered.start <= window.start and window.end <= covered.end:
                return cached[2]
        per_second: Counter[int] = Counter()
        token: str | None = None
        while True:
            page = self._source.filter_page(
                log_group,
                window.start,
                window.end,
                deadline,
                next_token=token,
                filter_pattern=self._filter_pattern,
                limit=MAX_PAGE_EVENTS,
            )
            for event in page.events:
                per_second[event["timestamp"] // SECOND_MS * SECOND_MS] += 1
            if page.next_token is None:
                break
            if deadline.remaining() < self._reserve:
                # A busy day is many pages: stop between them, as the narrowing does.
                raise CountingOutOfTime
            token = page.next_token
        self._cached = (log_group, window, per_second)
        return per_second


class FallbackCounter:
    """Insights first; FilterLogEvents for the rest of the run once Insights fails."""

    def __init__(self, primary: SourceCounter, fallback: SourceCounter) -> None:
        self._primary: SourceCounter | None = primary
        self._fallback = fallback
        self.fallbacks = 0

    def counts(
        self, log_group: str, window: Window, step_ms: int, deadline: Deadline
    ) -> dict[int, int]:
        if self._primary is not None:
            try:
                return self._primary.counts(log_group, window, step_ms, deadline)
            except CountsUnavailable as error:
                self.fallbacks += 1
                self._primary = None
                logger.warning(
                    "Insights counts unavailable; counting with FilterLogEvents",
                    extra={"log_group": log_group, "reason": str(error)},
                )
        return self._fallback.counts(log_group, window, step_ms, deadline)


class FilterLogEventsFetcher:
    """Every event of a window, as FilterLogEvents returns it (the source of truth)."""

    def __init__(self, source: BotoCloudWatchSource, *, filter_pattern: str | None = None):
        self._source = source
        self._filter_pattern = filter_pattern

    def events(self, log_group: str, window: Window, deadline: Deadline) -> list[dict[str, Any]]:
        return list(
            self._source.iter_events(
                log_group,
                window.start,
                window.end,
                deadline,
                filter_pattern=self._filter_pattern,
            )
        )


def counter_policy(
    settings: Settings, logs: CloudWatchLogsClient, source: BotoCloudWatchSource
) -> Callable[[str], SourceCounter]:
    """A fresh counter for each group's run (counters keep per-run state).

    Insights with the FilterLogEvents fallback; FilterLogEvents alone when the
    subscription has a filter pattern (Insights cannot apply it) or when
    RECONCILE_INSIGHTS=false.
    """

    def counter_for(log_group: str) -> SourceCounter:
        scanner = FilterLogEventsCounter(source, filter_pattern=settings.filter_pattern)
        if settings.filter_pattern or not settings.reconcile_insights:
            return scanner
        return FallbackCounter(InsightsCounter(logs, source), scanner)

    return counter_for
