"""Which log groups logstream ships: the one pure rule every path asks.

The subscriber asks it before it subscribes a group, the decoder before it
ships a batch (account mode subscribes every group of the account), backfill
and reconciliation before they read one. In every mode logstream's own groups
are refused first (the feedback loop), then EXCLUDED_LOG_GROUPS, then the mode:

- ``list``: exactly the names in LOG_GROUPS (an entry ``x*`` takes every name
  starting with ``x``, as LOG_GROUPS always allowed);
- ``prefixes``: names starting with one of LOG_GROUP_PREFIXES;
- ``account``: every group, or only those matching LOG_GROUP_PREFIXES if set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from logstream.own_groups import OwnGroups
from logstream.settings import SelectionMode, Settings


class Refusal(StrEnum):
    """Why a group is not shipped (metric dimension values and the registry's reasons)."""

    OWN = "own"  # one of logstream's own groups: shipping it would feed itself
    EXCLUDED = "excluded"  # EXCLUDED_LOG_GROUPS names it
    NOT_SELECTED = "not-selected"  # outside LOG_GROUPS / LOG_GROUP_PREFIXES


@dataclass(frozen=True, slots=True)
class Exclusions:
    """EXCLUDED_LOG_GROUPS: exact names, and prefixes written with a trailing ``*``."""

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: tuple[str, ...]) -> Exclusions:
        return cls(
            frozenset(entry for entry in entries if not entry.endswith("*")),
            tuple(entry[:-1] for entry in entries if entry.endswith("*") and len(entry) > 1),
        )

    def __contains__(self, log_group: object) -> bool:
        return isinstance(log_group, str) and (
            log_group in self.names or log_group.startswith(self.prefixes)
        )


@dataclass(frozen=True, slots=True)
class GroupSelection:
    """The configured selection; build it with :meth:`from_settings`."""

    mode: SelectionMode
    names: frozenset[str] = frozenset()
    #: List mode's ``x*`` entries, without the ``*``.
    listed_prefixes: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    excluded: Exclusions = field(default_factory=Exclusions)
    own: OwnGroups = field(default_factory=OwnGroups)

    @classmethod
    def from_settings(cls, settings: Settings, own: OwnGroups | None = None) -> GroupSelection:
        listed = Exclusions.parse(settings.log_groups)
        return cls(
            mode=settings.log_group_selection,
            names=listed.names,
            listed_prefixes=listed.prefixes,
            prefixes=settings.log_group_prefixes,
            excluded=Exclusions.parse(settings.excluded_log_groups),
            own=own if own is not None else OwnGroups(prefixes=settings.own_log_group_prefixes),
        )

    def why_not(self, log_group: str) -> Refusal | None:
        """None if the group is shipped, else the first reason it is not."""
        if log_group in self.own:
            return Refusal.OWN
        if log_group in self.excluded:
            return Refusal.EXCLUDED
        if self.mode is SelectionMode.LIST:
            listed = log_group in self.names or log_group.startswith(self.listed_prefixes)
            return None if listed else Refusal.NOT_SELECTED
        if self.mode is SelectionMode.ACCOUNT and not self.prefixes:
            return None
        return None if log_group.startswith(self.prefixes) else Refusal.NOT_SELECTED

    def selects(self, log_group: str) -> bool:
        return self.why_not(log_group) is None

    def listing_prefixes(self) -> tuple[str, ...]:
        """The DescribeLogGroups name prefixes that list every selected group exactly once.

        List mode lists each name as its own prefix; a prefix that a shorter one
        already covers is dropped, so no group is listed twice; ``""`` is all groups.
        """
        if self.mode is SelectionMode.LIST:
            wanted = sorted(self.names | set(self.listed_prefixes))
        elif self.mode is SelectionMode.ACCOUNT and not self.prefixes:
            return ("",)
        else:
            wanted = sorted(set(self.prefixes))
        kept: list[str] = []
        for prefix in wanted:  # sorted: a covering prefix comes before what it covers
            if not any(prefix.startswith(shorter) for shorter in kept):
                kept.append(prefix)
        return tuple(kept)

    def entries(self) -> tuple[str, ...]:
        """The selection as LOG_GROUPS-style entries (names, ``prefix*``) for the
        scheduled reconciliation and a backfill that names no groups; ``*`` is
        every group. Own and excluded groups are dropped by :meth:`selects`."""
        if self.mode is SelectionMode.LIST:
            return tuple(sorted([*self.names, *(f"{p}*" for p in self.listed_prefixes)]))
        return tuple(f"{prefix}*" for prefix in self.listing_prefixes())

    def refuses_delivery(self, log_group: str) -> Refusal | None:
        """Why the decoder must not ship a batch of this group, if it must not.

        Excluded groups never, in any mode. Groups outside the selection only in
        account mode, where the account policy subscribes every group; in list
        and prefixes mode a filter exists only where the subscriber put one.
        """
        refusal = self.why_not(log_group)
        if refusal is Refusal.NOT_SELECTED and self.mode is not SelectionMode.ACCOUNT:
            return None
        return refusal
