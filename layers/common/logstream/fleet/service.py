"""The subscriber function's three operations, over the parts that do them."""

from __future__ import annotations

from dataclasses import dataclass

from logstream.fleet.removal import RemovalReport, remove_all
from logstream.fleet.subscriber import Outcome, Subscriber
from logstream.fleet.sweep import Sweeper, SweepReport
from logstream.retry import Deadline


@dataclass(frozen=True, slots=True)
class FleetService:
    subscriber: Subscriber
    sweeper: Sweeper
    #: The longest one group's work can take: a run stops when less than this is left.
    reserve_secs: float

    def subscribe_new(self, log_group: str, deadline: Deadline) -> Outcome:
        """A group that was just created (the CreateLogGroup event)."""
        return self.subscriber.subscribe(log_group, deadline)

    def sweep(self, deadline: Deadline) -> SweepReport:
        """Every selected group, from where the last run stopped."""
        return self.sweeper.run(deadline)

    def remove_all(self, deadline: Deadline) -> RemovalReport:
        """Stack deletion: logstream's filters only. Account mode put none."""
        target = self.subscriber.target
        if target is None:
            return RemovalReport(complete=True)
        return remove_all(
            self.subscriber.filters,
            self.subscriber.registry,
            target,
            deadline,
            reserve_secs=self.reserve_secs,
        )
