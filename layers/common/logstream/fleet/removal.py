"""Stack deletion: remove the filters logstream created, and no others.

The registry knows every group logstream subscribed; for each, the filter is
deleted only if it carries logstream's name and points at logstream's
destination. A group whose record says ``subscribed`` but whose filter is gone
or foreign is left alone. Each removal is recorded, so a deletion that ran out
of time continues where it stopped when the stack is deleted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logstream.fleet.filters import SubscriptionFilters
from logstream.fleet.registry import GroupStatus, SubscriptionRegistry
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
    report = RemovalReport()
    for record in registry.records(GroupStatus.SUBSCRIBED):
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
        registry.record(record.log_group, GroupStatus.REMOVED)
    report.complete = True
    logger.info("logstream's subscription filters removed", extra=report.as_dict())
    return report
