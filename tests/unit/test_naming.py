from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logstream.naming import (
    SHARED_SCOPE,
    IndexLayout,
    daily_index,
    day_suffix,
    deployment_pattern,
    group_index_part,
    group_indices_pattern,
    index_day,
    index_pattern_for_group,
    is_daily_index,
    schema_scope,
)

_LEGAL_INDEX = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_GROUP_CHARS = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"))
GROUPS = st.text(_GROUP_CHARS, min_size=1, max_size=512)


def test_lossless_names_are_used_verbatim() -> None:
    assert group_index_part("payments-api") == "payments-api"


def test_lossy_names_get_a_hash_of_the_exact_name() -> None:
    part = group_index_part("/aws/lambda/My_Fn")
    assert part.startswith("aws-lambda-my-fn_")
    assert len(part.rsplit("_", 1)[1]) == 10


def test_names_that_differ_only_in_case_or_punctuation_get_different_indices() -> None:
    names = [
        "/aws/lambda/Foo",
        "/aws/lambda/foo",
        "aws-lambda-foo",
        "aws/lambda/foo",
        "#aws.lambda.foo",
    ]
    parts = {group_index_part(n) for n in names}
    assert len(parts) == len(names)


def test_daily_index_uses_the_utc_day_of_the_event() -> None:
    # 2024-02-29T23:59:59.999Z and one millisecond later.
    assert day_suffix(1709251199999) == "2024.02.29"
    assert day_suffix(1709251200000) == "2024.03.01"
    assert daily_index("logs", "orders", 1709251199999) == "logs-orders-2024.02.29"


def test_a_group_pattern_covers_every_day_but_may_cover_more() -> None:
    pattern = index_pattern_for_group("logs", "orders")
    assert pattern == "logs-orders-*"
    assert daily_index("logs", "orders", 0).startswith(pattern[:-1])
    # `orders-eu` is a different group whose indices also start with
    # `logs-orders-`: this is why every reader filters on `log_group` too.
    assert daily_index("logs", "orders-eu", 0).startswith(pattern[:-1])


@given(GROUPS)
def test_every_group_yields_a_legal_index_name(group: str) -> None:
    name = daily_index("logs", group, 1_700_000_000_000)
    assert _LEGAL_INDEX.match(name), name
    assert name == name.lower()
    assert len(name.encode()) <= 255


@given(GROUPS, GROUPS)
def test_two_different_groups_never_share_an_index(first: str, second: str) -> None:
    if first != second:
        assert group_index_part(first) != group_index_part(second)


# -- layouts (issue 12, item 5)

_DAY_MS = 1709251199999  # 2024-02-29T23:59:59.999Z


def test_shared_daily_puts_every_group_in_one_index_per_day() -> None:
    shared = IndexLayout.SHARED_DAILY
    assert daily_index("logs", "/aws/lambda/a", _DAY_MS, shared) == "logs-2024.02.29"
    assert daily_index("logs", "/ecs/b", _DAY_MS, shared) == "logs-2024.02.29"
    assert daily_index("logs", "/aws/lambda/a", _DAY_MS + 1, shared) == "logs-2024.03.01"


def test_group_daily_is_the_default_and_the_original_contract() -> None:
    assert daily_index("logs", "payments-api", _DAY_MS) == "logs-payments-api-2024.02.29"
    assert daily_index("logs", "payments-api", _DAY_MS, IndexLayout.GROUP_DAILY) == (
        "logs-payments-api-2024.02.29"
    )


@given(GROUPS, st.integers(min_value=0, max_value=253_402_300_799_999))
def test_every_daily_index_is_recognised_by_its_layout_and_not_the_other(
    group: str, timestamp: int
) -> None:
    for layout in IndexLayout:
        name = daily_index("logs", group, timestamp, layout)
        assert is_daily_index("logs", name, layout)
        assert is_daily_index("logs", name, layout, log_group=group)
        assert fnmatch.fnmatchcase(name, group_indices_pattern("logs", group, layout))
        assert fnmatch.fnmatchcase(name, deployment_pattern("logs"))
        other = next(o for o in IndexLayout if o is not layout)
        assert not is_daily_index("logs", name, other)
        assert index_day(name) == day_suffix(timestamp)


@pytest.mark.parametrize(
    "name",
    [
        "logs-quarantine",
        "logs-all",
        "logs_heal_0123456789abcdef",
        "logs-2024.02.29-x",
        "logsx-2024.02.29",
        "logs-a-2024.02.29",  # a neighbouring shared-daily deployment, prefix logs-a
        "other-2024.02.29",
        "logs-2024.2.29",
    ],
)
def test_shared_daily_recognises_only_its_own_exact_names(name: str) -> None:
    assert not is_daily_index("logs", name, IndexLayout.SHARED_DAILY)


def test_a_group_index_is_not_taken_for_a_group_whose_name_extends_it() -> None:
    longer = daily_index("logs", "orders-api", _DAY_MS)
    assert fnmatch.fnmatchcase(longer, group_indices_pattern("logs", "orders"))
    assert not is_daily_index("logs", longer, IndexLayout.GROUP_DAILY, log_group="orders")


def test_the_schema_scope_is_the_group_or_the_one_shared_scope() -> None:
    assert schema_scope("/aws/lambda/a") == "/aws/lambda/a"
    assert schema_scope("/aws/lambda/a", IndexLayout.SHARED_DAILY) == SHARED_SCOPE
    assert schema_scope("/ecs/b", IndexLayout.SHARED_DAILY) == SHARED_SCOPE
    # Log group names are [.-_/#A-Za-z0-9]: the shared scope can never be one.
    assert re.fullmatch(r"[.\-_/#A-Za-z0-9]+", SHARED_SCOPE) is None
