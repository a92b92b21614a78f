"""Elasticsearch authentication: basic auth against a real 8.19 node with security on,
and the API key header on the wire.

The integ-test distribution has no ``analysis-common`` module, which the
``.security`` index needs, so that node cannot *create* API keys (basic auth
works through the file realm). The API key is therefore checked as sent, by
the loopback recorder of ``test_auth.py``, for both the bulk transport and the
REST client, and the real node is shown to read the ``ApiKey`` scheme: it
refuses an unknown key with 401, not as a malformed request.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import pytest

from devstack.elasticsearch_server import ElasticsearchServer
from logstream import clients
from logstream.cluster.port import ClusterError
from logstream.retry import Deadline
from logstream.schema.templates import ensure_templates
from logstream.settings import load_settings
from logstream.shipping.documents import Document
from tests.integration.test_auth import _Recorder, recorder  # noqa: F401 - the fixture

SECURE_URL_ENV = "LOGSTREAM_TEST_ELASTICSEARCH_SECURE_URL"
#: The file-realm superuser of the secured test node (and of an external one).
USER, PASSWORD = "logstream", "test-password-1"


@pytest.fixture(scope="module")
def secured_elasticsearch() -> Iterator[str]:
    external = os.environ.get(SECURE_URL_ENV, "").strip()
    if external:
        yield external.rstrip("/")
        return
    with ElasticsearchServer(user=(USER, PASSWORD)) as server:
        yield server.url


@pytest.fixture
def elasticsearch_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    prefix = f"auth{uuid.uuid4().hex[:8]}"
    for name, value in {
        "AWS_REGION": "us-east-1",
        "ES_ENGINE": "elasticsearch",
        "INDEX_PREFIX": prefix,
        "INDEX_REPLICAS": "0",
        "BACKOFF_BASE_MS": "1",
        "BACKOFF_MAX_MS": "5",
    }.items():
        monkeypatch.setenv(name, value)
    yield prefix
    clients.reset()


def _document(index: str, doc_id: str) -> Document:
    return Document.from_source(
        index=index, doc_id=doc_id, timestamp=1, log_group="g", log_stream="s",
        source=b'{"@timestamp":1,"event_id":"%s","message":"hi"}' % doc_id.encode(),
    )  # fmt: skip


def test_basic_auth_ships_to_a_secured_elasticsearch(
    monkeypatch: pytest.MonkeyPatch, secured_elasticsearch: str, elasticsearch_env: str
) -> None:
    monkeypatch.setenv("ES_HOST", secured_elasticsearch)
    monkeypatch.setenv("ES_AUTH", "basic")
    monkeypatch.setenv("ES_USER", USER)
    monkeypatch.setenv("ES_PASS", PASSWORD)
    clients.reset()
    cluster = clients.cluster()
    ensure_templates(cluster, load_settings())
    index = f"{elasticsearch_env}-g-2026.11.24"
    report = clients.bulk_sink().deliver([_document(index, "1")], Deadline.after_seconds(60))
    assert len(report.delivered) == 1
    replay = clients.bulk_sink().deliver([_document(index, "1")], Deadline.after_seconds(60))
    assert len(replay.duplicates) == 1  # exactly once holds on Elasticsearch too
    cluster.refresh(index)
    assert cluster.count(index) == 1
    mapping = cluster.mapping(index)
    assert mapping["properties"]["json_overflow"] == {"type": "flattened"}
    cluster.delete_index(index)


def test_a_wrong_password_is_refused_and_not_retried(
    monkeypatch: pytest.MonkeyPatch, secured_elasticsearch: str, elasticsearch_env: str
) -> None:
    monkeypatch.setenv("ES_HOST", secured_elasticsearch)
    monkeypatch.setenv("ES_AUTH", "basic")
    monkeypatch.setenv("ES_USER", USER)
    monkeypatch.setenv("ES_PASS", "wrong")
    clients.reset()
    with pytest.raises(ClusterError) as refused:
        clients.cluster().count(f"{elasticsearch_env}-*")
    assert refused.value.status == 401
    assert not refused.value.retryable
    assert str(refused.value).startswith("Elasticsearch request failed (401)")
    report = clients.bulk_sink().deliver(
        [_document(f"{elasticsearch_env}-g-2026.11.24", "1")], Deadline.after_seconds(30)
    )
    assert len(report.undelivered) == 1 and "401" in report.undelivered[0].reason


def test_an_unknown_api_key_is_read_as_one_and_refused(
    monkeypatch: pytest.MonkeyPatch, secured_elasticsearch: str, elasticsearch_env: str
) -> None:
    monkeypatch.setenv("ES_HOST", secured_elasticsearch)
    monkeypatch.setenv("ES_AUTH", "apikey")
    monkeypatch.setenv("ES_API_KEY", "not-an-id:not-a-key")
    clients.reset()
    with pytest.raises(ClusterError) as refused:
        clients.cluster().count(f"{elasticsearch_env}-*")
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("configured", "encoded"),
    [
        ("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAy", "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAy"),
        ("key-id:key-secret", base64.b64encode(b"key-id:key-secret").decode()),
    ],
)
def test_the_api_key_header_is_sent_on_bulk(
    monkeypatch: pytest.MonkeyPatch,
    recorder: str,  # noqa: F811 - the fixture imported above
    elasticsearch_env: str,
    configured: str,
    encoded: str,
) -> None:
    monkeypatch.setenv("ES_HOST", recorder)
    monkeypatch.setenv("ES_AUTH", "apikey")
    monkeypatch.setenv("ES_API_KEY", configured)
    clients.reset()
    clients.bulk_sink().deliver([_document("logs-x-2026.11.24", "1")], Deadline.after_seconds(30))
    ((headers, _),) = _Recorder.seen
    assert headers["authorization"] == f"ApiKey {encoded}"
