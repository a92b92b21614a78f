from __future__ import annotations

import pytest

from logstream.naming import IndexLayout
from logstream.settings import AuthMode, Settings, SettingsError

BASE = {"AWS_REGION": "eu-west-1"}


def test_defaults_follow_the_original_readme() -> None:
    settings = Settings.from_env(BASE)
    assert settings.es_host == "http://localhost:9200"
    assert (settings.es_user, settings.es_pass) == ("elastic", "changeme")
    assert settings.index_prefix == "logs"
    assert settings.alias == "logs-all"
    assert settings.quarantine_index == "logs-quarantine"
    # BATCH_SIZE's default comes from the request-sizing sweep (issue 14), no longer 100.
    assert (settings.batch_size, settings.max_in_flight) == (5000, 2)
    assert (settings.backoff_base_ms, settings.backoff_max_ms) == (200, 10_000)
    assert settings.http_timeout_secs == 30
    assert settings.auth_mode is AuthMode.BASIC
    assert settings.tls_verify is True
    assert settings.index_shards == 1
    assert settings.index_layout is IndexLayout.GROUP_DAILY


def test_the_index_layout_is_read_case_insensitively() -> None:
    settings = Settings.from_env({**BASE, "INDEX_LAYOUT": "Shared-Daily"})
    assert settings.index_layout is IndexLayout.SHARED_DAILY


def test_log_groups_are_split_and_trimmed() -> None:
    settings = Settings.from_env({**BASE, "LOG_GROUPS": " /aws/lambda/a , /ecs/b,, "})
    assert settings.log_groups == ("/aws/lambda/a", "/ecs/b")


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("BATCH_SIZE", "ten", "not a whole number"),
        ("BATCH_SIZE", "0", "outside the allowed range"),
        ("MAX_IN_FLIGHT", "1000", "outside the allowed range"),
        ("ES_HOST", "localhost:9200", "not an http(s) URL"),
        ("INDEX_PREFIX", "Logs", "must be lowercase"),
        ("INDEX_PREFIX", "lo gs", "not allowed in index names"),
        ("INDEX_PREFIX", "_logs", "must not start with"),
        ("ES_AUTH", "kerberos", "is not one of"),
        ("ES_TLS_VERIFY", "maybe", "not a boolean"),
        ("INDEX_LAYOUT", "daily", "is not one of group-daily, shared-daily"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**BASE, name: value})
    assert name in caught.value.problems
    assert fragment in caught.value.problems[name]
    assert name in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"BATCH_SIZE": "-1", "BACKOFF_BASE_MS": "x"})
    assert set(caught.value.problems) == {"AWS_REGION", "BATCH_SIZE", "BACKOFF_BASE_MS"}


def test_backoff_max_must_not_be_below_base() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**BASE, "BACKOFF_BASE_MS": "500", "BACKOFF_MAX_MS": "100"})
    assert "BACKOFF_MAX_MS" in caught.value.problems


@pytest.mark.parametrize(
    "host",
    [
        "ftp://admin:s3cr3t@search.example.com",
        "admin:s3cr3t@search.example.com:9200",
        "https://admin:s3cr3t@search.example.com:notaport",
        "https://admin:s3cr3t@search.example.com:0",
    ],
)
def test_credentials_in_a_url_never_reach_an_error_message(host: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**BASE, "ES_HOST": host})
    message = str(caught.value)
    assert "ES_HOST" in caught.value.problems
    assert "***@search.example.com" in message
    for secret in ("admin", "s3cr3t"):
        assert secret not in message
        assert secret not in caught.value.problems["ES_HOST"]
