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
6. a document in it belongs there: its ``log_group`` and ``@timestamp`` give
   exactly this index's name under this deployment's naming.

Why both 5 and 6: a neighbour whose prefix extends this one (``logs`` and
``logs-prod``) makes names this pattern matches (``logs-prod`` + group ``x``
is ``logs`` + group ``prod-x``). The marker comes from this deployment's
template, which applies to every new index under ``{prefix}-*``: a neighbour
without templates of its own (another shipper, a person) gets it too. Its
documents never do: their group maps to another name. An index without a
document to check is kept (nothing proves whose it is; it holds no data).

1 to 4 are :func:`verdict_by_name`; 5 and 6 are :func:`verdict_by_owner`,
checked only for names that passed (they cost two requests per index).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
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


def verdict_by_owner(
    name: str,
    *,
    owner: str | None,
    expected_owner: str,
    sample: Mapping[str, Any] | None,
    index_for: Callable[[str, int], str],
) -> Verdict:
    """Rules 5 and 6: EXPIRED only when the marker names this deployment and ``sample``
    (one document's ``_source``, None for an empty index) belongs in ``name``.

    ``index_for(log_group, timestamp_ms)`` is the deployment's naming for its layout.
    """
    if owner != expected_owner:
        return Verdict.NOT_OURS
    if sample is None:
        return Verdict.UNVERIFIED
    group, timestamp = sample.get("log_group"), sample.get("@timestamp")
    if not isinstance(group, str) or not group or type(timestamp) is not int:
        return Verdict.NOT_OURS
    return Verdict.EXPIRED if index_for(group, timestamp) == name else Verdict.NOT_OURS
