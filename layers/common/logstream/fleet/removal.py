"""Removing logstream's filters: all of them (stack deletion), or those of groups that left
the selection (a name taken out of LOG_GROUPS, a new exclusion).

The registry knows every group logstream subscribed; for each, the filter is
deleted only if it carries logstream's name and points at logstream's
destination. A group whose record says ``subscribed`` but whose filter is gone
or foreign is left alone. Each removal is recorded, so a removal that ran out
of time continues where it stopped (the stack deleted again, the next sweep).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logstream.fleet.filters import SubscriptionFilters
from logstream.fleet.registry import GroupStatus, SubscriptionRegistry
from logstream.fleet.selection import GroupSelection
from logstream.fleet.subscriber import FilterTarget
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline


@dataclass(slots=True)
class RemovalReport:
    removed: int = 0
    not_ours: int = 0  # the record said subscribed; the filter there is not logstream's
    complete: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"removed": self.removed, "not_ours": self.not_ours, "complete": self.complete}


def remove_all(
    filters: SubscriptionFilters,
    registry: SubscriptionRegistry,
    target: FilterTarget,
    deadline: Deadline,
    *,
    reserve_secs: float,
) -> RemovalReport:
    """Delete logstream's filter from every group recorded as subscribed, within the deadline."""
    report = _remove(filters, registry, target, deadline, reserve_secs, lambda _: "stack deleted")
    logger.info("logstream's subscription filters removed", extra=report.as_dict())
    return report


def prune_deselected(
    filters: SubscriptionFilters,
    registry: SubscriptionRegistry,
    selection: GroupSelection,
    target: FilterTarget,
    deadline: Deadline,
    *,
    reserve_secs: float,
) -> RemovalReport:
    """Delete logstream's filter from subscribed groups the selection no longer takes."""

    def why(log_group: str) -> str | None:
        refusal = selection.why_not(log_group)
        return None if refusal is None else f"left the selection: {refusal}"

    report = _remove(filters, registry, target, deadline, reserve_secs, why)
    if report.removed or report.not_ours:
        logger.info("filters of groups that left the selection removed", extra=report.as_dict())
    return report


def _remove(  # noqa: PLR0917 - the two callers above name every argument
    filters: SubscriptionFilters,
    registry: SubscriptionRegistry,
    target: FilterTarget,
    deadline: Deadline,
    reserve_secs: float,
    reason_for: Callable[[str], str | None],
) -> RemovalReport:
    report = RemovalReport()
    for record in registry.records(GroupStatus.SUBSCRIBED):
        reason = reason_for(record.log_group)
        if reason is None:
            continue
        if deadline.remaining() < reserve_secs:
            logger.warning("filter removal stopped before the deadline", extra=report.as_dict())
            return report
        found = filters.filters_of(record.log_group, deadline) or []
        if any(target.is_ours(existing) for existing in found):
            filters.delete(record.log_group, target.name, deadline)
            report.removed += 1
            count(Metric.SUBSCRIPTION_FILTERS_REMOVED)
        else:
            report.not_ours += 1
        registry.record(record.log_group, GroupStatus.REMOVED, reason=reason)
    report.complete = True
    return report
