"""Everything logstream asks of a search cluster, and what each engine can do.

:class:`Cluster` is the seam: shipping, reconciliation, schema healing and
the CLI call only these operations, and only ``logstream.cluster`` imports a
search engine's client library. An adapter per engine implements it
(``opensearch.py``, ``elasticsearch.py``); ``factory.py`` picks one.

Every operation takes ``timeout``: the seconds this call may spend, which
callers derive from the invocation's deadline. Failures are
:class:`ClusterError` (with ``retryable``), or :class:`IndexMissing` where a
caller may reasonably act on a missing index.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from logstream.errors import InfrastructureError

#: Timeout for a call when the caller gives none (seconds).
DEFAULT_TIMEOUT = 30.0


class Engine(StrEnum):
    OPENSEARCH = "opensearch"
    OPENSEARCH_SERVERLESS = "opensearch-serverless"
    ELASTICSEARCH = "elasticsearch"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine guarantees; the shipper, reconciler and healer read these.

    ``client_ids``     documents can be created under a client-chosen ``_id``
                       (``create`` answers 409 for a replay): exactly-once
    ``refresh``        ``_refresh`` exists, so a count can follow a write at once
    ``write_block``    ``index.blocks.write`` can hold an index still while it is rebuilt
    ``flattened_type`` the mapping type that stores an object without mapping its
                       keys (``flat_object`` in OpenSearch, ``flattened`` in
                       Elasticsearch), or None
    ``lifecycle``      the engine's own retention mechanism (``ism``, ``ilm``), or None
    """

    engine: Engine
    client_ids: bool
    refresh: bool
    write_block: bool
    flattened_type: str | None
    lifecycle: str | None


@dataclass(frozen=True, slots=True)
class ShardUsage:
    """The cluster's shards against the limit that refuses new indices.

    ``shards``               primaries and replicas of the cluster, assigned or not
                             (the limit counts unassigned replicas too)
    ``max_shards_per_node``  ``cluster.max_shards_per_node`` as in force
    ``data_nodes``           data nodes; the limit is their product
    """

    shards: int
    max_shards_per_node: int
    data_nodes: int

    @property
    def limit(self) -> int:
        return self.max_shards_per_node * self.data_nodes

    @property
    def used_percent(self) -> float:
        """``shards`` as a percentage of ``limit`` (100 when there is no limit left at all)."""
        return 100.0 * self.shards / self.limit if self.limit > 0 else 100.0


class ClusterError(InfrastructureError):
    """A cluster call failed; ``retryable`` says whether trying again may help."""

    def __init__(
        self, status: int | None, reason: str, *, retryable: bool, engine: str = "cluster"
    ) -> None:
        self.status = status
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"{engine} request failed ({status or 'no response'}): {reason}")


class IndexMissing(ClusterError):
    """The named index (or template) does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(404, f"{name} does not exist", retryable=False)
        self.name = name


class IndexExists(ClusterError):
    """An index to create is already there."""

    def __init__(self, name: str) -> None:
        super().__init__(400, f"{name} already exists", retryable=False)
        self.name = name


class BulkEndpoint(Protocol):
    """The one operation the bulk sink needs."""

    def bulk(self, gzipped_ndjson: bytes, timeout: float) -> dict[str, Any]:
        """POST one gzip NDJSON body to ``_bulk``; the response with ``items[].status/error``.

        When ``errors`` is false the items may be given as their number only,
        ``item_count``: none of them failed, so there is nothing else to read.

        Raises :class:`ClusterError` when the request as a whole fails (413
        included, with ``status`` 413).
        """
        ...


class Cluster(BulkEndpoint, Protocol):
    """The operations logstream needs. Index arguments may be names, patterns or aliases."""

    @property
    def capabilities(self) -> Capabilities: ...

    # -- writing

    def delete_documents(
        self, index: str, ids: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[str]:
        """Delete documents by ``_id`` (missing ones are fine); the ids that could not be."""
        ...

    # -- reading

    def search(
        self, index: str, body: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        """``_search`` across ``index``; missing indices count as empty."""
        ...

    def count(
        self,
        index: str,
        query: Mapping[str, Any] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> int:
        """Documents in ``index`` (matching ``query``); 0 when nothing matches the name."""
        ...

    def iter_hits(
        self, index: str, *, page_size: int, timeout: float = DEFAULT_TIMEOUT
    ) -> Iterator[list[dict[str, Any]]]:
        """Every document of ``index`` (``_id``, ``_source``), page by page, from one snapshot."""
        ...

    def refresh(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Make recent writes searchable (a no-op where the engine refreshes on its own)."""
        ...

    def field_caps(
        self, indices: Sequence[str], fields: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, dict[str, Any]]:
        """``_field_caps``'s ``fields``: field -> type -> ``{"indices": [...]}``."""
        ...

    # -- indices

    def list_indices(self, pattern: str, *, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """Names of the open indices matching ``pattern`` (none is not an error)."""
        ...

    def index_exists(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool: ...

    def mapping(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The ``mappings`` of one index; raises :class:`IndexMissing`."""
        ...

    def index_meta(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The ``_meta`` of one index's mapping ({} if none); raises :class:`IndexMissing`."""
        ...

    def create_index(
        self,
        index: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Create an index (templates apply); raises :class:`IndexExists`."""
        ...

    def delete_index(self, index: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Delete one index by its exact name; a missing one is fine."""
        ...

    def set_write_block(
        self, index: str, blocked: bool, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None: ...

    # -- the cluster

    def shard_usage(self, *, timeout: float = DEFAULT_TIMEOUT) -> ShardUsage:
        """Shards against ``cluster.max_shards_per_node`` x data nodes (not on Serverless)."""
        ...

    # -- templates

    def index_templates(
        self, name: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, dict[str, Any]]:
        """Composable templates by name (``name`` may be a wildcard); {} when none match."""
        ...

    def put_index_template(
        self, name: str, body: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> None: ...
