"""How requests to the cluster are authenticated: none, basic, API key, SigV4 (es / aoss).

The basic-auth password comes from ES_PASS, or in AWS from the Secrets
Manager secret named by ES_PASS_SECRET_ARN: a plain string, or JSON with a
string ``password``. The secret is read through Powertools Parameters and
cached for at most :data:`SECRET_MAX_AGE_SECS`, and the header is built per
request, so a rotated password is picked up without a cold start.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import boto3
import orjson
from requests import PreparedRequest
from requests.auth import AuthBase

from logstream.settings import AuthMode, Settings, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

#: How long a secret value is trusted before it is read again (rotation).
SECRET_MAX_AGE_SECS: Final = 300


class BasicAuthFrom(AuthBase):
    """HTTP basic auth whose password is looked up for every request (it is cached there)."""

    def __init__(self, user: str, password: Callable[[], str]) -> None:
        self._user = user
        self._password = password

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        pair = f"{self._user}:{self._password()}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return request


class ApiKeyAuth(AuthBase):
    """Elasticsearch API key auth: ``Authorization: ApiKey <base64 of id:api_key>``."""

    def __init__(self, key: str) -> None:
        # The API returns both `encoded` and `id` + `api_key`; either may be configured.
        encoded = base64.b64encode(key.encode()).decode("ascii") if ":" in key else key
        self._header = "ApiKey " + encoded

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = self._header
        return request


def password_in_secret(value: str) -> str:
    """The password a secret holds: JSON ``{"password": ...}``, or the whole value as is.

    A plain password may itself start with ``{``: only text that parses as a
    JSON object is read as JSON, and then it must hold a string ``password``.
    """
    if not value.lstrip().startswith("{"):
        return value
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    if not isinstance(parsed, dict):
        return value
    if not isinstance(parsed.get("password"), str):
        raise SettingsError(
            {"ES_PASS_SECRET_ARN": "the secret is a JSON object without a string 'password'"}
        )
    return str(parsed["password"])


def secret_password(secret_arn: str, client: SecretsManagerClient) -> Callable[[], str]:
    """A password lookup for ``secret_arn``, cached for :data:`SECRET_MAX_AGE_SECS`."""
    from aws_lambda_powertools.utilities.parameters import (  # noqa: PLC0415 - basic auth only
        SecretsProvider,
    )

    provider = SecretsProvider(boto3_client=client)

    def current() -> str:
        value = provider.get(secret_arn, max_age=SECRET_MAX_AGE_SECS)
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        return password_in_secret(text)

    return current


def http_auth(settings: Settings, secrets: Callable[[], SecretsManagerClient]) -> Any:
    """The ``http_auth`` for the cluster client, per ES_AUTH."""
    if settings.auth_mode is AuthMode.NONE:
        return None
    if settings.auth_mode is AuthMode.API_KEY:
        return ApiKeyAuth(settings.es_api_key or "")
    if settings.auth_mode is AuthMode.BASIC:
        if settings.es_pass_secret_arn is None:
            return (settings.es_user, settings.es_pass)
        lookup = secret_password(settings.es_pass_secret_arn, secrets())
        lookup()  # fail the cold start now, with the secret's error, not on the first bulk
        return BasicAuthFrom(settings.es_user, lookup)
    from requests_aws4auth import AWS4Auth  # noqa: PLC0415 - only SigV4 deployments pay for it

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise SettingsError({"ES_AUTH": f"{settings.auth_mode} needs AWS credentials; none found"})
    service = "aoss" if settings.auth_mode is AuthMode.SIGV4_AOSS else "es"
    # refreshable_credentials re-reads the role's rotating keys before they expire.
    return AWS4Auth(
        region=settings.aws_region, service=service, refreshable_credentials=credentials
    )
