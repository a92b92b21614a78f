"""One log group's reconciliation: the range to check (watermark, settle lag or a
manual range), the :class:`~logstream.reconcile.range_check.RangeCheck` of it,
and how far the watermark may advance afterwards."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from logstream.aws.cloudwatch import LogGroupInfo, LogGroupNotFound, SourceThrottled
from logstream.reconcile.ports import (
    CountingSource,
    EventFetcher,
    IndexCounter,
    IndexUnavailable,
    ReconcileState,
    Repairer,
    SourceCounter,
)
from logstream.reconcile.range_check import RangeCheck
from logstream.reconcile.report import GroupReport, RangeOutcome, Status, describe_error, status_of
from logstream.reconcile.window import DAY_MS, Tuning, Window
from logstream.retry import Deadline
from logstream.times import iso

#: PutLogEvents accepts events up to 14 days old, so events may predate their group.
_OLDER_THAN_GROUP_MS = 14 * DAY_MS
#: Margin at the retention edge: events there expire while they are checked.
_RETENTION_MARGIN_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Timing:
    settle_ms: int
    backfill_days: int
    region: str


class GroupReconciler:
    """Reconciles one group at a time; the caller stores and publishes the report."""

    def __init__(
        self,
        *,
        source: CountingSource,
        counter_for: Callable[[str], SourceCounter],
        fetcher: EventFetcher,
        index: IndexCounter,
        repairer_for: Callable[[LogGroupInfo], Repairer],
        state: ReconcileState | None,
        timing: Timing,
        tuning: Tuning,
        clock: Callable[[], float],
    ) -> None:
        self._source = source
        self._counter_for = counter_for
        self._fetcher = fetcher
        self._index = index
        self._repairer_for = repairer_for
        self._state = state
        self._timing = timing
        self._tuning = tuning
        self._clock = clock

    def run(
        self,
        info: LogGroupInfo,
        deadline: Deadline,
        run_started: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> GroupReport:
        started = time.perf_counter()
        report = GroupReport(info.name, run_started, Status.UP_TO_DATE)
        report.manual = start_ms is not None or end_ms is not None
        calls_before = Counter(self._source.calls)
        counter = self._counter_for(info.name)
        check: RangeCheck | None = None
        try:
            span = self._span(info, report, start_ms, end_ms)
            if span is not None:
                check = RangeCheck(
                    info.name,
                    source=counter,
                    fetcher=self._fetcher,
                    index=self._index,
                    repairer=self._repairer_for(info),
                    tuning=self._tuning,
                )
                outcome = check.run(span, deadline)
                report.absorb(outcome)
                report.status = status_of(outcome)
                self._advance(info.name, report, outcome, manual_from=start_ms)
        except LogGroupNotFound as error:
            report.status = Status.GROUP_MISSING
            report.error = str(error)
        except (IndexUnavailable, SourceThrottled, ClientError, BotoCoreError) as error:
            report.status = Status.FAILED
            report.error = describe_error(error)
            if check is not None and check.outcome is not None:
                report.absorb(check.outcome)
        report.insights_fallbacks = int(getattr(counter, "fallbacks", 0))
        report.api_calls = dict(Counter(self._source.calls) - calls_before)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _span(
        self,
        info: LogGroupInfo,
        report: GroupReport,
        start_ms: int | None,
        end_ms: int | None,
    ) -> Window | None:
        """The aligned range to check: from the watermark (or ``start_ms``) to the
        settled past (or ``end_ms``, clipped to it); None when nothing is due."""
        top = self._tuning.steps_ms[0]
        now = int(self._clock() * 1000)
        settled = (now - self._timing.settle_ms) // top * top
        watermark = self._state.watermark(info.name) if self._state is not None else None
        report.watermark_before = report.watermark_after = watermark
        if start_ms is None:
            start = watermark if watermark is not None else self._initial_start(info, now)
        else:
            start = start_ms
        start = start // top * top
        end = settled
        if end_ms is not None:
            wanted = -(-end_ms // top) * top
            if wanted > settled:
                report.notes.append(
                    f"end clipped to {iso(settled)}: newer events may still be arriving "
                    f"(settle lag {self._timing.settle_ms // 1000} s)"
                )
            end = min(wanted, settled)
        report.start_ms = start
        report.end_ms = max(start, end)
        if end <= start:
            return None
        return Window(start, end)

    def _initial_start(self, info: LogGroupInfo, now: int) -> int:
        """No watermark yet: BACKFILL_DAYS back, but not before the group existed
        or before its retention (events past it are gone from CloudWatch)."""
        start = max(
            now - self._timing.backfill_days * DAY_MS, info.created_ms - _OLDER_THAN_GROUP_MS
        )
        if info.retention_days is not None:
            start = max(start, now - info.retention_days * DAY_MS + _RETENTION_MARGIN_MS)
        return start

    def _advance(
        self, log_group: str, report: GroupReport, outcome: RangeOutcome, manual_from: int | None
    ) -> None:
        if self._state is None or outcome.proven_through <= outcome.span.start:
            return
        before = report.watermark_before
        if manual_from is not None and before is None:
            report.notes.append("no watermark yet: a manual run does not create one")
            return
        moved = self._state.advance(
            log_group,
            outcome.proven_through,
            from_ms=outcome.span.start if manual_from is not None else None,
        )
        if moved:
            report.watermark_after = outcome.proven_through
        elif manual_from is not None:
            report.notes.append("watermark not moved: the range does not start at or before it")
