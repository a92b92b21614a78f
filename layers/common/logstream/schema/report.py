"""What a heal run found and did, per group and in total: the function's answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class GroupHeal:
    """What healing one group found and did."""

    group: str
    indices: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    new_fields: list[str] = field(default_factory=list)
    quarantined_before: int = 0
    replayed: int = 0
    already_present: int = 0
    still_quarantined: int = 0
    unhealable: int = 0
    decisions_written: int = 0
    templates_written: int = 0
    indices_rebuilt: list[str] = field(default_factory=list)
    values_moved: int = 0
    conflicts_after: int = 0
    deferred: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return (
            self.decisions_written
            + self.templates_written
            + len(self.indices_rebuilt)
            + self.replayed
            + self.already_present
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "indices": self.indices,
            "conflicts": self.conflicts,
            "new_fields": self.new_fields[:100],
            "quarantined_before": self.quarantined_before,
            "replayed": self.replayed,
            "already_present": self.already_present,
            "still_quarantined": self.still_quarantined,
            "unhealable": self.unhealable,
            "decisions_written": self.decisions_written,
            "templates_written": self.templates_written,
            "indices_rebuilt": self.indices_rebuilt,
            "values_moved": self.values_moved,
            "conflicts_after": self.conflicts_after,
            "deferred": self.deferred,
            "changes": self.changes,
        }


@dataclass(slots=True)
class HealReport:
    """One heal run: every group's figures and the drift report of those groups."""

    groups: list[GroupHeal] = field(default_factory=list)
    report: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        return sum(g.changes for g in self.groups)

    def as_dict(self) -> dict[str, Any]:
        return {
            "groups": [g.as_dict() for g in self.groups],
            "report": self.report,
            "changes": self.changes,
            "conflicts_after": sum(g.conflicts_after for g in self.groups),
            "still_quarantined": sum(g.still_quarantined for g in self.groups),
            "seconds": round(self.seconds, 3),
        }
