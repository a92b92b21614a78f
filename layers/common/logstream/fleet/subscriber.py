"""Subscribing one log group: the decision, the filter, the record, the backfill plan.

For a group the selection takes, logstream's filter (SUBSCRIPTION_FILTER_NAME,
pointing at SUBSCRIPTION_DESTINATION_ARN) is put on it, unless:

- it is already there as wanted (nothing to do) or with another target
  (updated in place: same name);
- the group's two slots hold foreign filters: CloudWatch allows two per group
  and a filter logstream did not create is never replaced, so the group is
  recorded as refused, counted and logged as an error;
- the mode is ``account``: the account-level policy delivers it, so only the
  record and the backfill plan are made (a group filter would ship twice).

A newly subscribed group gets its backfill planned at once (BACKFILL_DAYS)
through the same claim the decoder's first delivery uses, so it is planned
once, and a quiet group gets its history too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from logstream.fleet.filters import FilterInfo, PutResult, SubscriptionFilters
from logstream.fleet.registry import GroupStatus, SubscriptionRegistry
from logstream.fleet.selection import GroupSelection, Refusal
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.settings import SelectionMode

#: Plans a group's history once (backfill.auto.AutoBackfill.plan_once); returns the job id.
PlanBackfill = Callable[[str, Deadline], str | None]


class Outcome(StrEnum):
    SUBSCRIBED = "subscribed"
    ALREADY = "already"
    UPDATED = "updated"
    REFUSED_TWO_FILTERS = "refused-two-filters"
    ACCOUNT_POLICY = "account-policy"
    OWN = "own"
    EXCLUDED = "excluded"
    NOT_SELECTED = "not-selected"
    GONE = "gone"


_METRICS = {
    Outcome.SUBSCRIBED: Metric.GROUPS_SUBSCRIBED,
    Outcome.ALREADY: Metric.GROUPS_ALREADY_SUBSCRIBED,
    Outcome.UPDATED: Metric.GROUPS_FILTER_UPDATED,
    Outcome.REFUSED_TWO_FILTERS: Metric.GROUPS_REFUSED_TWO_FILTERS,
    Outcome.ACCOUNT_POLICY: Metric.GROUPS_UNDER_ACCOUNT_POLICY,
    Outcome.OWN: Metric.GROUPS_OWN_SKIPPED,
    Outcome.EXCLUDED: Metric.GROUPS_EXCLUDED,
    Outcome.NOT_SELECTED: Metric.GROUPS_NOT_SELECTED,
    Outcome.GONE: Metric.GROUPS_GONE,
}
_REFUSALS = {
    Refusal.OWN: Outcome.OWN,
    Refusal.EXCLUDED: Outcome.EXCLUDED,
    Refusal.NOT_SELECTED: Outcome.NOT_SELECTED,
}


@dataclass(frozen=True, slots=True)
class FilterTarget:
    """The filter logstream wants on every group it subscribes."""

    name: str
    destination_arn: str
    filter_pattern: str = ""
    role_arn: str | None = None

    def as_filter(self) -> FilterInfo:
        return FilterInfo(self.name, self.destination_arn, self.filter_pattern, self.role_arn)

    def is_ours(self, found: FilterInfo) -> bool:
        """Our name and our destination: the only filters logstream ever deletes."""
        return found.name == self.name and found.destination_arn == self.destination_arn


class Subscriber:
    """Subscribes single groups; the sweep and the CreateLogGroup event both come here."""

    def __init__(
        self,
        *,
        filters: SubscriptionFilters,
        registry: SubscriptionRegistry,
        selection: GroupSelection,
        target: FilterTarget | None,
        plan_backfill: PlanBackfill | None = None,
    ) -> None:
        if target is None and selection.mode is not SelectionMode.ACCOUNT:
            raise ValueError("a filter target is needed unless the account policy subscribes")
        self.filters = filters
        self.registry = registry
        self.selection = selection
        self.target = target
        self._plan_backfill = plan_backfill

    def subscribe(self, log_group: str, deadline: Deadline) -> Outcome:
        """Subscribe one group if the selection takes it; metric and log for every outcome."""
        outcome = self._subscribe(log_group, deadline)
        count(_METRICS[outcome])
        if outcome is Outcome.REFUSED_TWO_FILTERS:
            logger.error(
                "log group not subscribed: its two subscription filter slots hold filters "
                "logstream did not create (never replaced); free one to ship it",
                extra={"log_group": log_group, "outcome": outcome},
            )
        elif outcome in {Outcome.SUBSCRIBED, Outcome.UPDATED, Outcome.OWN, Outcome.EXCLUDED}:
            logger.info("log group handled", extra={"log_group": log_group, "outcome": outcome})
        else:
            logger.debug("log group handled", extra={"log_group": log_group, "outcome": outcome})
        return outcome

    def _subscribe(self, log_group: str, deadline: Deadline) -> Outcome:  # noqa: PLR0911
        refusal = self.selection.why_not(log_group)
        if refusal is not None:
            return _REFUSALS[refusal]
        if self.target is None:  # account mode: the account policy delivers the group
            self.registry.record(log_group, GroupStatus.ACCOUNT_POLICY)
            self._plan(log_group, deadline)
            return Outcome.ACCOUNT_POLICY
        current = self.filters.filters_of(log_group, deadline)
        if current is None:
            return Outcome.GONE
        wanted = self.target.as_filter()
        ours = next((found for found in current if found.name == wanted.name), None)
        if ours == wanted:
            self.registry.record(log_group, GroupStatus.SUBSCRIBED, filter_name=wanted.name)
            return Outcome.ALREADY
        if ours is None and len(current) >= 2:
            return self._refuse(log_group, [found.name for found in current])
        result = self.filters.put(log_group, wanted, deadline)
        if result is PutResult.MISSING:
            return Outcome.GONE
        if result is PutResult.LIMIT:  # a foreign filter arrived since we looked
            return self._refuse(log_group, [found.name for found in current])
        self.registry.record(log_group, GroupStatus.SUBSCRIBED, filter_name=wanted.name)
        if ours is not None:
            return Outcome.UPDATED
        self._plan(log_group, deadline)
        return Outcome.SUBSCRIBED

    def _refuse(self, log_group: str, foreign: list[str]) -> Outcome:
        reason = "two foreign subscription filters: " + ", ".join(sorted(foreign))
        self.registry.record(log_group, GroupStatus.REFUSED, reason=reason[:1000])
        return Outcome.REFUSED_TWO_FILTERS

    def _plan(self, log_group: str, deadline: Deadline) -> None:
        """Plan the group's history; a failure is counted, and the decoder retries it.

        The group is subscribed already, so failing here would only repeat that
        work: the claim was dropped by ``plan_once``, so the group's first
        delivery plans it instead.
        """
        if self._plan_backfill is None:
            return
        try:
            job_id = self._plan_backfill(log_group, deadline)
        except Exception:  # noqa: BLE001 - logged with its traceback and counted
            count(Metric.AUTO_BACKFILL_FAILURES)
            logger.exception(
                "backfill planning failed at subscription; the first delivery plans it",
                extra={"log_group": log_group},
            )
            return
        if job_id:
            logger.info(
                "backfill planned at subscription", extra={"log_group": log_group, "job_id": job_id}
            )
