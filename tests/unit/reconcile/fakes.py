"""In-memory sides of reconciliation shared by the reconcile unit tests: an
Insights-like counter and fetcher, an index, a repairer, a state store and a
CloudWatch group lister, with the events they hold."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from logstream.aws.cloudwatch import EventPage, GroupPage, LogGroupInfo, LogGroupNotFound
from logstream.reconcile.group_run import Timing
from logstream.reconcile.ports import CountsUnavailable, IndexUnavailable, RepairResult
from logstream.reconcile.range_check import RangeCheck
from logstream.reconcile.service import Reconciler
from logstream.reconcile.window import Tuning, Window
from logstream.retry import Deadline

T0 = 1_795_000_000_000 // 300_000 * 300_000  # a 5-minute boundary in 2026
HOUR = 3_600_000
PAGE = 10_000
GROUP = "/aws/lambda/orders"

# -- in-memory sides ------------------------------------------------------------


@dataclass
class MemorySource:
    """CloudWatch: an Insights-like counter (one query per call) and a fetcher."""

    events: list[dict[str, Any]]
    queries: int = 0
    fetch_calls: int = 0
    fail_counts: bool = False

    def counts(
        self, log_group: str, window: Window, step_ms: int, deadline: Deadline
    ) -> dict[int, int]:
        self.queries += 1
        if self.fail_counts:
            raise CountsUnavailable("insights down")
        out: Counter[int] = Counter()
        for event in self.events:
            if window.contains(event["timestamp"]):
                out[max(window.start, event["timestamp"] // step_ms * step_ms)] += 1
        return dict(out)

    def fetch(self, log_group: str, window: Window, deadline: Deadline) -> list[dict[str, Any]]:
        found = [e for e in self.events if window.contains(e["timestamp"])]
        self.fetch_calls += max(1, math.ceil(len(found) / PAGE))
        return found


class Fetcher:
    def __init__(self, source: MemorySource) -> None:
        self.source = source

    def events(self, log_group: str, window: Window, deadline: Deadline) -> list[dict[str, Any]]:
        return self.source.fetch(log_group, window, deadline)


@dataclass
class MemoryIndex:
    docs: dict[str, int] = field(default_factory=dict)  # id -> timestamp
    extra_group_docs: dict[str, int] = field(default_factory=dict)  # another group's docs
    down: bool = False

    def counts(self, log_group: str, window: Window, step_ms: int) -> dict[int, int]:
        if self.down:
            raise IndexUnavailable("cluster down")
        out: Counter[int] = Counter()
        for ts in self.docs.values():
            if window.contains(ts):
                out[max(window.start, ts // step_ms * step_ms)] += 1
        return dict(out)

    def ids(self, log_group: str, window: Window) -> set[str]:
        return {i for i, ts in self.docs.items() if window.contains(ts)}

    def refresh(self, log_group: str) -> None:
        return None


@dataclass
class MemoryRepairer:
    index: MemoryIndex
    refuse: bool = False
    reshipped: list[str] = field(default_factory=list)

    def reship(
        self, log_group: str, events: list[dict[str, Any]], deadline: Deadline
    ) -> RepairResult:
        if self.refuse:
            return RepairResult(undelivered=len(events), error="cluster refused")
        created = 0
        for event in events:
            if event["id"] not in self.index.docs:
                self.index.docs[event["id"]] = event["timestamp"]
                created += 1
            self.reshipped.append(event["id"])
        return RepairResult(delivered=created, duplicates=len(events) - created)


def make_events(timestamps: list[int]) -> list[dict[str, Any]]:
    ordered = sorted(timestamps)
    return [
        {"id": f"{ts:020d}{n:036d}", "timestamp": ts, "message": f"m{n}", "logStream": "s"}
        for n, ts in enumerate(ordered)
    ]


def check(
    events: list[dict[str, Any]],
    missing: set[str],
    span: Window,
    tuning: Tuning,
    deadline: Deadline | None = None,
) -> tuple[Any, MemorySource, MemoryIndex, MemoryRepairer]:
    source = MemorySource(events)
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events if e["id"] not in missing})
    repairer = MemoryRepairer(index)
    outcome = RangeCheck(
        GROUP, source=source, fetcher=Fetcher(source), index=index, repairer=repairer, tuning=tuning
    ).run(span, deadline or Deadline.after_seconds(600))
    return outcome, source, index, repairer


def runs_of(events: list[dict[str, Any]], missing: set[str]) -> int:
    """Gaps = maximal runs of consecutive missing events in time order."""
    runs, inside = 0, False
    for event in events:
        gone = event["id"] in missing
        runs += gone and not inside
        inside = gone
    return runs


class MemoryState:
    def __init__(self) -> None:
        self.marks: dict[str, int] = {}
        self.reports: list[Any] = []

    def watermark(self, log_group: str) -> int | None:
        return self.marks.get(log_group)

    def advance(self, log_group: str, to_ms: int, *, from_ms: int | None = None) -> bool:
        current = self.marks.get(log_group)
        if from_ms is not None and (current is None or current < from_ms):
            return False
        if current is not None and current >= to_ms:
            return False
        self.marks[log_group] = to_ms
        return True

    def save_report(self, report: Any) -> None:
        self.reports.append(report)


class Groups:
    """describe_group / groups_with_prefix over a fixed set; counts calls."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.calls: Counter[str] = Counter()

    def describe_group(self, log_group: str, deadline: Deadline) -> LogGroupInfo:
        self.calls["DescribeLogGroups"] += 1
        if log_group not in self.names:
            raise LogGroupNotFound(log_group)
        return LogGroupInfo(log_group, "123456789012", T0 - 40 * 86_400_000, None, 0)

    def groups_with_prefix(self, prefix: str, deadline: Deadline) -> list[LogGroupInfo]:
        self.calls["DescribeLogGroups"] += 1
        return [self.describe_group(n, deadline) for n in self.names if n.startswith(prefix)]

    page_size = 50

    def group_page(self, prefix: str, deadline: Deadline, next_token: str | None) -> GroupPage:
        """DescribeLogGroups' paging: name order, the token names the next group."""
        self.calls["DescribeLogGroups"] += 1
        matching = sorted(n for n in self.names if n.startswith(prefix))
        start = matching.index(next_token) if next_token else 0
        page = matching[start : start + self.page_size]
        rest = matching[start + self.page_size :]
        infos = [LogGroupInfo(n, "123456789012", T0 - 40 * 86_400_000, None, 0) for n in page]
        return GroupPage(infos, rest[0] if rest else None)

    def filter_page(self, *args: Any, **kwargs: Any) -> EventPage:
        raise AssertionError("not used")


def service(
    events: list[dict[str, Any]], index: MemoryIndex, state: MemoryState, now_ms: int
) -> Reconciler:
    source = MemorySource(events)
    return Reconciler(
        source=Groups(["/app/a", "/app/b"]),
        counter_for=lambda group: source,
        fetcher=Fetcher(source),
        index=index,
        shipper=None,
        state=state,
        timing=Timing(settle_ms=900_000, backfill_days=1, region="us-east-1"),
        repairer_for=lambda info: MemoryRepairer(index),
        clock=lambda: now_ms / 1000,
    )
