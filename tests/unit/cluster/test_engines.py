"""Which adapter ES_ENGINE and ES_AUTH choose, what each declares, and API key auth.

OpenSearch Serverless cannot run here: its row is checked against what AWS
documents, not against a live collection.
"""

from __future__ import annotations

import base64

import pytest
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from requests import PreparedRequest

from logstream.cluster import factory
from logstream.cluster.auth import ApiKeyAuth
from logstream.cluster.elasticsearch import ELASTICSEARCH, ENGINE_NAME
from logstream.cluster.opensearch import OPENSEARCH, OPENSEARCH_SERVERLESS
from logstream.cluster.opensearch_calls import call
from logstream.cluster.port import ClusterError, Engine
from logstream.settings import EngineName, Settings, SettingsError

BASE = {"AWS_REGION": "us-east-1", "ES_HOST": "http://127.0.0.1:9"}


def _settings(**env: str) -> Settings:
    return Settings.from_env({**BASE, **env})


def _no_secrets() -> None:
    raise AssertionError("no secret is read for this auth mode")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, OPENSEARCH),
        ({"ES_ENGINE": "opensearch", "ES_AUTH": "none"}, OPENSEARCH),
        ({"ES_ENGINE": "elasticsearch"}, ELASTICSEARCH),
        (
            {"ES_ENGINE": "Elasticsearch", "ES_AUTH": "apikey", "ES_API_KEY": "aWQ6a2V5"},
            ELASTICSEARCH,
        ),
        ({"ES_AUTH": "sigv4-aoss"}, OPENSEARCH_SERVERLESS),
    ],
)
def test_the_factory_picks_the_adapter_and_its_capabilities(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: object
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    cluster = factory.connect(_settings(**env), _no_secrets)  # type: ignore[arg-type]
    assert cluster.capabilities == expected


def test_each_engine_declares_what_it_can_do() -> None:
    assert (OPENSEARCH.engine, OPENSEARCH.flattened_type, OPENSEARCH.lifecycle) == (
        Engine.OPENSEARCH,
        "flat_object",
        "ism",
    )
    assert (ELASTICSEARCH.engine, ELASTICSEARCH.flattened_type, ELASTICSEARCH.lifecycle) == (
        Engine.ELASTICSEARCH,
        "flattened",
        "ilm",
    )
    for full in (OPENSEARCH, ELASTICSEARCH):
        assert full.client_ids and full.refresh and full.write_block
    # AWS: time-series collections refuse client ids; no _refresh; no index settings API.
    serverless = OPENSEARCH_SERVERLESS
    assert not (serverless.client_ids or serverless.refresh or serverless.write_block)
    assert serverless.lifecycle is None


def test_errors_name_the_engine_that_failed() -> None:
    def refused() -> None:
        raise TransportConnectionError("N/A", "connection refused", None)

    with pytest.raises(ClusterError, match=r"^Elasticsearch request failed"):
        call(refused, engine=ENGINE_NAME)


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"ES_ENGINE": "solr"}, "ES_ENGINE", "not one of opensearch, elasticsearch"),
        ({"ES_AUTH": "apikey"}, "ES_API_KEY", "required when ES_AUTH=apikey"),
        ({"ES_API_KEY": "abc"}, "ES_API_KEY", "set ES_AUTH=apikey"),
        ({"ES_AUTH": "apikey", "ES_API_KEY": "a b\nc"}, "ES_API_KEY", "'encoded' value"),
        ({"ES_ENGINE": "elasticsearch", "ES_AUTH": "sigv4"}, "ES_AUTH", "means OpenSearch"),
    ],
)
def test_engine_and_auth_settings_that_contradict_are_named(
    env: dict[str, str], variable: str, fragment: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _settings(**env)
    assert fragment in raised.value.problems[variable]


def test_the_engine_defaults_to_opensearch() -> None:
    assert _settings().engine is EngineName.OPENSEARCH
    assert _settings(ES_ENGINE="elasticsearch").engine is EngineName.ELASTICSEARCH


@pytest.mark.parametrize(
    ("configured", "header"),
    [
        (
            "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        ),
        ("my-id:my-secret", "ApiKey " + base64.b64encode(b"my-id:my-secret").decode()),
    ],
)
def test_an_api_key_is_sent_as_its_encoded_form(configured: str, header: str) -> None:
    request = PreparedRequest()
    request.prepare(method="GET", url="http://127.0.0.1:9/_count", headers={})
    assert ApiKeyAuth(configured)(request).headers["Authorization"] == header


def test_the_api_key_never_shows_in_the_settings_repr() -> None:
    settings = _settings(ES_ENGINE="elasticsearch", ES_AUTH="apikey", ES_API_KEY="sekrit-key")
    assert settings.es_api_key == "sekrit-key"
    assert "sekrit-key" not in repr(settings)
