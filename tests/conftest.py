"""Shared fixtures: the real local stack from ``devstack`` (no mocks).

``devstack`` is importable because pyproject's pytest ``pythonpath`` includes
the repo root ("."), also under ``make integration``'s override.

* ``opensearch_url``: ``$LOGSTREAM_TEST_OPENSEARCH_URL`` if set, else a real
  OpenSearch started for the session (first run fetches it with mvn). If it
  cannot start, every test using it errors: a missing backend must never turn
  into a green run of skipped tests.
* ``elasticsearch_url``: the same for Elasticsearch 8
  (``$LOGSTREAM_TEST_ELASTICSEARCH_URL``).
* ``cluster_engine`` / ``cluster_url``: the engine a test runs against and its
  URL. Tests that ask for them run once per engine where
  ``tests/integration/conftest.py`` says so (decoder, backfill, reconcile,
  schema), else on OpenSearch.
* ``moto_endpoint`` / ``aws_env``: a moto server and the env vars that point
  boto3 at it. Nothing here touches ``os.environ``; tests apply ``aws_env``
  themselves (``monkeypatch.setenv``) so it is undone after each test.
* ``fault_proxy``: a fresh ``FaultProxy`` per test in front of the cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack.elasticsearch_server import ElasticsearchServer
from devstack.fault_proxy import FaultProxy
from devstack.moto_server import MotoServer
from devstack.moto_server import aws_env as make_aws_env
from devstack.opensearch_server import OpenSearchServer

OPENSEARCH_URL_ENV = "LOGSTREAM_TEST_OPENSEARCH_URL"
ELASTICSEARCH_URL_ENV = "LOGSTREAM_TEST_ELASTICSEARCH_URL"
ENGINES = ("opensearch", "elasticsearch")


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    external = os.environ.get(OPENSEARCH_URL_ENV, "").strip()
    if external:
        yield external.rstrip("/")
        return
    # Deliberately no try/except: a start failure errors the tests, never skips them.
    with OpenSearchServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    external = os.environ.get(ELASTICSEARCH_URL_ENV, "").strip()
    if external:
        yield external.rstrip("/")
        return
    with ElasticsearchServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def cluster_engine(request: pytest.FixtureRequest) -> str:
    """``opensearch`` or ``elasticsearch`` (the ES_ENGINE value); parametrized by conftest."""
    engine: str = getattr(request, "param", "opensearch")
    return engine


@pytest.fixture(scope="session")
def cluster_url(request: pytest.FixtureRequest, cluster_engine: str) -> str:
    """The URL of a real cluster of ``cluster_engine``, started once per session."""
    url: str = request.getfixturevalue(f"{cluster_engine}_url")
    return url


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with MotoServer() as server:
        yield server.endpoint_url


@pytest.fixture(scope="session")
def aws_env(moto_endpoint: str) -> dict[str, str]:
    """AWS_* variables for the moto server; shared by the session, so copy before editing."""
    return make_aws_env(moto_endpoint)


@pytest.fixture
def fault_proxy(cluster_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(cluster_url) as proxy:
        yield proxy
