"""Auto-backfill: the first time the live path sees a log group, plan its recent history.

On when BACKFILL_DAYS > 0 (and a state table is set). A group is claimed once
in the state table; if planning fails the claim is dropped, so the next
delivery tries again. Importing this module is cheap: the decoder builds the
backfill service (and imports it) only when a group shows up for the first time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from logstream.backfill.request import is_log_group_name
from logstream.observability import Metric, count, logger

if TYPE_CHECKING:
    from logstream.backfill.service import BackfillService
    from logstream.retry import Deadline
    from logstream.settings import Settings
    from logstream.shipping.payload import LogBatch


class AutoBackfill:
    """The live path's hook: plans the last ``days`` days of each group seen for the first time."""

    def __init__(self, service: Callable[[], BackfillService], days: int) -> None:
        self._service = service
        self._days = days
        self._seen: set[str] = set()  # per container: only a new group costs a DynamoDB write

    def __call__(self, batch: LogBatch, deadline: Deadline) -> str | None:
        if batch.log_group in self._seen:
            return None
        job_id = self.plan_once(batch.log_group, deadline)
        self._seen.add(batch.log_group)
        if job_id:
            logger.info(
                "first delivery from a group: backfill planned",
                extra={"log_group": batch.log_group, "job_id": job_id},
            )
        return job_id

    def plan_once(self, log_group: str, deadline: Deadline) -> str | None:
        """Plan the group's history unless someone already claimed it; returns the job id.

        A payload's group is always one literal name. A name CloudWatch would
        not allow (such as ``/*``, which a backfill request would read as a
        prefix of every group) came from a forged or corrupt payload: nothing
        is planned for it.
        """
        if not is_log_group_name(log_group):
            count(Metric.AUTO_BACKFILL_FAILURES)
            logger.error(
                "not a CloudWatch log group name; no backfill planned for it",
                extra={"log_group": log_group[:600]},
            )
            return None
        service = self._service()
        if not service.claims.claim(log_group):
            return None
        try:
            view = service.start({"log_groups": [log_group], "days": self._days}, deadline)
        except Exception:
            # Unclaim so the next delivery tries again; the error still surfaces.
            service.claims.unclaim(log_group)
            raise
        count(Metric.BACKFILL_JOBS_PLANNED)
        return view.job_id


def auto_backfill_hook(
    settings: Settings, service: Callable[[], BackfillService]
) -> AutoBackfill | None:
    """The hook for the live path, or None when auto-backfill is off."""
    if settings.backfill_days <= 0 or settings.state_table is None:
        return None
    return AutoBackfill(service, settings.backfill_days)
