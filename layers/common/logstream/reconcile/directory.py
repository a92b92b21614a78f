"""The group set a scheduled reconciliation walks: a port, and the default
directory over the configured entries (exact names and ``prefix*``).

The port hands out the set in ascending name order, in pieces when listing it
takes longer than the time given: a listing stopped at its deadline returns
what it found with a ``resume`` position, and the next run continues there.
The fair cursor (:mod:`~logstream.reconcile.cursor`) relies on that order.

:class:`ConfiguredGroups` resolves the entries through DescribeLogGroups. It
first drops entries another entry covers (``/a/b*`` under ``/a/*``, a name
under a prefix): what is left are disjoint blocks of the name order, so
listing them sorted by their text lists the whole set in name order.
A state-table registry (the subscriber's) can implement the same port.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from logstream.aws.backoff_calls import refused_page_token
from logstream.aws.cloudwatch import GroupPage, LogGroupInfo, LogGroupNotFound, SourceThrottled
from logstream.reconcile.report import Status, describe_error
from logstream.retry import Deadline


@dataclass(frozen=True, slots=True)
class Unresolved:
    """An entry that named no group, or could not be listed (FAILED)."""

    entry: str
    status: Status
    error: str


@dataclass(slots=True)
class GroupListing:
    """Part or all of the group set, in ascending name order."""

    groups: list[LogGroupInfo] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    #: Where the next listing continues; None when this one reached the end.
    resume: str | None = None
    #: Whether this listing started at the beginning of the set.
    from_start: bool = True

    @property
    def complete(self) -> bool:
        """The whole set, from its first group to its last."""
        return self.from_start and self.resume is None


class GroupDirectory(Protocol):
    """Where a scheduled run takes its groups from."""

    def groups(self, deadline: Deadline, *, resume: str | None = None) -> GroupListing:
        """The set from ``resume`` (or its start) on, as far as ``deadline`` allows."""
        ...


class GroupPages(Protocol):
    """The CloudWatch reads the directory makes (BotoCloudWatchSource has them)."""

    calls: Counter[str]

    def describe_group(self, log_group: str, deadline: Deadline) -> LogGroupInfo: ...

    def group_page(self, prefix: str, deadline: Deadline, next_token: str | None) -> GroupPage: ...


@dataclass(frozen=True, slots=True, order=True)
class Entry:
    text: str  # an exact name, or a prefix without its ``*``
    is_prefix: bool


def normalise(entries: Iterable[str]) -> list[Entry]:
    """Entries without those another covers, sorted: disjoint blocks in name order."""
    prefixes = {e[:-1] for e in entries if e.endswith("*")}
    names = {e for e in entries if not e.endswith("*")}
    outer = {p for p in prefixes if not any(q != p and p.startswith(q) for q in prefixes)}
    kept = {n for n in names if not any(n.startswith(p) for p in outer)}
    return sorted([Entry(p, True) for p in outer] + [Entry(n, False) for n in kept])


def _position(entry: int, token: str | None) -> str:
    return f"{entry}:{token or ''}"


def _parse_position(resume: str | None) -> tuple[int, str | None]:
    if not resume:
        return 0, None
    entry, _, token = resume.partition(":")
    return int(entry), token or None


class ConfiguredGroups:
    """:class:`GroupDirectory` over LOG_GROUPS-style entries, resolved in CloudWatch."""

    def __init__(
        self,
        entries: Iterable[str],
        source: GroupPages,
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        self._entries = normalise(entries)
        self._source = source
        # The selection's verdict (own and excluded groups are never reconciled).
        self._keep = keep

    def groups(self, deadline: Deadline, *, resume: str | None = None) -> GroupListing:
        first, token = _parse_position(resume)
        if first >= len(self._entries):  # the entries changed since: start again
            first, token = 0, None
        listing = GroupListing(from_start=first == 0 and token is None)
        found: dict[str, LogGroupInfo] = {}
        for number in range(first, len(self._entries)):
            entry = self._entries[number]
            if deadline.expired:
                listing.resume = _position(number, token)
                break
            if entry.is_prefix:
                token = self._list_prefix(entry.text, token, deadline, found, listing)
                if token is not None:  # stopped at the deadline inside this entry
                    listing.resume = _position(number, token)
                    break
            else:
                self._describe(entry.text, deadline, found, listing)
        kept = (i for i in found.values() if self._keep is None or self._keep(i.name))
        listing.groups = sorted(kept, key=lambda info: info.name)
        return listing

    def _list_prefix(
        self,
        prefix: str,
        token: str | None,
        deadline: Deadline,
        found: dict[str, LogGroupInfo],
        listing: GroupListing,
    ) -> str | None:
        """Page through one prefix; the token to resume with if the deadline came first."""
        starting = token is None
        while True:
            if deadline.expired:
                return token or ""
            try:
                page = self._source.group_page(prefix, deadline, token)
            except (SourceThrottled, ClientError, BotoCoreError) as error:
                if token is not None and refused_page_token(error):
                    token, starting = None, True  # expired token: list the prefix again
                    continue
                failed = Unresolved(f"{prefix}*", Status.FAILED, describe_error(error))
                listing.unresolved.append(failed)
                return None
            if starting and not page.groups and page.next_token is None:
                missing = Unresolved(f"{prefix}*", Status.GROUP_MISSING, "no match")
                listing.unresolved.append(missing)
            starting = False
            for info in page.groups:
                found.setdefault(info.name, info)
            token = page.next_token
            if token is None:
                return None

    def _describe(
        self, name: str, deadline: Deadline, found: dict[str, LogGroupInfo], listing: GroupListing
    ) -> None:
        try:
            found.setdefault(name, self._source.describe_group(name, deadline))
        except LogGroupNotFound as error:
            listing.unresolved.append(Unresolved(name, Status.GROUP_MISSING, str(error)))
        except (SourceThrottled, ClientError, BotoCoreError) as error:
            listing.unresolved.append(Unresolved(name, Status.FAILED, describe_error(error)))
