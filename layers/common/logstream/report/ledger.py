"""The completeness ledger: log groups by UTC days, each day verified, gap repaired,
gap open or pending, with the event counts of both sides and the quarantine by reason.

Pure: it takes stored reconciliation reports (the dicts
:meth:`logstream.reconcile.report.GroupReport.as_dict` wrote) and quarantine
counts, and returns plain values. A day is

* ``verified``     every millisecond of it proven in the index, no gap found in it;
* ``gap_repaired`` proven, and every gap found in it was re-shipped;
* ``gap_open``     a gap found in it is still missing (no later run proved it since);
* ``pending``      not (yet) proven to its end: the reconciler has not got there,
                   or its run stopped, failed or found the group missing.

Counts come from whole reports: a report's counts are filed under the day its
range starts (scheduled runs cover minutes, so they rarely cross midnight; a
cell says when its counts reach into a later day).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

DAY_MS: Final = 86_400_000


class DayState(StrEnum):
    VERIFIED = "verified"
    GAP_REPAIRED = "gap_repaired"
    GAP_OPEN = "gap_open"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class DayCell:
    """One log group on one UTC day."""

    log_group: str
    day: date
    state: DayState
    source_events: int = 0  # CloudWatch's count, per the reports filed under this day
    index_events: int = 0  # the index's count when those reports checked
    events_reshipped: int = 0
    events_still_missing: int = 0
    gaps_found: int = 0
    gaps_open: int = 0
    proven_ms: int = 0  # how much of the day is proven
    runs: int = 0  # reports filed under this day
    counts_through: date | None = None  # set when filed reports reach into a later day


@dataclass(frozen=True, slots=True)
class Ledger:
    """Every group's days, oldest first, and the quarantine by group and reason."""

    generated_at: datetime
    days: tuple[date, ...]
    groups: tuple[str, ...]
    cells: Mapping[tuple[str, date], DayCell]
    quarantine: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def cell(self, log_group: str, day: date) -> DayCell:
        return self.cells[(log_group, day)]

    def totals(self) -> dict[DayState, int]:
        counted = {state: 0 for state in DayState}
        for cell in self.cells.values():
            counted[cell.state] += 1
        return counted

    @property
    def quarantine_reasons(self) -> tuple[str, ...]:
        return tuple(sorted({reason for by in self.quarantine.values() for reason in by}))


def last_days(today: date, count: int) -> tuple[date, ...]:
    """``count`` UTC days ending with ``today``, oldest first."""
    return tuple(today - timedelta(days=offset) for offset in range(count - 1, -1, -1))


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def day_of(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


@dataclass(slots=True)
class _Gap:
    start_ms: int
    end_ms: int
    open: bool
    run: str  # run_started of the report that found it


def _proven(report: Mapping[str, Any]) -> tuple[int, int] | None:
    start, proven = report.get("start_ms"), report.get("proven_through")
    if start is None or proven is None or proven <= start:
        return None
    return int(start), int(proven)


def _merged(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _covered_ms(intervals: Sequence[tuple[int, int]], start: int, end: int) -> int:
    return sum(max(0, min(e, end) - max(s, start)) for s, e in intervals)


def _filed_on(report: Mapping[str, Any]) -> date | None:
    start = report.get("start_ms")
    return day_of(int(start)) if start is not None else None


def _gaps(reports: Sequence[Mapping[str, Any]]) -> list[_Gap]:
    """Every gap found, open unless a later run proved its range again."""
    found = [
        _Gap(
            int(g["start_ms"]),
            int(g["end_ms"]),
            int(g.get("still_missing", 0)) > 0,
            str(r["run_started"]),
        )
        for r in reports
        for g in r.get("gaps", [])
    ]
    for gap in found:
        if not gap.open:
            continue
        for later in reports:
            proven = _proven(later)
            if (
                str(later["run_started"]) > gap.run
                and proven is not None
                and proven[0] <= gap.start_ms
                and gap.end_ms <= proven[1]
            ):
                gap.open = False
    return found


def _group_cells(
    log_group: str, reports: Sequence[Mapping[str, Any]], days: Sequence[date]
) -> dict[tuple[str, date], DayCell]:
    ordered = sorted(reports, key=lambda r: str(r["run_started"]))
    proven = _merged(p for r in ordered if (p := _proven(r)) is not None)
    gaps = _gaps(ordered)
    cells: dict[tuple[str, date], DayCell] = {}
    for day in days:
        start = day_start_ms(day)
        end = start + DAY_MS
        filed = [r for r in ordered if _filed_on(r) == day]
        in_day = [g for g in gaps if start <= g.start_ms < end]
        proven_ms = _covered_ms(proven, start, end)
        open_gaps = sum(1 for g in in_day if g.open)
        if open_gaps:
            state = DayState.GAP_OPEN
        elif proven_ms < DAY_MS:
            state = DayState.PENDING
        elif in_day:
            state = DayState.GAP_REPAIRED
        else:
            state = DayState.VERIFIED
        reach = max((int(r["end_ms"]) - 1 for r in filed if r.get("end_ms")), default=start)
        cells[(log_group, day)] = DayCell(
            log_group=log_group,
            day=day,
            state=state,
            source_events=sum(int(r.get("events_in_source", 0)) for r in filed),
            index_events=sum(int(r.get("events_in_index", 0)) for r in filed),
            events_reshipped=sum(int(r.get("events_reshipped", 0)) for r in filed),
            events_still_missing=sum(int(r.get("events_still_missing", 0)) for r in filed),
            gaps_found=len(in_day),
            gaps_open=open_gaps,
            proven_ms=proven_ms,
            runs=len(filed),
            counts_through=day_of(reach) if day_of(reach) > day else None,
        )
    return cells


def build_ledger(
    reports: Mapping[str, Sequence[Mapping[str, Any]]],
    quarantine: Mapping[str, Mapping[str, int]],
    days: Sequence[date],
    generated_at: datetime,
) -> Ledger:
    """The ledger of ``days`` for every group in ``reports`` (a group without reports
    is all pending), and ``quarantine`` (group -> reason -> parked documents)."""
    cells: dict[tuple[str, date], DayCell] = {}
    for group in sorted(reports):
        cells.update(_group_cells(group, reports[group], days))
    return Ledger(
        generated_at=generated_at,
        days=tuple(days),
        groups=tuple(sorted(reports)),
        cells=cells,
        quarantine={g: dict(sorted(by.items())) for g, by in sorted(quarantine.items()) if by},
    )
