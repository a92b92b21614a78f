"""Index and template administration on OpenSearch: half of the :class:`Cluster` adapter.

:class:`~logstream.cluster.opensearch.OpenSearchCluster` adds the document
operations on top; the split keeps each class to one concern.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from opensearchpy import OpenSearch

from logstream.cluster.opensearch_calls import ENGINE_NAME, call
from logstream.cluster.port import (
    DEFAULT_TIMEOUT,
    ClusterError,
    IndexExists,
    IndexMissing,
    ShardUsage,
)

_MAX_SHARDS_SETTING: Final = "cluster.max_shards_per_node"
#: Where a cluster setting is found, the one that applies first.
_SETTING_SCOPES: Final = ("transient", "persistent", "defaults")


class OpenSearchIndexAdmin:
    """Indices and composable templates, over an opensearch-py client.

    ``engine_name`` is how errors name the cluster: the same REST calls serve
    Elasticsearch too (see :mod:`logstream.cluster.elasticsearch`).
    """

    def __init__(self, client: OpenSearch, engine_name: str = ENGINE_NAME) -> None:
        self._client = client
        self._engine_name = engine_name

    def _call[T](self, request: Callable[[], T], *, missing: str | None = None) -> T:
        return call(request, missing=missing, engine=self._engine_name)

    # -- indices

    def list_indices(self, pattern: str, *, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        try:
            rows = self._call(
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
        ok = self._call(lambda: self._client.indices.exists(index=index, request_timeout=timeout))
        return bool(ok)

    def mapping(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        response = self._call(
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
            self._call(
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
            self._call(
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
        self._call(
            lambda: self._client.indices.put_settings(
                index=index,
                body={"index.blocks.write": blocked},
                request_timeout=timeout,
            ),
            missing=index,
        )

    # -- the cluster

    def shard_usage(self, *, timeout: float = DEFAULT_TIMEOUT) -> ShardUsage:
        health = self._call(lambda: self._client.cluster.health(request_timeout=timeout))
        settings = self._call(
            lambda: self._client.cluster.get_settings(
                include_defaults=True,
                filter_path=f"*.{_MAX_SHARDS_SETTING}",
                request_timeout=timeout,
            )
        )
        # Transient overrides persistent overrides the default, as the cluster applies them.
        group, name = _MAX_SHARDS_SETTING.split(".", 1)
        scopes = [(settings.get(s) or {}).get(group) or {} for s in _SETTING_SCOPES]
        per_node = next((scoped[name] for scoped in scopes if name in scoped), None)
        if per_node is None:
            raise ClusterError(
                None,
                f"the cluster settings do not show {_MAX_SHARDS_SETTING}",
                retryable=False,
                engine=self._engine_name,
            )
        # Relocating shards are already among the active ones.
        shards = sum(
            int(health.get(key) or 0)
            for key in ("active_shards", "initializing_shards", "unassigned_shards")
        )
        return ShardUsage(
            shards=shards,
            max_shards_per_node=int(per_node),
            data_nodes=int(health.get("number_of_data_nodes") or 0),
        )

    # -- templates

    def index_templates(
        self, name: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, dict[str, Any]]:
        try:
            found = self._call(
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
        self._call(
            lambda: self._client.indices.put_index_template(
                name=name, body=dict(body), request_timeout=timeout
            )
        )
