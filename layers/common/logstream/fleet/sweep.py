"""The sweep: every group the selection could take, subscribed, over as many runs as it needs.

Groups are listed by the selection's listing prefixes (``""`` in account mode
without prefixes: the whole account), 50 per DescribeLogGroups page. The
position is saved after each page and whenever the run stops, so a large
account is swept across scheduled runs, each stopping cleanly before its
deadline; a run that finishes the sweep does not start another. A group
CloudWatch refuses a call for is recorded and counted, and the sweep goes
on; if every group of a run failed the cause is general (permissions), so
the run fails after saving its position.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from logstream.aws.backoff_calls import error_code, refused_page_token
from logstream.errors import InfrastructureError
from logstream.fleet.cursor import SweepCursorStore, SweepPosition
from logstream.fleet.filters import FleetThrottled
from logstream.fleet.registry import GroupStatus
from logstream.fleet.removal import prune_deselected
from logstream.fleet.subscriber import Subscriber
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.settings import SelectionMode

#: A run whose first this-many groups all failed stops: the cause is not the groups.
_GENERAL_FAILURE_GROUPS = 5


@dataclass(slots=True)
class SweepReport:
    """What one run of the sweep did."""

    outcomes: Counter[str] = field(default_factory=Counter)
    groups: int = 0
    pages: int = 0
    failed: int = 0
    complete: bool = False
    runs: int = 0  # runs this sweep has taken, this one included

    def as_dict(self) -> dict[str, Any]:
        return {
            "groups": self.groups,
            "pages": self.pages,
            "failed": self.failed,
            "complete": self.complete,
            "runs": self.runs,
            "outcomes": {str(name): n for name, n in sorted(self.outcomes.items())},
        }


class Sweeper:
    """Walks the listing prefixes from the saved position; see the module docstring."""

    def __init__(
        self,
        subscriber: Subscriber,
        cursor: SweepCursorStore,
        *,
        reserve_secs: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._subscriber = subscriber
        self._cursor = cursor
        self._reserve_secs = reserve_secs  # the longest one group's work can take
        self._clock = clock

    def run(self, deadline: Deadline) -> SweepReport:
        prefixes = self._subscriber.selection.listing_prefixes()
        position = self._start(prefixes)
        report = SweepReport(runs=position.runs)
        filters = self._subscriber.filters
        while position.prefix_index < len(prefixes):
            if deadline.remaining() < self._reserve_secs:
                return self._stop(position, report)
            try:
                page = filters.list_page(
                    prefixes[position.prefix_index], position.page_token, deadline
                )
            except FleetThrottled:
                return self._stop(position, report)
            except ClientError as error:
                if position.page_token is None or not refused_page_token(error):
                    raise
                # A saved token CloudWatch no longer takes: this prefix starts over.
                logger.warning("sweep token expired; the prefix is listed again")
                position = replace(position, page_token=None, done_in_page=0)
                continue
            report.pages += 1
            for index in range(position.done_in_page, len(page.names)):
                if deadline.remaining() < self._reserve_secs:
                    return self._stop(replace(position, done_in_page=index), report)
                try:
                    self._one(page.names[index], deadline, report)
                except FleetThrottled:
                    return self._stop(replace(position, done_in_page=index), report)
                if report.failed == report.groups >= _GENERAL_FAILURE_GROUPS:
                    self._cursor.save(replace(position, done_in_page=index + 1))
                    raise InfrastructureError(
                        f"the first {report.failed} groups of this run all failed; "
                        "see the logged errors (permissions?)"
                    )
            if page.next_token:
                position = replace(position, page_token=page.next_token, done_in_page=0)
            else:
                position = replace(
                    position,
                    prefix_index=position.prefix_index + 1,
                    page_token=None,
                    done_in_page=0,
                )
            self._cursor.save(position)
        self._cursor.complete(int(self._clock() * 1000), position.runs)
        report.complete = True
        self._report_missing(report)
        self._prune(deadline, report)
        logger.info("sweep complete", extra=report.as_dict())
        return report

    def _report_missing(self, report: SweepReport) -> None:
        """List mode: a selected name the whole sweep never found has no group (a typo, or
        not created yet: its CreateLogGroup event will subscribe it)."""
        selection = self._subscriber.selection
        if selection.mode is not SelectionMode.LIST:
            return
        registry = self._subscriber.registry
        missing = sorted(
            name
            for name in selection.names
            if selection.selects(name) and registry.get(name) is None
        )
        if missing:
            count(Metric.LISTED_GROUPS_MISSING, len(missing))
            logger.warning(
                "LOG_GROUPS names groups that do not exist; they are subscribed when created",
                extra={"log_groups": missing[:100], "missing": len(missing)},
            )
            report.outcomes["missing"] += len(missing)

    def _prune(self, deadline: Deadline, report: SweepReport) -> None:
        """After a whole sweep: unsubscribe groups that left the selection, as time allows
        (what is left waits for the next whole sweep)."""
        subscriber = self._subscriber
        if subscriber.target is None:  # account mode puts no group filters
            return
        pruned = prune_deselected(
            subscriber.filters,
            subscriber.registry,
            subscriber.selection,
            subscriber.target,
            deadline,
            reserve_secs=self._reserve_secs,
        )
        if pruned.removed:
            report.outcomes["unsubscribed"] += pruned.removed

    def _start(self, prefixes: tuple[str, ...]) -> SweepPosition:
        """The saved position if it walks the same prefixes, else a new sweep; one more run."""
        fingerprint = hashlib.sha256("\n".join(prefixes).encode()).hexdigest()[:16]
        saved = self._cursor.load().position
        if saved is None or saved.fingerprint != fingerprint:
            saved = SweepPosition(started_ms=int(self._clock() * 1000), fingerprint=fingerprint)
        return replace(saved, runs=saved.runs + 1)

    def _one(self, log_group: str, deadline: Deadline, report: SweepReport) -> None:
        report.groups += 1
        try:
            outcome = self._subscriber.subscribe(log_group, deadline)
        except ClientError as error:
            report.failed += 1
            count(Metric.GROUPS_FAILED)
            logger.error(
                "CloudWatch refused a call for this group; the next sweep tries again",
                extra={"log_group": log_group, "error": str(error)},
            )
            self._subscriber.registry.record(
                log_group, GroupStatus.REFUSED, reason=f"error: {error_code(error)}"
            )
            return
        report.outcomes[outcome] += 1

    def _stop(self, position: SweepPosition, report: SweepReport) -> SweepReport:
        self._cursor.save(position)
        logger.info(
            "sweep paused before the deadline; the next run continues", extra=report.as_dict()
        )
        return report
