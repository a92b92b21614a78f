"""The fair cursor (pure): which groups a scheduled run checks, in what order,
and where the next run starts.

The group set is walked in ascending name order. The cursor remembers the last
group checked (``after``); a run checks the groups after it, and once the
walk passes the last group (a *cycle* ends) it wraps to the first, never
checking a group twice in one run. Each run gives every group it starts at
least ``min_group_secs`` (see :mod:`~logstream.reconcile.fair`), so a run
whose checking time is ``usable_secs`` starts at least
``k = floor(usable_secs / min_group_secs)`` groups (or all of them), and the
cursor moves at least ``k`` places. Hence the bound: **every group is checked
within ceil(groups / k) consecutive runs** (:func:`runs_bound`), however many
groups there are. A group added mid-cycle takes its place in the name order
and is reached within the same bound.

When the set cannot even be listed within a run (tens of thousands of groups,
or heavy throttling), the listing resumes where it stopped (``resume``) and
the runs that only list add to the bound: it then holds per listed part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from logstream.aws.cloudwatch import LogGroupInfo
from logstream.reconcile.directory import GroupListing


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the walk stands (stored in the state table between runs)."""

    after: str | None = None  # the last group checked; None: at the start of a cycle
    resume: str | None = None  # where the listing continues; None: from the start
    cycle: int = 1  # cycles begun, the current one included
    cycle_runs: int = 0  # runs so far in the current cycle
    cycle_checked: int = 0  # groups checked so far in the current cycle


@dataclass(slots=True)
class Turn:
    """One run's candidates: ``ahead`` of the cursor, then (after the wrap)
    ``behind`` it. ``behind`` is only filled when the run listed the whole set."""

    ahead: list[LogGroupInfo] = field(default_factory=list)
    behind: list[LogGroupInfo] = field(default_factory=list)


def plan_turn(cursor: Cursor, listing: GroupListing) -> Turn:
    """The groups a run may check, in the order it checks them."""
    after = cursor.after
    ahead = [g for g in listing.groups if after is None or g.name > after]
    behind = [g for g in listing.groups if after is not None and g.name <= after]
    return Turn(ahead, behind if listing.complete else [])


def next_cursor(cursor: Cursor, turn: Turn, listing: GroupListing, checked: int) -> Cursor:
    """The cursor after a run that checked the first ``checked`` of ``turn``'s groups."""
    in_ahead = min(checked, len(turn.ahead))
    in_behind = checked - in_ahead
    moved = replace(
        cursor, cycle_runs=cursor.cycle_runs + 1, cycle_checked=cursor.cycle_checked + in_ahead
    )
    if in_ahead:
        moved = replace(moved, after=turn.ahead[in_ahead - 1].name)
    if in_ahead < len(turn.ahead):
        # Stopped inside this listing: the next run lists the same part again.
        return replace(moved, resume=cursor.resume)
    if listing.resume is not None:
        return replace(moved, resume=listing.resume)  # list on from where this one stopped
    # Past the last group: the cycle ends. A run that listed everything carries on.
    wrapped = Cursor(cycle=cursor.cycle + 1, cycle_runs=0 if not in_behind else 1)
    if in_behind:
        wrapped = replace(wrapped, after=turn.behind[in_behind - 1].name, cycle_checked=in_behind)
    return wrapped


def groups_per_run(usable_secs: float, min_group_secs: float) -> int:
    """Groups a run is sure to start: each takes at most its minimum slice when
    there are more groups than time, and time left over flows on."""
    return max(1, math.floor(usable_secs / min_group_secs))


def runs_bound(groups: int, per_run: int) -> int:
    """Consecutive runs within which every one of ``groups`` is checked."""
    return max(1, math.ceil(groups / max(1, per_run)))
