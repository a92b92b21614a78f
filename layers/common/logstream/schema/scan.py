"""The drift scan: what a group's daily indices disagree on, read through ``_field_caps``.

:func:`scan_group` compares field types across a group's daily indices: every
field mapped with more than one type is a conflict, and every field of the
newest index unknown to the older ones is new. It only reads.

It scans a schema scope (:func:`logstream.naming.schema_scope`): a group's
own daily indices, or in ``shared-daily`` the shared daily indices, where a
field two groups map differently on different days is a conflict like any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from logstream.cluster.port import Cluster
from logstream.naming import (
    SHARED_SCOPE,
    IndexLayout,
    deployment_pattern,
    index_pattern_for_group,
    is_daily_index,
)
from logstream.schema.diagnosis import JSON_ROOT


@dataclass(frozen=True, slots=True)
class FieldConflict:
    """One field mapped with different types in different daily indices of a group."""

    field: str
    #: type -> the group's indices that map the field with it (oldest first)
    indices_by_type: dict[str, list[str]]

    @property
    def types(self) -> list[str]:
        return sorted(self.indices_by_type)

    def first_index_of(self, field_type: str) -> str:
        return self.indices_by_type[field_type][0]


@dataclass(slots=True)
class ScanResult:
    group: str
    indices: list[str] = field(default_factory=list)
    conflicts: list[FieldConflict] = field(default_factory=list)
    new_fields: list[str] = field(default_factory=list)
    #: every json.* field and its type(s), over all of the group's indices
    field_types: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "indices": len(self.indices),
            "conflicts": [
                {"field": c.field, "types": c.types, "indices_by_type": c.indices_by_type}
                for c in self.conflicts
            ],
            "new_fields": self.new_fields[:100],
            "new_field_count": len(self.new_fields),
        }


def group_indices(cluster: Cluster, index_prefix: str, log_group: str) -> list[str]:
    """The scope's daily indices, oldest first (the wildcard can match a longer group's).

    ``log_group`` is a schema scope: :data:`SHARED_SCOPE` means every shared daily index.
    """
    if log_group == SHARED_SCOPE:
        names = cluster.list_indices(deployment_pattern(index_prefix))
        shared = IndexLayout.SHARED_DAILY
        return sorted(n for n in names if is_daily_index(index_prefix, n, shared))
    names = cluster.list_indices(index_pattern_for_group(index_prefix, log_group))
    return sorted(n for n in names if is_daily_index(index_prefix, n, log_group=log_group))


def scan_group(cluster: Cluster, index_prefix: str, log_group: str) -> ScanResult:
    """Field types across the group's daily indices: conflicts and the newest day's new fields."""
    result = ScanResult(group=log_group, indices=group_indices(cluster, index_prefix, log_group))
    if not result.indices:
        return result
    caps = _field_caps(cluster, result.indices)
    order = {name: n for n, name in enumerate(result.indices)}
    for name, by_type in sorted(caps.items()):
        types = {t: info for t, info in by_type.items() if t != "unmapped"}
        result.field_types[name] = sorted(types)
        if len(types) < 2:
            continue
        indices_by_type = {
            t: sorted(info.get("indices") or result.indices, key=lambda i: order.get(i, 0))
            for t, info in types.items()
        }
        result.conflicts.append(FieldConflict(name, indices_by_type))
    if len(result.indices) > 1:
        older = set(_field_caps(cluster, result.indices[:-1]))
        newest = _field_caps(cluster, result.indices[-1:])
        result.new_fields = sorted(set(newest) - older)
    return result


def _field_caps(cluster: Cluster, indices: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``json.*`` fields of ``indices``: field -> type -> ``{"indices": [...]}``."""
    caps = cluster.field_caps(indices, f"{JSON_ROOT}.*")
    return {name: by_type for name, by_type in caps.items() if name.startswith(f"{JSON_ROOT}.")}
