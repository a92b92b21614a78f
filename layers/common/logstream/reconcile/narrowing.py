"""Counting and narrowing: the leaf windows under a chunk whose counts differ.

Per chunk, one count query on each side in the coarsest buckets. A bucket whose
counts differ is refined: its children at the next step are counted with one
query per side and only the children that differ are followed. A window
becomes a *leaf* when CloudWatch holds at most ``leaf_events`` events in it,
when at least half of it is missing (refining cannot halve the work any more),
or at the finest step. :func:`merge` then joins adjacent leaves into the
ranges that are fetched.
"""

from __future__ import annotations

from dataclasses import dataclass

from logstream.reconcile.ports import CountingOutOfTime, IndexCounter, SourceCounter
from logstream.reconcile.report import RangeOutcome
from logstream.reconcile.window import Tuning, Window
from logstream.retry import Deadline


class OutOfTime(Exception):
    """The deadline's reserve was reached; the chunk is proven up to ``proven_until``."""

    def __init__(self, proven_until: int) -> None:
        super().__init__(proven_until)
        self.proven_until = proven_until


class _NoRoom(Exception):
    pass


@dataclass(slots=True)
class Leaf:
    window: Window
    source_count: int
    #: No CloudWatch event lies between the previous leaf and this one, so one
    #: fetch can cover both (a gap's leaves then make one range).
    joinable: bool = False


class Narrowing:
    """Finds the leaves of one group's chunks (pure over the two counters)."""

    def __init__(
        self, log_group: str, *, source: SourceCounter, index: IndexCounter, tuning: Tuning
    ) -> None:
        self._group = log_group
        self._source = source
        self._index = index
        self._tuning = tuning
        self._clear = False  # no CloudWatch event seen since the last leaf

    def leaves(self, chunk: Window, outcome: RangeOutcome, deadline: Deadline) -> list[Leaf]:
        """The leaves of ``chunk`` in time order; counts go into ``outcome``.

        Raises :class:`OutOfTime` (with how far the chunk is proven: up to its
        first mismatched bucket) when the deadline's reserve is reached.
        """
        top = self._tuning.steps_ms[0]
        try:
            source, index = self._counts(chunk, top, deadline, outcome)
        except _NoRoom:
            raise OutOfTime(chunk.start) from None
        leaves: list[Leaf] = []
        first_mismatch: int | None = None
        self._clear = False
        try:
            for bucket in chunk.split(top):
                cs, ci = source.get(bucket.start, 0), index.get(bucket.start, 0)
                outcome.windows_checked += 1
                outcome.events_in_source += cs
                outcome.events_in_index += ci
                if cs == ci:
                    self._seen(cs)
                else:
                    if first_mismatch is None:
                        first_mismatch = bucket.start
                    leaves += self._explore(bucket, 0, (cs, ci), deadline=deadline, outcome=outcome)
        except _NoRoom:
            raise OutOfTime(first_mismatch if first_mismatch is not None else chunk.start) from None
        return leaves

    def _counts(
        self, window: Window, step_ms: int, deadline: Deadline, outcome: RangeOutcome
    ) -> tuple[dict[int, int], dict[int, int]]:
        if deadline.remaining() < self._tuning.reserve_secs:
            raise _NoRoom
        outcome.count_queries += 1
        try:
            source = self._source.counts(self._group, window, step_ms, deadline)
        except CountingOutOfTime:
            raise _NoRoom from None
        index = self._index.counts(self._group, window, step_ms)
        return source, index

    def _leaf(self, window: Window, source_count: int, *, joinable: bool) -> Leaf:
        self._clear = True
        return Leaf(window, source_count, joinable)

    def _seen(self, source_count: int) -> None:
        if source_count:
            self._clear = False

    def _explore(
        self,
        window: Window,
        level: int,
        counts: tuple[int, int],
        *,
        deadline: Deadline,
        outcome: RangeOutcome,
    ) -> list[Leaf]:
        """The leaves under a window whose (source, index) counts differ."""
        source_count, index_count = counts
        steps = self._tuning.steps_ms
        missing = source_count - index_count
        joinable = self._clear
        if (
            level + 1 >= len(steps)
            or source_count <= self._tuning.leaf_events
            or 2 * missing >= source_count
        ):
            return [self._leaf(window, source_count, joinable=joinable)]
        step = steps[level + 1]
        source, index = self._counts(window, step, deadline, outcome)
        outcome.refinements += 1
        leaves: list[Leaf] = []
        for child in window.split(step):
            cs, ci = source.get(child.start, 0), index.get(child.start, 0)
            outcome.windows_checked += 1
            if cs == ci:
                self._seen(cs)
            else:
                leaves += self._explore(
                    child, level + 1, (cs, ci), deadline=deadline, outcome=outcome
                )
        if not leaves:
            # The parent's counts differed but every child's agree: the two
            # counts were taken at different moments (Insights is eventually
            # consistent). Settle the whole window with FilterLogEvents.
            self._clear = joinable
            return [self._leaf(window, source_count, joinable=joinable)]
        return leaves


def merge(leaves: list[Leaf], merge_events: int) -> list[Leaf]:
    """Adjacent (or joinable) leaves joined while together they hold at most
    ``merge_events`` CloudWatch events: the ranges to fetch."""
    merged: list[Leaf] = []
    for leaf in leaves:
        last = merged[-1] if merged else None
        if (
            last is not None
            and (leaf.joinable or last.window.end == leaf.window.start)
            and last.source_count + leaf.source_count <= merge_events
        ):
            merged[-1] = Leaf(
                Window(last.window.start, leaf.window.end),
                last.source_count + leaf.source_count,
            )
        else:
            merged.append(leaf)
    return merged
