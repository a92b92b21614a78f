"""The configured group directory: entries in name order, listings that stop at
their deadline and resume, failures reported per entry."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logstream.aws.cloudwatch import GroupPage
from logstream.reconcile.directory import ConfiguredGroups, Entry, normalise
from logstream.reconcile.report import Status
from logstream.retry import Deadline
from tests.unit.reconcile.fakes import Groups


class Countdown:
    """A deadline that loses one second per look: stops after a known number of calls."""

    def __init__(self, seconds: int) -> None:
        self.left = seconds

    def __call__(self) -> int:
        self.left -= 1
        return max(0, self.left) * 1000


def test_normalise_drops_covered_entries_and_sorts_into_disjoint_blocks() -> None:
    entries = ["/b/x", "/a/*", "/a/b/*", "/a/c", "/c*", "/b/x", "/ab"]
    assert normalise(entries) == [
        Entry("/a/", True),
        Entry("/ab", False),
        Entry("/b/x", False),
        Entry("/c", True),
    ]


def test_the_whole_set_comes_in_name_order_with_missing_entries_reported() -> None:
    names = [f"/svc/g{i:04d}" for i in range(120)] + ["/other/one"]
    source = Groups(names)
    listing = ConfiguredGroups(["/svc/*", "/other/one", "/gone", "/none/*"], source).groups(
        Deadline.after_seconds(60)
    )
    assert [g.name for g in listing.groups] == sorted(names)
    assert listing.complete
    assert {(u.entry, u.status) for u in listing.unresolved} == {
        ("/gone", Status.GROUP_MISSING),
        ("/none/*", Status.GROUP_MISSING),
    }
    # 120 groups in pages of 50, two names, one empty prefix
    assert source.calls["DescribeLogGroups"] == 3 + 1 + 1 + 1


def test_a_listing_cut_short_resumes_where_it_stopped_until_the_set_is_covered() -> None:
    names = [f"/svc/g{i:04d}" for i in range(1_000)]
    directory = ConfiguredGroups(["/svc/*"], Groups(names))
    seen: list[str] = []
    resume: str | None = None
    pieces = 0
    while True:
        listing = directory.groups(Deadline(Countdown(4)), resume=resume)  # 2 pages a run
        pieces += 1
        assert listing.from_start == (resume is None)
        seen += [g.name for g in listing.groups]
        resume = listing.resume
        if resume is None:
            break
    assert seen == names  # every group once, in order: 20 pages of 50 over 10 runs
    assert pieces == 10


def test_an_expired_token_lists_the_prefix_again() -> None:
    names = [f"/svc/g{i:04d}" for i in range(80)]

    class Forgetful(Groups):
        def group_page(self, prefix: str, deadline: Deadline, next_token: str | None) -> GroupPage:
            if next_token == "stale":
                error: Any = {"Error": {"Code": "InvalidParameterException", "Message": "token"}}
                raise ClientError(error, "DescribeLogGroups")
            return super().group_page(prefix, deadline, next_token)

    listing = ConfiguredGroups(["/svc/*"], Forgetful(names)).groups(
        Deadline.after_seconds(60), resume="0:stale"
    )
    assert [g.name for g in listing.groups] == names
    assert listing.resume is None


def test_a_failing_entry_is_reported_and_the_others_are_listed() -> None:
    class Throttled(Groups):
        def group_page(self, prefix: str, deadline: Deadline, next_token: str | None) -> GroupPage:
            if prefix == "/bad/":
                error: Any = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
                raise ClientError(error, "DescribeLogGroups")
            return super().group_page(prefix, deadline, next_token)

    listing = ConfiguredGroups(["/bad/*", "/good/*"], Throttled(["/good/a", "/bad/b"])).groups(
        Deadline.after_seconds(60)
    )
    assert [g.name for g in listing.groups] == ["/good/a"]
    assert [(u.entry, u.status) for u in listing.unresolved] == [("/bad/*", Status.FAILED)]


def test_groups_the_selection_refuses_are_never_handed_out() -> None:
    names = ["/svc/a", "/svc/noisy", "/svc/stack-Reconcile"]
    refused = {"/svc/noisy", "/svc/stack-Reconcile"}
    listing = ConfiguredGroups(["/svc/*"], Groups(names), keep=lambda n: n not in refused).groups(
        Deadline.after_seconds(60)
    )
    assert [g.name for g in listing.groups] == ["/svc/a"]
    assert listing.complete
