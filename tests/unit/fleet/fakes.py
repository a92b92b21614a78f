"""In-memory stand-ins for CloudWatch's filter APIs and the state-table stores (unit tests only;
tests/integration/fleet runs the real ones against moto)."""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

from logstream.fleet.cursor import SweepCursorStore, SweepPosition, SweepState
from logstream.fleet.filters import FilterInfo, GroupPage, PutResult, SubscriptionFilters
from logstream.fleet.registry import GroupRecord, GroupStatus, SubscriptionRegistry
from logstream.retry import Deadline


class FakeLogs:
    """Groups and their filters; pages of ``page_size``; two filters per group at most."""

    def __init__(self, groups: dict[str, list[FilterInfo]], page_size: int = 50) -> None:
        self.groups = groups
        self.page_size = page_size
        self.calls: Counter[str] = Counter()

    def list_page(self, prefix: str, next_token: str | None, deadline: Deadline) -> GroupPage:
        self.calls["DescribeLogGroups"] += 1
        names = sorted(name for name in self.groups if name.startswith(prefix))
        start = int(next_token or 0)
        end = start + self.page_size
        return GroupPage(names[start:end], str(end) if end < len(names) else None)

    def filters_of(self, log_group: str, deadline: Deadline) -> list[FilterInfo] | None:
        self.calls["DescribeSubscriptionFilters"] += 1
        found = self.groups.get(log_group)
        return None if found is None else list(found)

    def put(self, log_group: str, wanted: FilterInfo, deadline: Deadline) -> PutResult:
        self.calls["PutSubscriptionFilter"] += 1
        if log_group not in self.groups:
            return PutResult.MISSING
        current = [found for found in self.groups[log_group] if found.name != wanted.name]
        if len(current) >= 2:
            return PutResult.LIMIT
        self.groups[log_group] = [*current, wanted]
        return PutResult.PUT

    def delete(self, log_group: str, filter_name: str, deadline: Deadline) -> bool:
        self.calls["DeleteSubscriptionFilter"] += 1
        before = self.groups.get(log_group, [])
        self.groups[log_group] = [found for found in before if found.name != filter_name]
        return len(before) != len(self.groups[log_group])

    def as_port(self) -> SubscriptionFilters:
        return cast("SubscriptionFilters", self)


class FakeRegistry:
    def __init__(self) -> None:
        self.items: dict[str, GroupRecord] = {}

    def record(
        self,
        log_group: str,
        status: GroupStatus,
        *,
        reason: str | None = None,
        filter_name: str | None = None,
    ) -> None:
        first = self.items[log_group].first_ms if log_group in self.items else 0
        self.items[log_group] = GroupRecord(log_group, status, reason, filter_name, first, 0)

    def get(self, log_group: str) -> GroupRecord | None:
        return self.items.get(log_group)

    def records(self, status: GroupStatus | None = None) -> Any:
        return [r for _, r in sorted(self.items.items()) if status in {None, r.status}]

    def as_port(self) -> SubscriptionRegistry:
        return cast("SubscriptionRegistry", self)


class FakeCursor:
    def __init__(self) -> None:
        self.state = SweepState(None, None, None)
        self.saves = 0

    def load(self) -> SweepState:
        return self.state

    def save(self, position: SweepPosition) -> None:
        self.saves += 1
        self.state = SweepState(position, self.state.completed_ms, self.state.last_runs)

    def complete(self, completed_ms: int, runs: int) -> None:
        self.state = SweepState(None, completed_ms, runs)

    def as_port(self) -> SweepCursorStore:
        return cast("SweepCursorStore", self)


class CountdownDeadline(Deadline):
    """A deadline that loses ``step_ms`` each time it is asked: runs end after a fixed amount
    of work, whatever the machine's speed."""

    def __init__(self, total_ms: int, step_ms: int) -> None:
        self.left = total_ms

        def remaining() -> int:
            self.left -= step_ms
            return self.left

        super().__init__(remaining)
