"""The pure expiry rules: names, dates, the first kept day, the marker."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logstream.naming import daily_index, daily_index_regex
from logstream.retention.expiry import (
    Verdict,
    first_kept_day,
    index_day,
    verdict_by_name,
    verdict_by_owner,
)

TODAY = date(2026, 3, 1)
PATTERN = daily_index_regex("logs")
PROTECTED = frozenset({"logs-quarantine", "logs-all"})


def _verdict(name: str, days: int = 7, today: date = TODAY) -> Verdict:
    return verdict_by_name(
        name, daily_pattern=PATTERN, today=today, retention_days=days, protected=PROTECTED
    )


def test_retention_days_count_today_in() -> None:
    assert first_kept_day(TODAY, 1) == TODAY
    assert first_kept_day(TODAY, 7) == date(2026, 2, 23)
    with pytest.raises(ValueError, match="keep forever"):
        first_kept_day(TODAY, 0)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026.03.02", Verdict.RETAINED),  # tomorrow (clock skew, late events): never deleted
        ("2026.03.01", Verdict.RETAINED),  # today
        ("2026.02.23", Verdict.RETAINED),  # the 7th day back, today included
        ("2026.02.22", Verdict.EXPIRED),
        ("2025.12.31", Verdict.EXPIRED),
    ],
)
def test_a_day_expires_once_it_is_before_the_first_kept_day(day: str, expected: Verdict) -> None:
    assert _verdict(f"logs-app-{day}") is expected


@pytest.mark.parametrize(
    "name",
    [
        "logs-quarantine",
        "logs-all",
        "logs_heal_0123456789abcdef",
        "logs-app-2026.02",
        "logs-app-2026.2.01",
        "logs-app-2026.02.01-copy",
        "logs-app-2026.02.01.old",
        "logs-App-2026.02.01",
        "logs--2026.02.01",
        "logsx-app-2026.02.01",
        "other-app-2026.02.01",
        "logs-app_xyz-2026.02.01",  # a hash is 10 hex digits
    ],
)
def test_names_that_are_not_daily_indices_are_never_expired(name: str) -> None:
    assert _verdict(name) in {Verdict.NOT_DAILY, Verdict.PROTECTED}


@pytest.mark.parametrize("day", ["2026.02.30", "2026.13.01", "2026.00.10", "0000.01.01"])
def test_a_date_that_does_not_parse_is_kept(day: str) -> None:
    assert _verdict(f"logs-app-{day}") is Verdict.BAD_DATE
    with pytest.raises(ValueError):
        index_day(f"logs-app-{day}", PATTERN)


def test_protected_names_win_over_the_pattern() -> None:
    name = "logs-app-2020.01.01"
    assert (
        verdict_by_name(
            name, daily_pattern=PATTERN, today=TODAY, retention_days=1, protected={name}
        )
        is Verdict.PROTECTED
    )


def _owner_verdict(name: str, owner: str | None, sample: dict[str, object] | None) -> Verdict:
    return verdict_by_owner(
        name,
        owner=owner,
        expected_owner="logs",
        sample=sample,
        index_for=partial(daily_index, "logs"),
    )


def test_a_neighbour_with_a_longer_prefix_is_told_apart_by_marker_and_documents() -> None:
    # `logs-prod`'s group `x` and `logs`'s group `prod-x` make the same name.
    name = daily_index("logs-prod", "x", 0)
    assert name == daily_index("logs", "prod-x", 0)
    assert _verdict(name) is Verdict.EXPIRED
    neighbours = {"log_group": "x", "@timestamp": 5}
    ours = {"log_group": "prod-x", "@timestamp": 5}
    assert _owner_verdict(name, "logs-prod", ours) is Verdict.NOT_OURS
    assert _owner_verdict(name, None, ours) is Verdict.NOT_OURS
    # Our template stamps our marker on any new index under `logs-*`: the documents decide.
    assert _owner_verdict(name, "logs", neighbours) is Verdict.NOT_OURS
    assert _owner_verdict(name, "logs", ours) is Verdict.EXPIRED


@pytest.mark.parametrize(
    "sample",
    [
        {"log_group": "prod-x", "@timestamp": 86_400_000},  # another day's document
        {"log_group": "prod-x", "@timestamp": "5"},
        {"log_group": "prod-x", "@timestamp": True},
        {"log_group": "", "@timestamp": 5},
        {"@timestamp": 5},
        {},
    ],
)
def test_a_document_that_does_not_name_this_index_makes_it_not_ours(
    sample: dict[str, object],
) -> None:
    assert _owner_verdict("logs-prod-x-1970.01.01", "logs", sample) is Verdict.NOT_OURS


def test_an_empty_index_cannot_be_verified_and_is_kept() -> None:
    assert _owner_verdict("logs-prod-x-1970.01.01", "logs", None) is Verdict.UNVERIFIED


@given(
    group=st.text(min_size=1, max_size=300),
    day_number=st.integers(min_value=0, max_value=(date(2099, 12, 31) - date(1970, 1, 1)).days),
)
def test_every_name_the_naming_module_makes_is_recognised_with_its_day(
    group: str, day_number: int
) -> None:
    name = daily_index("logs", group, day_number * 86_400_000 + 1)
    assert index_day(name, PATTERN) == date(1970, 1, 1) + timedelta(days=day_number)


@given(days=st.integers(min_value=1, max_value=3650), back=st.integers(0, 4000))
def test_expired_exactly_when_older_than_the_kept_days(days: int, back: int) -> None:
    day = TODAY - timedelta(days=back)
    verdict = _verdict(f"logs-app-{day:%Y.%m.%d}", days=days)
    assert (verdict is Verdict.EXPIRED) == (back >= days)
