"""The check of one aligned range of one log group: count, narrow, settle, prove.

The argument rests on two facts of the shipping path: every document's ``_id``
comes from its CloudWatch event id (:func:`logstream.naming.document_id`), and
every write is a ``create``. So, per log group and time window, the index can
never hold more of CloudWatch's events than CloudWatch does, and **equal
counts prove the window complete**. Counting is cheap on both sides (Logs
Insights ``stats count(*) by bin()``; an OpenSearch ``date_histogram``
filtered on ``log_group``), so only windows whose counts differ are looked at
more closely.

1. Cut the range into chunks of at most one day. Per chunk, one count query
   on each side, bucketed by the coarsest step (5 minutes).
2. Narrow (:mod:`~logstream.reconcile.narrowing`): refine the buckets whose
   counts differ down to leaves.
3. Settle (:mod:`~logstream.reconcile.settling`): merged leaves are fetched
   with FilterLogEvents, compared with the index by ``_id``, exactly the
   missing events re-shipped, and the range counted again.
4. The range is proven up to the start of the first window that could not be
   proven (a gap still open, a deadline); the caller advances the group's
   watermark only that far.

Cost (see docs/reconciliation.md): a clean chunk costs one count query per
side, whatever the number of events; each gap (maximal run of consecutive
missing events) adds at most ``2 (L - 1)`` refinement queries for ``L``
levels, and one FilterLogEvents range fetch shared by adjacent gaps.
"""

from __future__ import annotations

from logstream.reconcile.narrowing import Narrowing, OutOfTime, merge
from logstream.reconcile.ports import EventFetcher, IndexCounter, Repairer, SourceCounter
from logstream.reconcile.report import Gap, RangeOutcome
from logstream.reconcile.settling import RangeSettler
from logstream.reconcile.window import DEFAULT_TUNING, Tuning, Window
from logstream.retry import Deadline


class RangeCheck:
    """The comparison and repair of one aligned range of one group (pure over its protocols)."""

    def __init__(
        self,
        log_group: str,
        *,
        source: SourceCounter,
        fetcher: EventFetcher,
        index: IndexCounter,
        repairer: Repairer,
        tuning: Tuning = DEFAULT_TUNING,
    ) -> None:
        self._tuning = tuning
        self._narrowing = Narrowing(log_group, source=source, index=index, tuning=tuning)
        self._settler = RangeSettler(log_group, fetcher=fetcher, index=index, repairer=repairer)
        self.outcome: RangeOutcome | None = None

    def run(self, span: Window, deadline: Deadline) -> RangeOutcome:
        """Check ``span`` (aligned to the coarsest step).

        Exceptions from the protocols propagate; ``self.outcome.proven_through``
        then still tells how far the range was proven before the failure. After
        a window that cannot be proven, the rest of the range is still checked
        and repaired (for the report), but ``proven_through`` stops moving.
        """
        steps = self._tuning.steps_ms
        if span.start % steps[0] or span.end % steps[0]:
            raise ValueError(f"{span.describe()} is not aligned to {steps[0]} ms")
        outcome = self.outcome = RangeOutcome(span=span, proven_through=span.start)
        proven_so_far = True
        for chunk_start in range(span.start, span.end, self._tuning.chunk_ms):
            chunk = Window(chunk_start, min(chunk_start + self._tuning.chunk_ms, span.end))
            proven = self._check_chunk(chunk, outcome, deadline)
            if proven_so_far:
                outcome.proven_through = proven
                proven_so_far = proven == chunk.end
            if outcome.stopped:
                break
        return outcome

    def _check_chunk(self, chunk: Window, outcome: RangeOutcome, deadline: Deadline) -> int:
        """Check one chunk; returns how far into it everything is proven."""
        try:
            leaves = self._narrowing.leaves(chunk, outcome, deadline)
        except OutOfTime as stop:
            outcome.stopped = "deadline"
            return stop.proven_until
        proven = chunk.end
        previous_gap: Gap | None = None
        previous_end: int | None = None
        for fetch_range in merge(leaves, self._tuning.merge_events):
            if deadline.remaining() < self._tuning.reserve_secs:
                outcome.stopped = "deadline"
                return min(proven, fetch_range.window.start)
            closed, previous_gap = self._settler.settle(
                fetch_range.window,
                outcome,
                deadline,
                previous_gap if previous_end == fetch_range.window.start else None,
            )
            previous_end = fetch_range.window.end
            if not closed:
                proven = min(proven, fetch_range.window.start)
        return proven
