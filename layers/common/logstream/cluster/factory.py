"""The one place that picks a :class:`~logstream.cluster.port.Cluster` adapter for the settings.

ES_ENGINE names the engine (``opensearch``, the default, or ``elasticsearch``);
OpenSearch Serverless is OpenSearch reached with ES_AUTH=sigv4-aoss, and is
told apart by its :class:`~logstream.cluster.port.Capabilities`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from logstream.cluster import elasticsearch, opensearch
from logstream.cluster.auth import http_auth
from logstream.cluster.port import Cluster
from logstream.settings import AuthMode, EngineName, Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient


def connect(settings: Settings, secrets: Callable[[], SecretsManagerClient]) -> Cluster:
    """The adapter for ``settings.engine``; nothing is sent until the first call."""
    auth = http_auth(settings, secrets)
    if settings.engine is EngineName.ELASTICSEARCH:
        return elasticsearch.connect(
            settings.es_host,
            http_auth=auth,
            verify_certs=settings.tls_verify,
            ca_certs=settings.ca_certs,
            timeout=settings.http_timeout_secs,
            pool_size=settings.max_in_flight,
        )
    return opensearch.connect(
        settings.es_host,
        http_auth=auth,
        verify_certs=settings.tls_verify,
        ca_certs=settings.ca_certs,
        timeout=settings.http_timeout_secs,
        pool_size=settings.max_in_flight,
        serverless=settings.auth_mode is AuthMode.SIGV4_AOSS,
    )
