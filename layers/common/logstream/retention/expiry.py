"""Which daily index has expired, from its name and its ``_meta`` alone (pure).

An index is deleted only when every one of these holds:

1. its name is one the naming module makes for this deployment's layout
   (``fullmatch`` of the daily-index pattern, which captures the date);
2. the date in the name parses as a real calendar day (``2026.02.30`` does not);
3. that day is before the first kept day: RETENTION_DAYS days are kept,
   today (UTC) included, so ``RETENTION_DAYS=1`` keeps only today;
4. it is not a protected name (the quarantine, the alias), whatever the pattern says;
5. its mapping ``_meta`` carries logstream's marker naming this deployment
   (:func:`logstream.schema.templates.owner_marker`): a neighbouring deployment
   whose prefix extends this one (``logs`` and ``logs-prod``) makes names this
   pattern matches, and only the marker tells them apart.

1 to 4 are :func:`verdict_by_name`; 5 is :func:`verdict_by_owner`, checked only
for names that passed (it costs a request per index).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

_DAY_FORMAT: Final = "%Y.%m.%d"


class Verdict(StrEnum):
    """What the janitor does with one index, and why."""

    EXPIRED = "expired"  # delete it
    RETAINED = "retained"  # its day is within RETENTION_DAYS (or is today or later)
    NOT_DAILY = "not a daily index"  # the pattern does not match the whole name
    BAD_DATE = "date does not parse"
    PROTECTED = "protected"  # the quarantine or the alias
    NOT_OURS = "no marker of this deployment"


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


def verdict_by_owner(owner: str | None, expected_owner: str) -> Verdict:
    """Rule 5: EXPIRED only when the index's marker names this deployment."""
    return Verdict.EXPIRED if owner == expected_owner else Verdict.NOT_OURS
