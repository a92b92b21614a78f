"""The sweep: resumable across runs, each stopping before its deadline, exactly once per group."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from logstream.errors import InfrastructureError
from logstream.fleet.filters import FilterInfo, GroupPage
from logstream.fleet.selection import Exclusions, GroupSelection
from logstream.fleet.subscriber import FilterTarget, Subscriber
from logstream.fleet.sweep import Sweeper
from logstream.own_groups import OwnGroups
from logstream.retry import Deadline
from logstream.settings import SelectionMode
from tests.unit.fleet.fakes import CountdownDeadline, FakeCursor, FakeLogs, FakeRegistry

TARGET = FilterTarget("stack-logstream", "arn:aws:lambda:us-east-1:123456789012:function:d")
FOREIGN = FilterInfo("other", "arn:aws:lambda:us-east-1:123456789012:function:o", "", None)


def _fleet(size: int) -> dict[str, list[FilterInfo]]:
    groups: dict[str, list[FilterInfo]] = {f"/app/g{i:04d}": [] for i in range(size)}
    groups.update({f"/other/g{i}": [] for i in range(7)})
    groups["/app/stack-Decoder-1"] = []
    groups["/app/full"] = [FOREIGN, FOREIGN]
    return groups


def _sweeper(groups: dict[str, list[FilterInfo]]) -> tuple[Sweeper, FakeLogs, FakeCursor]:
    logs, cursor = FakeLogs(groups, page_size=50), FakeCursor()
    selection = GroupSelection(
        SelectionMode.PREFIXES, prefixes=("/app/",), own=OwnGroups(prefixes=("/app/stack-",))
    )
    subscriber = Subscriber(
        filters=logs.as_port(),
        registry=FakeRegistry().as_port(),
        selection=selection,
        target=TARGET,
    )
    return Sweeper(subscriber, cursor.as_port(), reserve_secs=1, clock=lambda: 1000.0), logs, cursor


def test_one_run_with_time_enough_sweeps_everything_once() -> None:
    sweeper, logs, cursor = _sweeper(_fleet(120))
    report = sweeper.run(Deadline(lambda: 600_000))
    assert report.complete
    assert report.runs == 1
    assert report.outcomes["subscribed"] == 120
    assert report.outcomes["own"] == 1
    assert report.outcomes["refused-two-filters"] == 1
    assert report.groups == 122  # /other/ is never listed
    assert logs.calls["DescribeLogGroups"] == 3  # 122 names, 50 a page
    assert cursor.state.position is None
    assert cursor.state.last_runs == 1


def test_short_runs_stop_before_the_deadline_and_resume_where_they_stopped() -> None:
    groups = _fleet(300)
    sweeper, logs, cursor = _sweeper(groups)
    runs = 0
    while True:
        runs += 1
        # 40 looks at the deadline, then less than the 1 s reserve is left.
        report = sweeper.run(CountdownDeadline(total_ms=41_000, step_ms=1_000))
        assert runs < 50, "the sweep never completes"
        if report.complete:
            break
        assert cursor.state.position is not None
    assert report.runs == runs
    assert runs >= 302 // 40
    # Every selected group was subscribed exactly once, whatever the runs.
    assert logs.calls["PutSubscriptionFilter"] == 300
    assert all(
        found == [TARGET.as_filter()] for name, found in groups.items() if name.startswith("/app/g")
    )
    assert all(found == [] for name, found in groups.items() if name.startswith("/other/"))
    print(f"\n300 groups, 40 deadline checks a run: {runs} runs")


def test_a_changed_selection_starts_a_new_sweep() -> None:
    sweeper, _, cursor = _sweeper(_fleet(120))
    sweeper.run(CountdownDeadline(total_ms=21_000, step_ms=1_000))
    saved = cursor.state.position
    assert saved is not None
    cursor.save(type(saved)(prefix_index=0, page_token="50", fingerprint="another selection"))
    report = sweeper.run(Deadline(lambda: 600_000))
    assert report.complete
    assert report.runs == 1  # counted from the new sweep
    assert report.outcomes["already"] >= 1  # it walked from the first page again


def test_a_whole_sweep_unsubscribes_groups_that_left_the_selection() -> None:
    groups = _fleet(60)
    sweeper, logs, _ = _sweeper(groups)
    assert sweeper.run(Deadline(lambda: 600_000)).complete
    # Someone excludes two groups (the selection changes; the registry remembers them).
    subscriber = sweeper._subscriber
    narrowed = GroupSelection(
        SelectionMode.PREFIXES,
        prefixes=("/app/",),
        own=OwnGroups(prefixes=("/app/stack-",)),
        excluded=Exclusions(names=frozenset({"/app/g0001", "/app/g0002"})),
    )
    subscriber.selection = narrowed
    groups["/app/g0002"].insert(0, FOREIGN)  # a foreign filter arrived meanwhile: it stays
    report = sweeper.run(Deadline(lambda: 600_000))
    assert report.complete
    assert report.outcomes["unsubscribed"] == 2
    assert groups["/app/g0001"] == []
    assert groups["/app/g0002"] == [FOREIGN]
    assert groups["/app/g0003"] == [TARGET.as_filter()]
    registry = subscriber.registry
    record = registry.get("/app/g0001")
    assert record is not None
    assert record.status == "removed"
    assert record.reason == "left the selection: excluded"
    assert logs.calls["DeleteSubscriptionFilter"] == 2


def test_list_mode_reports_names_no_group_has() -> None:
    logs, registry = FakeLogs({"/a": [], "/b": [FOREIGN, FOREIGN]}), FakeRegistry()
    subscriber = Subscriber(
        filters=logs.as_port(),
        registry=registry.as_port(),
        selection=GroupSelection(SelectionMode.LIST, names=frozenset({"/a", "/b", "/typo"})),
        target=TARGET,
    )
    sweeper = Sweeper(subscriber, FakeCursor().as_port(), reserve_secs=1)
    report = sweeper.run(Deadline(lambda: 600_000))
    assert report.outcomes == {"subscribed": 1, "refused-two-filters": 1, "missing": 1}


class ExpiringTokens(FakeLogs):
    """Refuses every saved token once, as CloudWatch does with a stale one."""

    def __init__(self, groups: dict[str, list[FilterInfo]]) -> None:
        super().__init__(groups)
        self.refused: set[str] = set()

    def list_page(self, prefix: str, next_token: str | None, deadline: Deadline) -> GroupPage:
        if next_token is not None and next_token not in self.refused:
            self.refused.add(next_token)
            raise ClientError(
                {"Error": {"Code": "InvalidParameterException", "Message": "bad token"}},
                "DescribeLogGroups",
            )
        return super().list_page(prefix, next_token, deadline)


def test_a_stale_token_lists_the_prefix_again() -> None:
    groups = _fleet(120)
    logs = ExpiringTokens(groups)
    subscriber = Subscriber(
        filters=logs.as_port(),
        registry=FakeRegistry().as_port(),
        selection=GroupSelection(SelectionMode.PREFIXES, prefixes=("/app/",)),
        target=TARGET,
    )
    report = Sweeper(subscriber, FakeCursor().as_port(), reserve_secs=1).run(
        Deadline(lambda: 600_000)
    )
    assert report.complete
    subscribed = [name for name, found in groups.items() if TARGET.as_filter() in found]
    assert len(subscribed) == 121  # every /app/ group but the one with two foreign filters
    assert logs.refused == {"50", "100"}


class Denied(FakeLogs):
    def filters_of(self, log_group: str, deadline: Deadline) -> list[FilterInfo] | None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}},
            "DescribeSubscriptionFilters",
        )


def test_one_bad_group_is_recorded_but_a_run_where_all_fail_raises() -> None:
    logs, registry, cursor = Denied(_fleet(20)), FakeRegistry(), FakeCursor()
    subscriber = Subscriber(
        filters=logs.as_port(),
        registry=registry.as_port(),
        selection=GroupSelection(SelectionMode.PREFIXES, prefixes=("/app/",)),
        target=TARGET,
    )
    with pytest.raises(InfrastructureError, match="all failed"):
        Sweeper(subscriber, cursor.as_port(), reserve_secs=1).run(Deadline(lambda: 600_000))
    assert cursor.state.position is not None
    assert cursor.state.position.done_in_page == 5  # the next run starts after them
    assert {r.reason for r in registry.items.values()} == {"error: AccessDeniedException"}
