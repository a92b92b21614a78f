"""The :class:`~logstream.cluster.port.Cluster` adapter for Elasticsearch 8.x.

Why no ``elasticsearch`` client library: every call logstream makes
(``_bulk``, ``_search`` with scroll and ``search_after``, ``_count``,
``_field_caps``, ``_cat/indices``, ``_mapping``, ``_settings`` for the write
block, composable ``_index_template``, index create/delete/``_refresh``) has the
same path, parameters and answer on Elasticsearch 8 as on OpenSearch 2: both
are the 7.10 REST API. The product check that makes clients refuse the other
engine lives in the *clients* (elasticsearch-py checks ``X-Elastic-Product``
on answers); the Elasticsearch server accepts any plain JSON request. So the
adapter reuses the opensearch-py calls of :class:`OpenSearchCluster` and the
lean ``_bulk`` transport, and differs only in what it declares
(:data:`ELASTICSEARCH`) and how errors name the engine. That keeps the layer
free of elasticsearch-py 8 and elastic-transport (another HTTP stack, more
cold-start imports) for no gain in behaviour. The integration suite runs every
decoder, backfill, reconciliation and healing test against a real
Elasticsearch 8.19 to hold this true.

What differs on the engine's side and is handled by the declaration:

- overflow fields are mapped ``flattened`` (OpenSearch: ``flat_object``);
- lifecycle is ILM (OpenSearch: ISM).

Auth is none, basic (ES_USER/ES_PASS) or an API key (ES_API_KEY), built by
:mod:`logstream.cluster.auth`; SigV4 is AWS's and means OpenSearch.
"""

from __future__ import annotations

from typing import Any, Final

from logstream.cluster.opensearch import OpenSearchCluster, assemble
from logstream.cluster.port import Capabilities, Engine

#: How errors name the cluster to an operator.
ENGINE_NAME: Final = "Elasticsearch"

ELASTICSEARCH: Final = Capabilities(
    engine=Engine.ELASTICSEARCH,
    client_ids=True,
    refresh=True,
    write_block=True,
    flattened_type="flattened",
    lifecycle="ilm",
)


def connect(
    url: str,
    *,
    http_auth: Any,
    verify_certs: bool,
    ca_certs: str | None,
    timeout: float,
    pool_size: int,
) -> OpenSearchCluster:
    """A :class:`~logstream.cluster.port.Cluster` on Elasticsearch at ``url``; lazy."""
    return assemble(
        url,
        http_auth=http_auth,
        verify_certs=verify_certs,
        ca_certs=ca_certs,
        timeout=timeout,
        pool_size=pool_size,
        capabilities=ELASTICSEARCH,
        engine_name=ENGINE_NAME,
    )
