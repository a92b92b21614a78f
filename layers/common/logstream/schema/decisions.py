"""Drift decisions: how each drifting field of a group is resolved, and how that is decided.

One :class:`Decision` per group and field (or cap): keep the type the group
established and move misfits to a typed sibling, or, past a cap, move values
into ``json_overflow``. The deciding rules are pure functions over a dict of
decisions (:func:`decide_from_scan`, :func:`decide_from_refusal`);
:class:`GroupDecisions` is one group's working copy while it heals, saved
through a :class:`DecisionStore` (DynamoDB in :mod:`logstream.schema.decision_store`,
or :class:`MemoryDecisionStore`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from logstream.schema.diagnosis import HEALABLE, Diagnosis, ErrorClass
from logstream.schema.scan import FieldConflict, ScanResult
from logstream.schema.transform import DEPTH_KEY, TOTAL_FIELDS_KEY
from logstream.times import iso


class Resolution(StrEnum):
    TYPED_SIBLING = "typed_sibling"  # keep the established type; misfits go to <field>_<type>
    OVERFLOW = "overflow"  # past a cap: the value moves into json_overflow


@dataclass(slots=True)
class Decision:
    """How one drifting field of one group is resolved, and what was seen of it."""

    group: str
    field: str
    established_type: str
    resolution: Resolution
    types_seen: list[str]
    first_seen: int
    count: int
    decided_at: int
    origin: str  # quarantine | scan | cap

    def row(self) -> dict[str, Any]:
        """One line of the drift report."""
        return {
            "group": self.group,
            "field": self.field,
            "established_type": self.established_type,
            "types_seen": self.types_seen,
            "first_seen": iso(self.first_seen),
            "count": self.count,
            "resolution": self.resolution.value,
            "decided_at": iso(self.decided_at),
            "origin": self.origin,
        }


class DecisionStore(Protocol):
    def load(self, group: str) -> dict[str, Decision]: ...
    def save(self, decision: Decision) -> None: ...
    def groups(self) -> list[str]: ...


class MemoryDecisionStore:
    """Decisions in memory: for unit tests and deployments without STATE_TABLE."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Decision] = {}

    def load(self, group: str) -> dict[str, Decision]:
        return {f: replace(d) for (g, f), d in self.items.items() if g == group}

    def save(self, decision: Decision) -> None:
        self.items[(decision.group, decision.field)] = replace(decision)

    def groups(self) -> list[str]:
        return sorted({g for g, _ in self.items})


def decided_types(decisions: Iterable[Decision]) -> dict[str, str]:
    """The field -> type map the transform and the drift template use."""
    return {
        d.field: d.established_type
        for d in decisions
        if d.resolution is Resolution.TYPED_SIBLING and not d.field.startswith("*")
    }


def decide_from_scan(
    decisions: dict[str, Decision], group: str, scan: ScanResult, now_ms: int
) -> set[str]:
    """Conflicts between daily indices: the oldest index's type is kept. Returns changed fields."""
    changed: set[str] = set()
    for conflict in scan.conflicts:
        existing = decisions.get(conflict.field)
        if existing is None:
            established = _established(conflict)
            first_index = conflict.first_index_of(
                next(t for t in conflict.types if t != established)
            )
            decisions[conflict.field] = Decision(
                group=group,
                field=conflict.field,
                established_type=established,
                resolution=Resolution.TYPED_SIBLING,
                types_seen=sorted(conflict.types),
                first_seen=_day_start_ms(first_index),
                count=0,
                decided_at=now_ms,
                origin="scan",
            )
            changed.add(conflict.field)
        elif not set(conflict.types) <= set(existing.types_seen):
            existing.types_seen = sorted(set(existing.types_seen) | set(conflict.types))
            changed.add(conflict.field)
    return changed


def decide_from_refusal(
    decisions: dict[str, Decision],
    group: str,
    diagnosis: Diagnosis,
    timestamp: int,
    now_ms: int,
) -> set[str]:
    """A document refused for ``diagnosis``: decide its field (or cap). Returns changed keys."""
    if diagnosis.error_class not in HEALABLE:
        return set()
    if diagnosis.error_class is ErrorClass.FIELD_LIMIT:
        key, established, seen = TOTAL_FIELDS_KEY, "overflow", "new fields"
    elif diagnosis.error_class is ErrorClass.DEPTH_LIMIT:
        key, established, seen = DEPTH_KEY, "overflow", "deep object"
    elif diagnosis.is_conflict and diagnosis.field and diagnosis.established_type:
        key, established = diagnosis.field, diagnosis.established_type
        seen = _as_mapping_type(diagnosis.seen_type)
    else:
        return set()
    existing = decisions.get(key)
    if existing is None:
        decisions[key] = Decision(
            group=group,
            field=key,
            established_type=established,
            resolution=Resolution.OVERFLOW if key.startswith("*") else Resolution.TYPED_SIBLING,
            types_seen=sorted({established, seen} - {"overflow"}) or [seen],
            first_seen=timestamp,
            count=0,
            decided_at=now_ms,
            origin="cap" if key.startswith("*") else "quarantine",
        )
        return {key}
    changed = False
    if seen not in existing.types_seen and not key.startswith("*"):
        existing.types_seen = sorted({*existing.types_seen, seen})
        changed = True
    if timestamp < existing.first_seen:
        existing.first_seen = timestamp
        changed = True
    return {key} if changed else set()


class GroupDecisions:
    """One group's decisions while it heals: a working copy, saved where it differs."""

    def __init__(self, store: DecisionStore, group: str, clock: Callable[[], int]) -> None:
        self.group = group
        self._store = store
        self._clock = clock
        self._stored = store.load(group)
        self._written: set[str] = set()
        self.current = {name: replace(d) for name, d in self._stored.items()}

    def decided(self) -> dict[str, str]:
        return decided_types(self.current.values())

    def from_scan(self, scan: ScanResult) -> set[str]:
        return decide_from_scan(self.current, self.group, scan, self._clock())

    def from_refusal(self, diagnosis: Diagnosis, timestamp: int) -> set[str]:
        return decide_from_refusal(self.current, self.group, diagnosis, timestamp, self._clock())

    def count_moves(self, moved: Mapping[str, int]) -> None:
        """Add values a transform moved to the count of the decision that moved them."""
        for key, n in moved.items():
            if key in self.current:
                self.current[key].count += n

    def save(self) -> int:
        """Save every decision that differs from the store; how many this heal has written."""
        for name, decision in self.current.items():
            if self._stored.get(name) != decision:
                self._store.save(decision)
                self._stored[name] = replace(decision)
                self._written.add(name)
        return len(self._written)


def _as_mapping_type(json_type: str | None) -> str:
    """A value's JSON type as the mapping type the logs template gives it."""
    return {"string": "keyword", "number": "double"}.get(json_type or "", json_type or "unknown")


def _established(conflict: FieldConflict) -> str:
    """Keep the type the group's oldest index established (first seen wins)."""
    oldest = min(conflict.indices_by_type.items(), key=lambda item: (item[1][0], item[0]))
    return oldest[0]


def _day_start_ms(index: str) -> int:
    day = datetime.strptime(index[-10:], "%Y.%m.%d").replace(tzinfo=UTC)
    return int(day.timestamp() * 1000)
