"""Fair scheduled reconciliation: the cursor, the minimum slice, the bound.

Time is virtual: every deadline counts down a clock the fake checker moves,
so the figures are the same on any machine.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from logstream.aws.cloudwatch import LogGroupInfo
from logstream.reconcile.cursor import Cursor, groups_per_run, next_cursor, plan_turn, runs_bound
from logstream.reconcile.cursor_store import MemoryCursorStore
from logstream.reconcile.directory import ConfiguredGroups, GroupListing
from logstream.reconcile.fair import FairReconciliation
from logstream.reconcile.report import GroupReport, ReconcileFailed, RunReport, Status
from logstream.reconcile.request import handle_event
from logstream.retry import Deadline
from tests.unit.reconcile.fakes import (
    HOUR,
    T0,
    Groups,
    MemoryIndex,
    MemoryState,
    make_events,
    service,
)


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def deadline(self, seconds: float) -> Deadline:
        end = self.now + seconds
        return Deadline(lambda: int((end - self.now) * 1000))


class Checker:
    """Checks a group by spending ``cost`` seconds of it (None: its whole slice)."""

    def __init__(self, clock: VirtualClock, cost: float | None = None) -> None:
        self.clock = clock
        self.cost = cost
        self.checked: list[str] = []
        self.slices: list[float] = []
        self.poison: set[str] = set()
        self.published: list[GroupReport] = []

    def run_group(self, info: LogGroupInfo, deadline: Deadline, run_started: str) -> GroupReport:
        self.checked.append(info.name)
        self.slices.append(deadline.remaining())
        if info.name in self.poison:
            raise RuntimeError("unexpected")
        spend = deadline.remaining() if self.cost is None else min(self.cost, deadline.remaining())
        self.clock.now += spend
        return GroupReport(info.name, run_started, Status.CLEAN)

    def publish(self, report: GroupReport) -> None:
        self.published.append(report)


def names(count: int) -> list[str]:
    return [f"/fleet/g{i:04d}" for i in range(count)]


def info(name: str) -> LogGroupInfo:
    return LogGroupInfo(name, "123456789012", 0, None, 0)


def fair(groups: Groups, checker: Checker, cursors: MemoryCursorStore) -> FairReconciliation:
    return FairReconciliation(
        checker, ConfiguredGroups(["/fleet/*"], groups), cursors, min_group_secs=15.0
    )


@pytest.mark.parametrize("count", [1, 7, 100, 1_000])
def test_worst_case_every_group_is_checked_within_the_stated_bound(count: int) -> None:
    """Every group uses its whole slice: a run starts exactly floor(usable / min) groups."""
    clock = VirtualClock()
    checker = Checker(clock)
    cursors = MemoryCursorStore()
    recon = fair(Groups(names(count)), checker, cursors)
    per_run = groups_per_run(100.0, 15.0)
    bound = runs_bound(count, per_run)
    last_run: dict[str, int] = {}
    longest_wait: dict[str, int] = defaultdict(int)
    runs = 3 * bound  # three full cycles
    for number in range(runs):
        before = len(checker.checked)
        report = recon.run(clock.deadline(100.0))
        this_run = checker.checked[before:]
        assert len(this_run) == len(set(this_run)) == min(count, per_run)  # none twice
        assert all(s >= 15.0 for s in checker.slices[before:])
        assert report.progress is not None and report.progress["runs_bound"] == bound
        for name in this_run:
            longest_wait[name] = max(longest_wait[name], number - last_run.get(name, -1))
            last_run[name] = number
    assert set(last_run) == set(names(count))
    assert max(longest_wait.values()) <= bound
    print(f"\nFAIRNESS groups={count} groups_per_run={per_run} runs_bound={bound}")
    if count > per_run:
        assert max(longest_wait.values()) == bound  # the bound is tight, not loose


def test_time_a_quick_group_leaves_flows_on_to_the_next_groups() -> None:
    clock = VirtualClock()
    checker = Checker(clock, cost=1.0)
    recon = fair(Groups(names(100)), checker, MemoryCursorStore())
    report = recon.run(clock.deadline(100.0))
    # each group may take 15 s but takes 1 s: groups start while 15 s remain
    assert len(checker.checked) == 86
    assert report.progress is not None
    assert report.progress["groups_checked"] == 86
    assert report.progress["cursor_after"] == "/fleet/g0085"
    assert report.progress["cycle_position"] == 86
    assert report.progress["groups_total"] == 100


def test_a_run_that_reaches_the_end_wraps_without_checking_a_group_twice() -> None:
    clock = VirtualClock()
    checker = Checker(clock, cost=1.0)
    cursors = MemoryCursorStore()
    recon = fair(Groups(names(10)), checker, cursors)
    cursors.save(Cursor(after="/fleet/g0006", cycle=4, cycle_runs=2, cycle_checked=7))
    report = recon.run(clock.deadline(100.0))
    assert checker.checked == names(10)[7:] + names(10)[:7]
    assert report.progress is not None and report.progress["cycle_ended"] is True
    assert cursors.cursor == Cursor(after="/fleet/g0006", cycle=5, cycle_runs=1, cycle_checked=7)


def test_a_group_that_raises_does_not_hold_the_walk_up() -> None:
    clock = VirtualClock()
    checker = Checker(clock, cost=1.0)
    checker.poison = {"/fleet/g0000"}
    cursors = MemoryCursorStore()
    recon = fair(Groups(names(5)), checker, cursors)
    with pytest.raises(RuntimeError):
        recon.run(clock.deadline(100.0))
    assert cursors.cursor.after == "/fleet/g0000"
    checker.poison.clear()
    recon.run(clock.deadline(100.0))
    # the next run starts after it, and comes back to it only after the others
    assert checker.checked[1:] == names(5)[1:] + names(5)[:1]


def test_a_run_shorter_than_one_slice_still_checks_one_group() -> None:
    clock = VirtualClock()
    checker = Checker(clock)
    cursors = MemoryCursorStore()
    recon = fair(Groups(names(3)), checker, cursors)
    for _ in range(3):
        recon.run(clock.deadline(4.0))
    assert checker.checked == names(3)


def test_a_group_created_mid_cycle_is_reached_within_the_bound() -> None:
    clock = VirtualClock()
    checker = Checker(clock)
    groups = Groups(names(60))
    recon = fair(groups, checker, MemoryCursorStore())
    recon.run(clock.deadline(100.0))  # g0000..g0005
    groups.names.append("/fleet/g0003-new")  # behind the cursor: next cycle
    bound = runs_bound(len(groups.names), groups_per_run(100.0, 15.0))
    runs = 0
    while "/fleet/g0003-new" not in checker.checked and runs <= bound:
        recon.run(clock.deadline(100.0))
        runs += 1
    assert "/fleet/g0003-new" in checker.checked
    assert runs <= bound


def test_a_listing_cut_short_resumes_and_the_walk_goes_on_from_the_cursor() -> None:
    listing = GroupListing([info(n) for n in names(4)], resume="0:/fleet/g0004", from_start=True)
    cursor = Cursor()
    turn = plan_turn(cursor, listing)
    assert turn.behind == []  # never wrap on a partial listing
    moved = next_cursor(cursor, turn, listing, checked=4)
    assert moved.after == "/fleet/g0003" and moved.resume == "0:/fleet/g0004"
    stopped = next_cursor(cursor, turn, listing, checked=2)
    assert stopped.after == "/fleet/g0001" and stopped.resume is None  # list the same part again
    rest = GroupListing([info(n) for n in names(8)[4:]], resume=None, from_start=False)
    end = next_cursor(moved, plan_turn(moved, rest), rest, checked=4)
    assert end == Cursor(cycle=2)  # past the last group: the next run lists from the start


def test_deadline_slices_count_on_the_parent_clock() -> None:
    clock = VirtualClock()
    parent = clock.deadline(100.0)
    part = parent.slice(15.0)
    assert part.remaining() == 15.0
    clock.now += 10
    assert part.remaining() == 5.0 and parent.remaining() == 90.0
    clock.now += 10
    assert part.expired and parent.remaining() == 80.0


def test_the_real_reconciler_walks_groups_and_reports_progress() -> None:
    events = make_events([T0 + i * 10_000 for i in range(360)])
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events[5:]})
    state = MemoryState()
    recon = service(events, index, state, T0 + 2 * HOUR)
    cursors = MemoryCursorStore()
    source = Groups(["/app/a", "/app/b"])
    walk = FairReconciliation(recon, ConfiguredGroups(["/app/*", "/gone"], source), cursors)
    answer = walk.run(Deadline.after_seconds(600)).as_dict()
    statuses = {g["log_group"]: g["status"] for g in answer["groups"]}
    # the fakes' index is shared: /app/a's repair leaves /app/b nothing to repair
    assert statuses == {"/gone": "group_missing", "/app/a": "repaired", "/app/b": "clean"}
    assert set(state.marks) == {"/app/a", "/app/b"}
    progress = answer["progress"]
    assert progress["groups_checked"] == 2 and progress["cycle_ended"] is True
    assert cursors.cursor.cycle == 2


def test_a_scheduled_event_runs_the_walk_and_a_failed_group_fails_the_invocation() -> None:
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event"}
    clean = RunReport("now", [GroupReport("/a", "now", Status.CLEAN)], progress={"cycle": 3})
    recon = service([], MemoryIndex(), MemoryState(), T0)
    answer = handle_event(recon, scheduled, Deadline.after_seconds(60), ["/a"], lambda d: clean)
    assert answer["progress"] == {"cycle": 3}
    failed = RunReport("now", [GroupReport("/a", "now", Status.FAILED, error="down")])
    with pytest.raises(ReconcileFailed):
        handle_event(recon, scheduled, Deadline.after_seconds(60), ["/a"], lambda d: failed)
