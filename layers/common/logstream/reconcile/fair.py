"""A scheduled reconciliation that is fair however many groups there are.

Each run lists the group set (:mod:`~logstream.reconcile.directory`, with at
most ``LISTING_SHARE`` of the run), continues the walk where the last run
stopped (:mod:`~logstream.reconcile.cursor`, stored in the state table) and
gives each group it starts an equal share of what is left, but never less
than ``min_group_secs``: with more groups than time, a run checks fewer groups
properly rather than all of them badly, and the next run goes on from there.
Every group is checked within ``ceil(groups / floor(usable / min_group_secs))``
runs (:func:`~logstream.reconcile.cursor.runs_bound`); each run reports where
it stands (``progress``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from logstream.aws.cloudwatch import LogGroupInfo
from logstream.observability import logger
from logstream.reconcile.cursor import (
    Cursor,
    Turn,
    groups_per_run,
    next_cursor,
    plan_turn,
    runs_bound,
)
from logstream.reconcile.cursor_store import CursorStore
from logstream.reconcile.directory import GroupDirectory, GroupListing
from logstream.reconcile.report import GroupReport, RunReport
from logstream.retry import Deadline
from logstream.times import iso

#: The least time a run gives a group it starts: the narrowing keeps a 5 s
#: reserve before each query, so this leaves a group 10 s of real work.
MIN_GROUP_SECS: Final = 15.0
#: The listing may use at most this share of a run; the rest is for checking.
LISTING_SHARE: Final = 0.25


class GroupChecker(Protocol):
    """What a run needs of the :class:`~logstream.reconcile.service.Reconciler`."""

    def run_group(self, info: LogGroupInfo, deadline: Deadline, run_started: str) -> GroupReport:
        """Reconcile one group within ``deadline`` and publish its report."""
        ...

    def publish(self, report: GroupReport) -> None: ...


class FairReconciliation:
    """Scheduled runs: the cursor's next groups, each with at least its minimum slice."""

    def __init__(
        self,
        reconciler: GroupChecker,
        directory: GroupDirectory,
        cursors: CursorStore,
        *,
        min_group_secs: float = MIN_GROUP_SECS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._reconciler = reconciler
        self._directory = directory
        self._cursors = cursors
        self._min_group_secs = min_group_secs
        self._clock = clock

    def run(self, deadline: Deadline) -> RunReport:
        """Check the groups after the cursor while time allows, then move the cursor."""
        run = RunReport(run_started=iso(int(self._clock() * 1000)))
        cursor = self._cursors.load()
        listing = self._directory.groups(
            deadline.slice(deadline.remaining() * LISTING_SHARE), resume=cursor.resume
        )
        for entry in listing.unresolved:
            report = GroupReport(entry.entry, run.run_started, entry.status, error=entry.error)
            self._reconciler.publish(report)
            run.groups.append(report)
        turn = plan_turn(cursor, listing)
        usable = deadline.remaining()
        started: list[str] = []
        checked: list[GroupReport] = []
        try:
            self._check(turn, deadline, run.run_started, started, checked)
        finally:
            # Saved whatever happened, past every group started: one that raised
            # is not first in line again, so it cannot hold the walk up.
            moved = next_cursor(cursor, turn, listing, len(started))
            self._cursors.save(moved)
        run.groups += checked
        run.progress = self._progress(cursor, moved, listing, checked, usable)
        logger.info("reconcile run progress", extra=run.progress)
        return run

    def _check(
        self,
        turn: Turn,
        deadline: Deadline,
        run_started: str,
        started: list[str],
        checked: list[GroupReport],
    ) -> None:
        queue = turn.ahead + turn.behind
        for position, info in enumerate(queue):
            remaining = deadline.remaining()
            # The first group always runs, so even a run shorter than one
            # slice moves the walk on.
            if remaining <= 0 or (started and remaining < self._min_group_secs):
                return
            share = max(self._min_group_secs, remaining / (len(queue) - position))
            started.append(info.name)
            checked.append(
                self._reconciler.run_group(info, deadline.slice(min(share, remaining)), run_started)
            )

    def _progress(
        self,
        before: Cursor,
        after: Cursor,
        listing: GroupListing,
        checked: list[GroupReport],
        usable_secs: float,
    ) -> dict[str, Any]:
        """Where the walk stands, for the run's answer and log line."""
        per_run = groups_per_run(usable_secs, self._min_group_secs)
        total = len(listing.groups) if listing.complete else None
        through = (
            sum(1 for g in listing.groups if after.after is not None and g.name <= after.after)
            if total is not None
            else None
        )
        return {
            "cycle": before.cycle,
            "run_in_cycle": before.cycle_runs + 1,
            "cycle_ended": after.cycle > before.cycle,
            "groups_listed": len(listing.groups),
            "listing_complete": listing.complete,
            "groups_total": total,
            "groups_checked": len(checked),
            "first_group": checked[0].log_group if checked else None,
            "last_group": checked[-1].log_group if checked else None,
            "cursor_after": after.after,
            "cycle_position": through,
            "min_group_secs": self._min_group_secs,
            "groups_per_run": per_run,
            "runs_bound": runs_bound(total, per_run) if total is not None else None,
        }
