"""The pure expiry rules: names, dates, the first kept day, the marker."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logstream.naming import IndexLayout, daily_index, daily_index_regex
from logstream.retention.expiry import (
    IndexContents,
    Verdict,
    contents_from,
    contents_query,
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


DAY = 86_400_000


def _contents(*docs: dict[str, object]) -> IndexContents:
    groups = Counter(str(d["log_group"]) for d in docs if "log_group" in d)
    times = [int(str(d["@timestamp"])) for d in docs if "@timestamp" in d]
    return IndexContents(
        documents=len(docs),
        docs_by_group=dict(groups),
        docs_in_other_groups=0,
        first_ms=min(times) if times else None,
        last_ms=max(times) if times else None,
    )


def _owner_verdict(name: str, owner: str | None, contents: IndexContents | None) -> Verdict:
    return verdict_by_owner(
        name,
        owner=owner,
        expected_owner="logs",
        contents=contents,
        index_for=partial(daily_index, "logs"),
    )


def test_a_neighbour_with_a_longer_prefix_is_told_apart_by_marker_and_documents() -> None:
    # `logs-prod`'s group `x` and `logs`'s group `prod-x` make the same name.
    name = daily_index("logs-prod", "x", 0)
    assert name == daily_index("logs", "prod-x", 0)
    assert _verdict(name) is Verdict.EXPIRED
    neighbours = _contents({"log_group": "x", "@timestamp": 5})
    ours = _contents({"log_group": "prod-x", "@timestamp": 5})
    assert _owner_verdict(name, "logs-prod", ours) is Verdict.NOT_OURS
    assert _owner_verdict(name, None, ours) is Verdict.NOT_OURS
    # Our template stamps our marker on any new index under `logs-*`: the documents decide.
    assert _owner_verdict(name, "logs", neighbours) is Verdict.NOT_OURS
    assert _owner_verdict(name, "logs", ours) is Verdict.EXPIRED
    assert _owner_verdict(name, "logs", None) is Verdict.NOT_OURS  # could not be asked


@pytest.mark.parametrize(
    "docs",
    [
        [{"log_group": "prod-x", "@timestamp": 86_400_000}],  # another day's document
        [{"log_group": "prod-x", "@timestamp": 5}, {"log_group": "prod-x", "@timestamp": DAY}],
        [{"log_group": "prod-x", "@timestamp": 5}, {"log_group": "x", "@timestamp": 5}],
        [{"log_group": "prod-x", "@timestamp": 5}, {"@timestamp": 5}],  # one without a group
        [{"log_group": "prod-x"}],  # no time
    ],
)
def test_documents_that_do_not_all_name_this_index_make_it_not_ours(
    docs: list[dict[str, object]],
) -> None:
    assert _owner_verdict("logs-prod-x-1970.01.01", "logs", _contents(*docs)) is Verdict.NOT_OURS


def test_an_empty_index_cannot_be_verified_and_is_kept() -> None:
    assert _owner_verdict("logs-prod-x-1970.01.01", "logs", _contents()) is Verdict.UNVERIFIED


def test_contents_are_read_from_both_engines_answers() -> None:
    answer = {
        "hits": {"total": {"value": 7, "relation": "eq"}, "hits": []},
        "aggregations": {
            "groups": {"buckets": [{"key": "a", "doc_count": 5}], "sum_other_doc_count": 2},
            "first": {"value": 1.767225600001e12, "value_as_string": "1767225600001"},
            "last": {"value": 1.767225600009e12},
        },
    }
    contents = contents_from(answer)
    assert contents == IndexContents(7, {"a": 5}, 2, 1_767_225_600_001, 1_767_225_600_009)
    empty = contents_from(
        {
            "hits": {"total": 0, "hits": []},
            "aggregations": {
                "groups": {"buckets": []},
                "first": {"value": None},
                "last": {"value": None},
            },
        }
    )
    assert empty == IndexContents(0, {}, 0, None, None)
    assert contents_query()["aggs"]["groups"]["terms"]["field"] == "log_group"


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


def test_the_shared_daily_pattern_takes_only_this_prefix_and_a_day() -> None:
    shared = daily_index_regex("logs", IndexLayout.SHARED_DAILY)
    matched = shared.fullmatch("logs-2026.11.30")
    assert matched is not None and matched["day"] == "2026.11.30"
    assert shared.fullmatch("logs-prod-2026.11.30") is None  # a neighbour's shared index
    assert shared.fullmatch("logs-orders-2026.11.30") is None  # a group-daily index
