from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from logstream.naming import daily_index, day_suffix, group_index_part, index_pattern_for_group

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
