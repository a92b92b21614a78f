"""The mapped field paths of an index, read from the cluster and cached briefly.

The total-fields cap needs them: a field an index has not mapped cannot be
added once the index is full, so it moves into ``json_overflow``.
"""

from __future__ import annotations

import time

from logstream.cluster.port import Cluster, IndexMissing
from logstream.schema.transform import flatten_mapping


class MappingSource:
    """Mapped field paths of an index, from ``GET <index>/_mapping``, cached briefly."""

    def __init__(self, cluster: Cluster, ttl_seconds: float = 60.0) -> None:
        self._cluster = cluster
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def known(self, index: str, *, fresh: bool = False) -> dict[str, str]:
        hit = self._cache.get(index)
        if hit is not None and not fresh and time.monotonic() < hit[0]:
            return hit[1]
        try:
            known = flatten_mapping(self._cluster.mapping(index))
        except IndexMissing:
            known = {}
        self._cache[index] = (time.monotonic() + self._ttl, known)
        return known
