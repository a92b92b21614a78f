"""Settling a fetched range: fetch it from CloudWatch, compare it with the index,
re-ship exactly what is missing, count it again, and record its gaps.

FilterLogEvents is the source of truth here: counts only chose the range, and
nothing is re-shipped on a count alone. Documents CloudWatch does not hold are
reported, never deleted.
"""

from __future__ import annotations

from logstream.reconcile.comparison import compare, missing_events
from logstream.reconcile.ports import EventFetcher, IndexCounter, Repairer
from logstream.reconcile.report import GAP_ID_SAMPLE, Gap, RangeOutcome, Unexpected
from logstream.reconcile.window import Window
from logstream.retry import Deadline


class RangeSettler:
    """Fetches, compares and repairs the ranges of one group."""

    def __init__(
        self,
        log_group: str,
        *,
        fetcher: EventFetcher,
        index: IndexCounter,
        repairer: Repairer,
    ) -> None:
        self._group = log_group
        self._fetcher = fetcher
        self._index = index
        self._repairer = repairer

    def settle(
        self,
        window: Window,
        outcome: RangeOutcome,
        deadline: Deadline,
        joinable: Gap | None,
    ) -> tuple[bool, Gap | None]:
        """Fetch, compare and repair one range; True when it is proven complete.

        Also returns the range's last gap if it ran to the range's end, so the
        next adjacent range can continue it (``joinable``).
        """
        events = sorted(
            self._fetcher.events(self._group, window, deadline),
            key=lambda e: (e["timestamp"], e["id"]),
        )
        outcome.ranges_fetched += 1
        outcome.events_fetched += len(events)
        found = compare(events, self._index.ids(self._group, window))
        if found.unexpected:
            outcome.unexpected_documents += len(found.unexpected)
            outcome.unexpected.append(
                Unexpected(window, len(found.unexpected), found.unexpected[:GAP_ID_SAMPLE])
            )
        if not found.missing:
            if not found.unexpected:
                outcome.stale_counts += 1
            return True, None
        outcome.events_missing += len(found.missing)
        result = self._repairer.reship(self._group, found.missing, deadline)
        outcome.events_reshipped += result.delivered
        outcome.events_duplicate += result.duplicates
        outcome.events_parked += result.parked
        if result.error:
            outcome.repair_errors.append(result.error)
        self._index.refresh(self._group)
        after = self._index.ids(self._group, window)
        still = {event["id"] for event in missing_events(found.missing, after)}
        for gap, run_ids in found.runs:
            gap.still_missing = sum(1 for i in run_ids if i in still)
        still_open = max(0, len(still) - result.parked)
        outcome.events_still_missing += still_open
        tail = record_gaps([gap for gap, _ in found.runs], outcome, joinable)
        return still_open == 0, tail


def record_gaps(gaps: list[Gap], outcome: RangeOutcome, joinable: Gap | None) -> Gap | None:
    """Add a range's gaps to ``outcome``, continuing ``joinable`` (the previous
    adjacent range's open-ended last gap) when the first gap starts the range.
    Returns the last gap if it is open to the right."""
    for position, gap in enumerate(gaps):
        if position == 0 and joinable is not None and joinable.open_right and gap.open_left:
            joinable.end_ms = gap.end_ms
            joinable.missing += gap.missing
            joinable.still_missing += gap.still_missing
            room = GAP_ID_SAMPLE - len(joinable.event_ids)
            joinable.event_ids += gap.event_ids[: max(0, room)]
            joinable.open_right = gap.open_right
            continue
        outcome.gaps.append(gap)
    last = outcome.gaps[-1] if outcome.gaps else None
    return last if last is not None and last.open_right else None
