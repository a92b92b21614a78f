"""Which daily index has expired, from its name and its ``_meta`` alone (pure).

An index is deleted only when every one of these holds:

1. its name is one the naming module makes for this deployment's layout
   (``fullmatch`` of the daily-index pattern, which captures the date);
2. the date in the name parses as a real calendar day (``2026.02.30`` does not);
3. that day is before the first kept day: RETENTION_DAYS days are kept,
   today (UTC) included, so ``RETENTION_DAYS=1`` keeps only today;
4. it is not a protected name (the quarantine, the alias), whatever the pattern says;
5. its mapping ``_meta`` carries logstream's marker naming this deployment
   (:func:`logstream.schema.templates.owner_marker`);
6. its documents belong there: every log group it holds (the ten largest,
   from a ``terms`` aggregation), at its oldest and its newest ``@timestamp``,
   gives exactly this index's name under this deployment's naming, and no
   document lacks a ``log_group``. In ``group-daily`` two groups never share
   a name, so a second group alone makes the index not ours.

Why both 5 and 6: a neighbour whose prefix extends this one (``logs`` and
``logs-prod``) makes names this pattern matches (``logs-prod`` + group ``x``
is ``logs`` + group ``prod-x``). The marker comes from this deployment's
template, which applies to every new index under ``{prefix}-*``: a neighbour
without templates of its own (another shipper, a person) gets it too. Its
documents do not: their groups map to other names. An index without a
document to check is kept (nothing proves whose it is; it holds no data).

1 to 4 are :func:`verdict_by_name`; 5 and 6 are :func:`verdict_by_owner`,
checked only for names that passed (they cost two requests per index).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

_DAY_FORMAT: Final = "%Y.%m.%d"


class Verdict(StrEnum):
    """What the janitor does with one index, and why."""

    EXPIRED = "expired"  # delete it
    RETAINED = "retained"  # its day is within RETENTION_DAYS (or is today or later)
    NOT_DAILY = "not a daily index"  # the pattern does not match the whole name
    BAD_DATE = "date does not parse"
    PROTECTED = "protected"  # the quarantine or the alias
    NOT_OURS = "no marker of this deployment, or documents of another"
    UNVERIFIED = "empty: no document to prove whose it is"


def first_kept_day(today: date, retention_days: int) -> date:
    """The oldest day kept: ``retention_days`` days up to and including ``today``."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1 (0 means keep forever: no janitor)")
    return today - timedelta(days=retention_days - 1)


def index_day(name: str, daily_pattern: re.Pattern[str]) -> date | None:
    """The day in a daily index's name; None when the name is not one or its date is not real.

    Raises :class:`ValueError` when the name matches but its date does not parse.
    """
    match = daily_pattern.fullmatch(name)
    if match is None:
        return None
    return datetime.strptime(match.group("day"), _DAY_FORMAT).date()


def verdict_by_name(
    name: str,
    *,
    daily_pattern: re.Pattern[str],
    today: date,
    retention_days: int,
    protected: Collection[str],
) -> Verdict:
    """Rules 1 to 4 of the module doc: EXPIRED means "check the marker, then delete"."""
    if name in protected:
        return Verdict.PROTECTED
    try:
        day = index_day(name, daily_pattern)
    except ValueError:
        return Verdict.BAD_DATE
    if day is None:
        return Verdict.NOT_DAILY
    if day >= first_kept_day(today, retention_days):
        return Verdict.RETAINED
    return Verdict.EXPIRED


@dataclass(frozen=True, slots=True)
class IndexContents:
    """What an index holds, as far as rule 6 needs: see :func:`contents_query`."""

    documents: int
    docs_by_group: Mapping[str, int]  # the largest groups
    docs_in_other_groups: int  # documents of groups past those
    first_ms: int | None
    last_ms: int | None


#: Groups looked at per index: in ``group-daily`` a second one already decides.
_GROUPS_CHECKED: Final = 10


def contents_query() -> dict[str, Any]:
    """The ``_search`` body whose answer :func:`contents_from` reads."""
    return {
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "groups": {"terms": {"field": "log_group", "size": _GROUPS_CHECKED}},
            "first": {"min": {"field": "@timestamp"}},
            "last": {"max": {"field": "@timestamp"}},
        },
    }


def contents_from(response: Mapping[str, Any]) -> IndexContents:
    """:class:`IndexContents` out of the answer to :func:`contents_query`."""
    total = response["hits"]["total"]
    aggs = response.get("aggregations") or {}
    groups = aggs.get("groups") or {}

    def millis(key: str) -> int | None:
        value = (aggs.get(key) or {}).get("value")
        return int(value) if isinstance(value, int | float) else None

    return IndexContents(
        documents=int(total["value"] if isinstance(total, Mapping) else total),
        docs_by_group={str(b["key"]): int(b["doc_count"]) for b in groups.get("buckets", [])},
        docs_in_other_groups=int(groups.get("sum_other_doc_count") or 0),
        first_ms=millis("first"),
        last_ms=millis("last"),
    )


def verdict_by_owner(
    name: str,
    *,
    owner: str | None,
    expected_owner: str,
    contents: IndexContents | None,
    index_for: Callable[[str, int], str],
) -> Verdict:
    """Rules 5 and 6: EXPIRED only when the marker names this deployment and what the
    index holds belongs in ``name`` (``contents`` is read only once the marker matched).

    ``index_for(log_group, timestamp_ms)`` is the deployment's naming for its layout.
    """
    if owner != expected_owner or contents is None:
        return Verdict.NOT_OURS
    if contents.documents == 0:
        return Verdict.UNVERIFIED
    grouped = sum(contents.docs_by_group.values()) + contents.docs_in_other_groups
    first, last = contents.first_ms, contents.last_ms
    if grouped != contents.documents or first is None or last is None:
        return Verdict.NOT_OURS  # documents without a log group or a time: not logstream's
    belongs = all(
        index_for(group, first) == name == index_for(group, last)
        for group in contents.docs_by_group
    )
    return Verdict.EXPIRED if belongs else Verdict.NOT_OURS
