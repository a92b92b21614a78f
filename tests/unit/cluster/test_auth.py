"""The basic-auth password a Secrets Manager secret holds."""

from __future__ import annotations

import pytest

from logstream.cluster.auth import password_in_secret
from logstream.settings import SettingsError


@pytest.mark.parametrize(
    ("secret", "password"),
    [
        ("plain", "plain"),
        ('{"password": "from-json", "username": "x"}', "from-json"),
        ("{starts-with-a-brace", "{starts-with-a-brace"),
        ("{}x", "{}x"),
        ('["a", "list"]', '["a", "list"]'),
    ],
)
def test_a_secret_holds_a_plain_password_or_json_with_one(secret: str, password: str) -> None:
    assert password_in_secret(secret) == password


def test_a_json_secret_without_a_password_is_a_clear_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"ES_PASS_SECRET_ARN.*without a string 'password'"):
        password_in_secret('{"pass": "x"}')
