"""The :class:`~logstream.cluster.port.Cluster` adapter for OpenSearch (2.x, Amazon OpenSearch
Service, and OpenSearch Serverless), over opensearch-py.

opensearch-py's own retries are off: every retry policy in logstream is its
own (per bulk item, jittered, inside the invocation's deadline). Each call
passes its ``timeout`` as opensearch-py's ``request_timeout``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import orjson
from opensearchpy import OpenSearch, RequestsHttpConnection
from opensearchpy.exceptions import TransportError

from logstream.cluster.bulk_transport import BulkTransport
from logstream.cluster.opensearch_admin import OpenSearchIndexAdmin
from logstream.cluster.opensearch_calls import ENGINE_NAME
from logstream.cluster.port import (
    DEFAULT_TIMEOUT,
    Capabilities,
    ClusterError,
    Engine,
)
from logstream.observability import logger

_SCROLL_KEEPALIVE: Final = "5m"
#: Index names per _field_caps request, so the URL stays short.
_FIELD_CAPS_CHUNK: Final = 50

OPENSEARCH: Final = Capabilities(
    engine=Engine.OPENSEARCH,
    client_ids=True,
    refresh=True,
    write_block=True,
    flattened_type="flat_object",
    lifecycle="ism",
)
#: AWS documents that time-series collections refuse a client-chosen ``_id``
#: and that Serverless has no ``_refresh`` and no index settings API.
OPENSEARCH_SERVERLESS: Final = Capabilities(
    engine=Engine.OPENSEARCH_SERVERLESS,
    client_ids=False,
    refresh=False,
    write_block=False,
    flattened_type="flat_object",
    lifecycle=None,
)


class OpenSearchCluster(OpenSearchIndexAdmin):
    """:class:`~logstream.cluster.port.Cluster` over an opensearch-py client."""

    def __init__(
        self,
        client: OpenSearch,
        bulk_transport: BulkTransport,
        capabilities: Capabilities = OPENSEARCH,
        engine_name: str = ENGINE_NAME,
    ) -> None:
        super().__init__(client, engine_name)
        self._bulk = bulk_transport
        self._capabilities = capabilities

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- writing

    def bulk(self, gzipped_ndjson: bytes, timeout: float) -> dict[str, Any]:
        return self._bulk.post(gzipped_ndjson, timeout)

    def delete_documents(
        self, index: str, ids: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[str]:
        if not ids:
            return []
        body = b"".join(
            orjson.dumps({"delete": {"_index": index, "_id": doc_id}}) + b"\n" for doc_id in ids
        )
        response = self._call(
            lambda: self._client.bulk(body=body, refresh="wait_for", request_timeout=timeout)
        )
        if not response.get("errors"):
            return []
        return [
            str(item["delete"].get("_id"))
            for item in response.get("items", [])
            if item["delete"].get("status") not in (200, 404)
        ]

    # -- reading

    def search(
        self, index: str, body: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        response = self._call(
            lambda: self._client.search(
                index=index,
                body=dict(body),
                ignore_unavailable=True,
                allow_no_indices=True,
                request_timeout=timeout,
            )
        )
        if not isinstance(response, dict):
            raise ClusterError(
                None,
                "search response was not a JSON object",
                retryable=True,
                engine=self._engine_name,
            )
        return response

    def count(
        self,
        index: str,
        query: Mapping[str, Any] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> int:
        body = {"query": dict(query)} if query is not None else None
        response = self._call(
            lambda: self._client.count(
                index=index,
                body=body,
                ignore_unavailable=True,
                allow_no_indices=True,
                request_timeout=timeout,
            )
        )
        return int(response["count"])

    def iter_hits(
        self, index: str, *, page_size: int, timeout: float = DEFAULT_TIMEOUT
    ) -> Iterator[list[dict[str, Any]]]:
        response = self._call(
            lambda: self._client.search(
                index=index,
                scroll=_SCROLL_KEEPALIVE,
                body={"size": page_size, "sort": ["_doc"]},
                request_timeout=timeout,
            ),
            missing=index,
        )
        scroll_id = response.get("_scroll_id")
        try:
            while True:
                hits = response["hits"]["hits"]
                if not hits:
                    return
                yield hits
                scroll_id = response.get("_scroll_id", scroll_id)
                response = self._call(
                    lambda current=scroll_id: self._client.scroll(  # type: ignore[misc]
                        scroll_id=current, scroll=_SCROLL_KEEPALIVE, request_timeout=timeout
                    )
                )
        finally:
            if scroll_id:
                self._clear_scroll(scroll_id)

    def _clear_scroll(self, scroll_id: str) -> None:
        # Best effort: an abandoned scroll context expires on its own after the keep-alive.
        try:
            self._client.clear_scroll(scroll_id=scroll_id)
        except TransportError:
            return

    def refresh(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not self._capabilities.refresh:
            return
        self._call(
            lambda: self._client.indices.refresh(
                index=index,
                ignore_unavailable=True,
                allow_no_indices=True,
                request_timeout=timeout,
            )
        )

    def field_caps(
        self, indices: Sequence[str], fields: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        names = list(indices)
        for start in range(0, len(names), _FIELD_CAPS_CHUNK):
            chunk = names[start : start + _FIELD_CAPS_CHUNK]
            response = self._call(
                lambda chunk=chunk: self._client.field_caps(  # type: ignore[misc]
                    index=",".join(chunk),
                    fields=fields,
                    params={"ignore_unavailable": "true", "request_timeout": timeout},
                )
            )
            for name, by_type in (response.get("fields") or {}).items():
                slot = merged.setdefault(name, {})
                for field_type, info in by_type.items():
                    known = slot.setdefault(field_type, {"indices": []})
                    # With one type in a request, _field_caps names no indices:
                    # the request's are taken (at worst an index is checked for nothing).
                    known["indices"] += list(info.get("indices") or chunk)
        return merged


def rest_client(
    url: str,
    *,
    http_auth: Any,
    verify_certs: bool,
    ca_certs: str | None,
    timeout: float,
    pool_size: int,
) -> OpenSearch:
    """The opensearch-py client for every call but ``_bulk``; it reads nothing from the env."""
    if not verify_certs:
        logger.warning("TLS certificate verification of the cluster is OFF (ES_TLS_VERIFY=false)")
    client = OpenSearch(
        hosts=[url],
        http_auth=http_auth,
        connection_class=RequestsHttpConnection,
        verify_certs=verify_certs,
        ca_certs=ca_certs,
        ssl_show_warn=verify_certs,
        timeout=timeout,
        # Delivery retries are logstream's own (per item, jittered, deadline-bounded).
        max_retries=0,
        retry_on_timeout=False,
        pool_maxsize=max(pool_size, 2),
    )
    for connection in client.transport.connection_pool.connections:
        # requests would otherwise let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE and proxy
        # variables override ES_TLS_VERIFY and ES_CA_CERTS, silently.
        connection.session.trust_env = False
    return client


def connect(
    url: str,
    *,
    http_auth: Any,
    verify_certs: bool,
    ca_certs: str | None,
    timeout: float,
    pool_size: int,
    serverless: bool,
) -> OpenSearchCluster:
    """An :class:`OpenSearchCluster` for ``url``; nothing is sent until the first call.

    ``_bulk`` takes the lean transport (:mod:`logstream.cluster.bulk_transport`);
    everything else goes through opensearch-py. Neither reads TLS or proxy
    settings from the environment: ES_TLS_VERIFY and ES_CA_CERTS decide.
    """
    capabilities = OPENSEARCH_SERVERLESS if serverless else OPENSEARCH
    return assemble(
        url,
        http_auth=http_auth,
        verify_certs=verify_certs,
        ca_certs=ca_certs,
        timeout=timeout,
        pool_size=pool_size,
        capabilities=capabilities,
        engine_name=ENGINE_NAME,
    )


def assemble(
    url: str,
    *,
    http_auth: Any,
    verify_certs: bool,
    ca_certs: str | None,
    timeout: float,
    pool_size: int,
    capabilities: Capabilities,
    engine_name: str,
) -> OpenSearchCluster:
    """The adapter over one REST client and one lean ``_bulk`` transport, for any engine
    that speaks OpenSearch's REST API (``capabilities`` say what it can do)."""
    client = rest_client(
        url,
        http_auth=http_auth,
        verify_certs=verify_certs,
        ca_certs=ca_certs,
        timeout=timeout,
        pool_size=pool_size,
    )
    bulk = BulkTransport(
        url,
        http_auth=http_auth,
        verify_certs=verify_certs,
        ca_certs=ca_certs,
        pool_size=pool_size,
        engine=engine_name,
    )
    return OpenSearchCluster(client, bulk, capabilities, engine_name=engine_name)
