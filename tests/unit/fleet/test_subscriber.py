"""One group: subscribed once, never over a foreign filter, refused loudly, backfill planned."""

from __future__ import annotations

import pytest

from logstream.fleet.filters import FilterInfo
from logstream.fleet.registry import GroupStatus
from logstream.fleet.selection import GroupSelection
from logstream.fleet.service import FleetService
from logstream.fleet.subscriber import FilterTarget, Outcome, Subscriber
from logstream.fleet.sweep import Sweeper
from logstream.own_groups import OwnGroups
from logstream.retry import Deadline
from logstream.settings import SelectionMode
from tests.unit.fleet.fakes import FakeCursor, FakeLogs, FakeRegistry

DECODER = "arn:aws:lambda:us-east-1:123456789012:function:stack-Decoder-1"
TARGET = FilterTarget("stack-logstream", DECODER)
FOREIGN_A = FilterInfo("datadog", "arn:aws:lambda:us-east-1:123456789012:function:dd", "", None)
FOREIGN_B = FilterInfo("splunk", "arn:aws:firehose:us-east-1:123456789012:stream/s", "", None)
SELECTION = GroupSelection(
    SelectionMode.PREFIXES, prefixes=("/app/",), own=OwnGroups(prefixes=("/app/stack-",))
)


class Planner:
    def __init__(self, fails: bool = False) -> None:
        self.planned: list[str] = []
        self.fails = fails

    def __call__(self, log_group: str, deadline: Deadline) -> str | None:
        if self.fails:
            raise RuntimeError("DynamoDB is down")
        self.planned.append(log_group)
        return f"job-{log_group}"


def _subscriber(
    groups: dict[str, list[FilterInfo]],
    *,
    selection: GroupSelection = SELECTION,
    target: FilterTarget | None = TARGET,
    planner: Planner | None = None,
) -> tuple[Subscriber, FakeLogs, FakeRegistry]:
    logs, registry = FakeLogs(groups), FakeRegistry()
    subscriber = Subscriber(
        filters=logs.as_port(),
        registry=registry.as_port(),
        selection=selection,
        target=target,
        plan_backfill=planner,
    )
    return subscriber, logs, registry


DEADLINE = Deadline(lambda: 60_000)


def test_a_new_group_is_subscribed_recorded_and_planned() -> None:
    planner = Planner()
    subscriber, logs, registry = _subscriber({"/app/a": [FOREIGN_A]}, planner=planner)
    assert subscriber.subscribe("/app/a", DEADLINE) is Outcome.SUBSCRIBED
    assert logs.groups["/app/a"] == [FOREIGN_A, TARGET.as_filter()]  # the foreign one stays
    record = registry.get("/app/a")
    assert record is not None
    assert (record.status, record.filter_name) == (GroupStatus.SUBSCRIBED, "stack-logstream")
    assert planner.planned == ["/app/a"]
    # Again: nothing changes and nothing is planned twice.
    assert subscriber.subscribe("/app/a", DEADLINE) is Outcome.ALREADY
    assert logs.calls["PutSubscriptionFilter"] == 1
    assert planner.planned == ["/app/a"]


def test_two_foreign_filters_are_never_replaced_and_the_group_is_reported() -> None:
    subscriber, logs, registry = _subscriber({"/app/full": [FOREIGN_A, FOREIGN_B]})
    assert subscriber.subscribe("/app/full", DEADLINE) is Outcome.REFUSED_TWO_FILTERS
    assert logs.groups["/app/full"] == [FOREIGN_A, FOREIGN_B]
    assert logs.calls["PutSubscriptionFilter"] == 0
    record = registry.get("/app/full")
    assert record is not None
    assert record.status is GroupStatus.REFUSED
    assert record.reason is not None
    assert "datadog" in record.reason
    assert "splunk" in record.reason


def test_our_filter_with_another_destination_is_updated_in_place() -> None:
    stale = FilterInfo(TARGET.name, "arn:aws:lambda:us-east-1:123456789012:function:old", "", None)
    planner = Planner()
    subscriber, logs, _ = _subscriber({"/app/a": [FOREIGN_A, stale]}, planner=planner)
    assert subscriber.subscribe("/app/a", DEADLINE) is Outcome.UPDATED
    assert logs.groups["/app/a"] == [FOREIGN_A, TARGET.as_filter()]
    assert planner.planned == []  # it was subscribed before: its history was planned then


@pytest.mark.parametrize(
    ("group", "outcome"),
    [("/app/stack-Decoder-1", Outcome.OWN), ("/other", Outcome.NOT_SELECTED)],
)
def test_groups_outside_the_selection_cost_no_call(group: str, outcome: Outcome) -> None:
    subscriber, logs, registry = _subscriber({group: []})
    assert subscriber.subscribe(group, DEADLINE) is outcome
    assert sum(logs.calls.values()) == 0
    assert registry.items == {}


def test_a_group_deleted_meanwhile_is_gone_not_an_error() -> None:
    subscriber, _, registry = _subscriber({})
    assert subscriber.subscribe("/app/vanished", DEADLINE) is Outcome.GONE
    assert registry.items == {}


def test_account_mode_records_and_plans_without_a_group_filter() -> None:
    planner = Planner()
    account = GroupSelection(SelectionMode.ACCOUNT)
    subscriber, logs, registry = _subscriber(
        {"/any": []}, selection=account, target=None, planner=planner
    )
    assert subscriber.subscribe("/any", DEADLINE) is Outcome.ACCOUNT_POLICY
    assert sum(logs.calls.values()) == 0
    assert registry.items["/any"].status is GroupStatus.ACCOUNT_POLICY
    assert planner.planned == ["/any"]


def test_a_failed_backfill_plan_does_not_undo_the_subscription() -> None:
    subscriber, logs, _ = _subscriber({"/app/a": []}, planner=Planner(fails=True))
    assert subscriber.subscribe("/app/a", DEADLINE) is Outcome.SUBSCRIBED
    assert logs.groups["/app/a"] == [TARGET.as_filter()]


def test_list_and_prefix_modes_need_a_target() -> None:
    with pytest.raises(ValueError, match="filter target"):
        _subscriber({}, target=None)


def test_removal_deletes_only_our_filter_where_it_still_points_at_us() -> None:
    elsewhere = FilterInfo(TARGET.name, "arn:aws:kinesis:us-east-1:1:stream/other", "", None)
    subscriber, logs, registry = _subscriber(
        {"/app/a": [FOREIGN_A], "/app/b": [], "/app/c": [FOREIGN_B, FOREIGN_A]}
    )
    for group in ("/app/a", "/app/b", "/app/c"):
        subscriber.subscribe(group, DEADLINE)
    logs.groups["/app/b"] = [elsewhere]  # someone repointed it: not ours to delete any more
    service = FleetService(
        subscriber, Sweeper(subscriber, FakeCursor().as_port(), reserve_secs=1), 1
    )
    report = service.remove_all(DEADLINE)
    assert (report.removed, report.not_ours, report.complete) == (1, 1, True)
    assert logs.groups == {
        "/app/a": [FOREIGN_A],
        "/app/b": [elsewhere],
        "/app/c": [FOREIGN_B, FOREIGN_A],
    }
    assert {r.status for r in registry.items.values()} == {GroupStatus.REMOVED, GroupStatus.REFUSED}
