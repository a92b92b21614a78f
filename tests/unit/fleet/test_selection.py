"""GroupSelection: own groups never, exclusions always, then the mode."""

from __future__ import annotations

import pytest

from logstream.fleet.selection import GroupSelection, Refusal
from logstream.own_groups import OwnGroups
from logstream.settings import SelectionMode, Settings, SettingsError

BASE = {"AWS_REGION": "eu-west-1", "LOGSTREAM_OWN_LOG_GROUP_PREFIXES": "/aws/lambda/stack-"}


def _selection(**env: str) -> GroupSelection:
    return GroupSelection.from_settings(Settings.from_env({**BASE, **env}))


def test_list_mode_takes_exactly_the_names() -> None:
    selection = _selection(LOG_GROUPS="/app/a,/app/b")
    assert selection.mode is SelectionMode.LIST
    assert selection.selects("/app/a")
    assert selection.why_not("/app/ab") is Refusal.NOT_SELECTED
    assert selection.why_not("/app") is Refusal.NOT_SELECTED


def test_prefix_mode_takes_every_name_under_a_prefix() -> None:
    selection = _selection(LOG_GROUP_SELECTION="prefixes", LOG_GROUP_PREFIXES="/aws/lambda/,/ecs/")
    assert selection.selects("/aws/lambda/orders")
    assert selection.selects("/ecs/web")
    assert selection.why_not("/aws/rds/x") is Refusal.NOT_SELECTED


def test_own_groups_are_refused_first_in_every_mode() -> None:
    for env in (
        {"LOG_GROUPS": "/aws/lambda/stack-DecoderFunction-1"},
        {"LOG_GROUP_SELECTION": "prefixes", "LOG_GROUP_PREFIXES": "/aws/lambda/"},
        {"LOG_GROUP_SELECTION": "account"},
    ):
        selection = _selection(**env, EXCLUDED_LOG_GROUPS="/aws/lambda/stack-*")
        assert selection.why_not("/aws/lambda/stack-DecoderFunction-1") is Refusal.OWN


def test_exclusions_take_names_and_star_prefixes() -> None:
    selection = _selection(
        LOG_GROUP_SELECTION="account", EXCLUDED_LOG_GROUPS="/noisy,/aws/lambda/test-*"
    )
    assert selection.why_not("/noisy") is Refusal.EXCLUDED
    assert selection.why_not("/aws/lambda/test-a") is Refusal.EXCLUDED
    assert selection.selects("/noisy2")  # an exact name is not a prefix
    assert selection.selects("/aws/lambda/prod-a")


def test_account_mode_takes_everything_or_only_its_prefixes() -> None:
    assert _selection(LOG_GROUP_SELECTION="account").selects("/anything")
    narrowed = _selection(LOG_GROUP_SELECTION="account", LOG_GROUP_PREFIXES="/app/")
    assert narrowed.selects("/app/x")
    assert narrowed.why_not("/other") is Refusal.NOT_SELECTED


def test_the_decoder_refuses_unselected_groups_only_in_account_mode() -> None:
    listed = _selection(LOG_GROUPS="/a", EXCLUDED_LOG_GROUPS="/x")
    assert listed.refuses_delivery("/b") is None  # a filter put by hand is honoured
    assert listed.refuses_delivery("/x") is Refusal.EXCLUDED
    account = _selection(LOG_GROUP_SELECTION="account", LOG_GROUP_PREFIXES="/app/")
    assert account.refuses_delivery("/other") is Refusal.NOT_SELECTED
    assert account.refuses_delivery("/app/x") is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LOG_GROUPS": "/b,/a,/ab,/c"}, ("/a", "/b", "/c")),
        ({"LOG_GROUP_SELECTION": "prefixes", "LOG_GROUP_PREFIXES": "/x/y,/x/,/z"}, ("/x/", "/z")),
        ({"LOG_GROUP_SELECTION": "account"}, ("",)),
        ({"LOG_GROUP_SELECTION": "account", "LOG_GROUP_PREFIXES": "/q,/p"}, ("/p", "/q")),
    ],
)
def test_listing_prefixes_list_each_group_once(env: dict[str, str], expected: tuple[str]) -> None:
    assert _selection(**env).listing_prefixes() == expected


def test_the_running_functions_group_is_own_whatever_the_settings() -> None:
    own = OwnGroups(names=frozenset({"/aws/lambda/me"}))
    selection = GroupSelection.from_settings(
        Settings.from_env({**BASE, "LOG_GROUP_SELECTION": "account"}), own
    )
    assert selection.why_not("/aws/lambda/me") is Refusal.OWN


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"LOG_GROUP_SELECTION": "prefixes"}, "LOG_GROUP_PREFIXES", "is required"),
        ({"LOG_GROUP_SELECTION": "everything"}, "LOG_GROUP_SELECTION", "is not one of"),
        ({"LOG_GROUP_PREFIXES": "/a*"}, "LOG_GROUP_PREFIXES", "without '*'"),
        ({"EXCLUDED_LOG_GROUPS": "/a*b"}, "EXCLUDED_LOG_GROUPS", "ending in '*'"),
        ({"EXCLUDED_LOG_GROUPS": "*"}, "EXCLUDED_LOG_GROUPS", "exclude everything"),
        ({"SUBSCRIPTION_FILTER_NAME": "a:b"}, "SUBSCRIPTION_FILTER_NAME", "without ':'"),
        ({"SUBSCRIPTION_DESTINATION_ARN": "decoder"}, "SUBSCRIPTION_DESTINATION_ARN", "not an ARN"),
        ({"TRANSPORT": "pigeon"}, "TRANSPORT", "is not one of"),
    ],
)
def test_bad_fleet_settings_name_the_variable(
    env: dict[str, str], variable: str, fragment: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**BASE, **env})
    assert fragment in caught.value.problems[variable]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LOG_GROUPS": "/b,/a"}, ("/a", "/b")),
        (
            {"LOG_GROUP_SELECTION": "prefixes", "LOG_GROUP_PREFIXES": "/ecs/,/aws/,/aws/lambda/"},
            ("/aws/*", "/ecs/*"),
        ),
        ({"LOG_GROUP_SELECTION": "account"}, ("*",)),
        ({"LOG_GROUP_SELECTION": "account", "LOG_GROUP_PREFIXES": "/app/"}, ("/app/*",)),
    ],
)
def test_entries_name_the_selection_for_scheduled_runs(
    env: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert _selection(**env).entries() == expected


def test_list_mode_star_entries_take_their_prefix_as_log_groups_always_did() -> None:
    selection = _selection(LOG_GROUPS="/svc/*,/app/a")
    assert selection.selects("/svc/orders")
    assert selection.selects("/app/a")
    assert selection.why_not("/app/ab") is Refusal.NOT_SELECTED
    assert selection.entries() == ("/app/a", "/svc/*")
    assert selection.listing_prefixes() == ("/app/a", "/svc/")
