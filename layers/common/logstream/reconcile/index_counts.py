"""The index side of reconciliation: counts and ids of one group's documents.

Every query goes to the alias ``${INDEX_PREFIX}-all`` and is filtered on the
exact ``log_group`` keyword and a half-open ``@timestamp`` range, never on an
index name alone (two groups may share sanitized names' look-alikes, the
alias is what users search, and in the ``shared-daily`` layout every group
of a day shares one index), so counts and histograms are per group in both
layouts.

Two engine capabilities matter here. Without ``_refresh`` (OpenSearch
Serverless) a count after a reship waits :data:`NO_REFRESH_WAIT_SECS` for the
engine's own refresh instead, a bounded wait, not a proof: a document indexed
later shows as a gap again and the next run reships or finds it. Without
client-chosen ids a document's ``_id`` is the engine's, so events are matched
by the ``event_id`` field (the sort key) rather than by ``_id``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from logstream.cluster.port import Cluster, ClusterError
from logstream.naming import IndexLayout, document_id, index_pattern_for_group
from logstream.reconcile.ports import IndexUnavailable
from logstream.reconcile.window import Window
from logstream.retry import Backoff, Deadline

_ID_PAGE: Final = 5_000
_ATTEMPTS: Final = 3
#: How long a count waits for an engine without ``_refresh`` to make writes searchable.
#: Serverless makes new documents searchable within about 10 s (AWS documentation).
NO_REFRESH_WAIT_SECS: Final = 15.0


class ClusterIndexCounter:
    """:class:`logstream.reconcile.ports.IndexCounter` over the :class:`Cluster` seam."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        alias: str,
        index_prefix: str,
        backoff: Backoff,
        layout: IndexLayout = IndexLayout.GROUP_DAILY,
        timeout_secs: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cluster = cluster
        self._sleep = sleep
        self._alias = alias
        self._prefix = index_prefix
        self._layout = layout
        self._backoff = backoff
        self._timeout = timeout_secs
        self.queries = 0

    @staticmethod
    def _filter(log_group: str, window: Window) -> dict[str, Any]:
        return {
            "bool": {
                "filter": [
                    {"term": {"log_group": log_group}},
                    {
                        "range": {
                            "@timestamp": {
                                "gte": window.start,
                                "lt": window.end,
                                "format": "epoch_millis",
                            }
                        }
                    },
                ]
            }
        }

    def counts(self, log_group: str, window: Window, step_ms: int) -> dict[int, int]:
        body = {
            "size": 0,
            "track_total_hits": False,
            "query": self._filter(log_group, window),
            "aggs": {
                "buckets": {
                    "date_histogram": {
                        "field": "@timestamp",
                        "fixed_interval": f"{step_ms}ms",
                        "min_doc_count": 1,
                    }
                }
            },
        }
        response = self._search(body)
        buckets = response.get("aggregations", {}).get("buckets", {}).get("buckets", [])
        counts: dict[int, int] = {}
        for bucket in buckets:
            key = max(window.start, int(bucket["key"]))
            counts[key] = counts.get(key, 0) + int(bucket["doc_count"])
        return counts

    def ids(self, log_group: str, window: Window) -> set[str]:
        found: set[str] = set()
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": _ID_PAGE,
                "_source": False,
                "track_total_hits": False,
                "query": self._filter(log_group, window),
                "sort": [{"event_id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self._search(body).get("hits", {}).get("hits", [])
            found.update(self._event_doc_id(hit) for hit in hits)
            if len(hits) < _ID_PAGE:
                return found
            after = hits[-1]["sort"]

    def _event_doc_id(self, hit: dict[str, Any]) -> str:
        if self._cluster.capabilities.client_ids:
            return str(hit["_id"])
        return document_id(str(hit["sort"][0]))  # sorted by event_id

    def refresh(self, log_group: str) -> None:
        if not self._cluster.capabilities.refresh:
            self._sleep(min(NO_REFRESH_WAIT_SECS, self._timeout))
            return
        self._with_retries(
            lambda: self._cluster.refresh(self._indices_of(log_group), timeout=self._timeout)
        )

    def _indices_of(self, log_group: str) -> str:
        """The group's own daily indices, or (``shared-daily``) every daily index: the alias."""
        if self._layout is IndexLayout.SHARED_DAILY:
            return self._alias
        return index_pattern_for_group(self._prefix, log_group)

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        self.queries += 1
        response: dict[str, Any] = self._with_retries(
            lambda: self._cluster.search(self._alias, body, timeout=self._timeout)
        )
        return response

    def _with_retries(self, request: Any) -> Any:
        deadline = Deadline.after_seconds(self._timeout * _ATTEMPTS)
        for attempt in range(_ATTEMPTS):
            try:
                return request()
            except ClusterError as error:
                if (
                    not error.retryable
                    or attempt + 1 == _ATTEMPTS
                    or not self._backoff.wait(attempt, deadline)
                ):
                    raise IndexUnavailable(f"index query failed: {error}") from error
        raise IndexUnavailable("unreachable")
