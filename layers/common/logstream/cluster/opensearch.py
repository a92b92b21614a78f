"""The :class:`~logstream.cluster.port.Cluster` adapter for OpenSearch (2.x, Amazon OpenSearch
Service, and OpenSearch Serverless), over opensearch-py.

opensearch-py's own retries are off: every retry policy in logstream is its
own (per bulk item, jittered, inside the invocation's deadline). Each call
passes its ``timeout`` as opensearch-py's ``request_timeout``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import orjson
from opensearchpy import OpenSearch, RequestsHttpConnection
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from logstream.cluster.port import (
    DEFAULT_TIMEOUT,
    Capabilities,
    ClusterError,
    Engine,
    IndexExists,
    IndexMissing,
)

#: Only what the bulk sink reads: a smaller response to parse.
_BULK_RESPONSE_FILTER: Final = "took,errors,items.*.status,items.*.error"
_BULK_HEADERS: Final = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
_SCROLL_KEEPALIVE: Final = "5m"
#: How errors name the cluster to an operator.
_ENGINE_NAME: Final = "OpenSearch"
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


class OpenSearchCluster:
    """:class:`~logstream.cluster.port.Cluster` over an opensearch-py client."""

    def __init__(self, client: OpenSearch, capabilities: Capabilities = OPENSEARCH) -> None:
        self._client = client
        self._capabilities = capabilities

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- writing

    def bulk(self, gzipped_ndjson: bytes, timeout: float) -> dict[str, Any]:
        response = _call(
            lambda: self._client.transport.perform_request(
                "POST",
                "/_bulk",
                headers=_BULK_HEADERS,
                params={"filter_path": _BULK_RESPONSE_FILTER, "request_timeout": timeout},
                body=gzipped_ndjson,
            )
        )
        if not isinstance(response, dict):
            raise ClusterError(
                None, "bulk response was not a JSON object", retryable=True, engine=_ENGINE_NAME
            )
        return response

    def delete_documents(
        self, index: str, ids: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[str]:
        if not ids:
            return []
        body = b"".join(
            orjson.dumps({"delete": {"_index": index, "_id": doc_id}}) + b"\n" for doc_id in ids
        )
        response = _call(
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
        response = _call(
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
                None, "search response was not a JSON object", retryable=True, engine=_ENGINE_NAME
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
        response = _call(
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
        response = _call(
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
                response = _call(
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
        _call(
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
            response = _call(
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

    # -- indices

    def list_indices(self, pattern: str, *, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        try:
            rows = _call(
                lambda: self._client.cat.indices(
                    index=pattern,
                    format="json",
                    h="index",
                    expand_wildcards="open",
                    request_timeout=timeout,
                ),
                missing=pattern,
            )
        except IndexMissing:
            return []
        return sorted(str(row["index"]) for row in rows or [])

    def index_exists(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
        return bool(
            _call(lambda: self._client.indices.exists(index=index, request_timeout=timeout))
        )

    def mapping(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        response = _call(
            lambda: self._client.indices.get_mapping(index=index, request_timeout=timeout),
            missing=index,
        )
        body: dict[str, Any] = response.get(index) or next(iter(response.values()), {})
        return dict(body.get("mappings") or {})

    def index_meta(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        return dict(self.mapping(index, timeout=timeout).get("_meta") or {})

    def create_index(
        self,
        index: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        try:
            _call(
                lambda: self._client.indices.create(
                    index=index, body=dict(body or {}), request_timeout=timeout
                )
            )
        except ClusterError as error:
            if "resource_already_exists_exception" in error.reason:
                raise IndexExists(index) from error
            raise

    def delete_index(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if any(mark in index for mark in "*,?") or index.startswith(("_", "-")):
            # One exact index only: a pattern here could delete a neighbour's data.
            raise ValueError(f"refusing to delete {index!r}: not one exact index name")
        try:
            _call(
                lambda: self._client.indices.delete(
                    index=index, expand_wildcards="none", request_timeout=timeout
                ),
                missing=index,
            )
        except IndexMissing:
            return

    def set_write_block(
        self, index: str, blocked: bool, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        _call(
            lambda: self._client.indices.put_settings(
                index=index,
                body={"index.blocks.write": blocked},
                request_timeout=timeout,
            ),
            missing=index,
        )

    # -- templates

    def index_templates(
        self, name: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, dict[str, Any]]:
        try:
            found = _call(
                lambda: self._client.indices.get_index_template(name=name, request_timeout=timeout),
                missing=name,
            )
        except IndexMissing:
            return {}
        return {
            str(entry["name"]): dict(entry["index_template"])
            for entry in found.get("index_templates", [])
        }

    def put_index_template(
        self, name: str, body: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        _call(
            lambda: self._client.indices.put_index_template(
                name=name, body=dict(body), request_timeout=timeout
            )
        )


def _call[T](request: Callable[[], T], *, missing: str | None = None) -> T:
    """Run one opensearch-py call, translating its errors into :class:`ClusterError`.

    ``missing`` names what a 404 means (then :class:`IndexMissing` is raised);
    with ``missing=None`` a 404 is an ordinary failure.
    """
    try:
        return request()
    except NotFoundError as error:
        if missing is not None:
            raise IndexMissing(missing) from error
        raise _translated(error) from error
    except TransportConnectionError as error:  # includes timeouts
        raise ClusterError(None, str(error), retryable=True, engine=_ENGINE_NAME) from error
    except TransportError as error:
        raise _translated(error) from error


def _translated(error: TransportError) -> ClusterError:
    status = error.status_code if isinstance(error.status_code, int) else None
    retryable = status is None or status == 429 or status >= 500
    return ClusterError(status, _error_summary(error), retryable=retryable, engine=_ENGINE_NAME)


def _error_summary(error: TransportError) -> str:
    info = error.info
    if isinstance(info, dict):
        detail = info.get("error")
        if isinstance(detail, dict):
            return f"{detail.get('type')}: {detail.get('reason')}"
        return str(detail or info)
    return str(error.error)


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
    """An :class:`OpenSearchCluster` for ``url``; nothing is sent until the first call."""
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
    return OpenSearchCluster(client, OPENSEARCH_SERVERLESS if serverless else OPENSEARCH)
