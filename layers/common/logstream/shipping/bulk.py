"""Bulk delivery: NDJSON, gzip request bodies, and an outcome for every document.

Each document ends in exactly one bucket of a :class:`DeliveryReport`:

- ``delivered``   the cluster created it (201/200);
- ``duplicates``  it was already there (409 on ``create``): replays are harmless;
- ``rejected``    the cluster refused the document itself (HTTP 400: mapping
                  and parsing errors, or 413 for a lone document too large);
                  the caller parks it in quarantine;
- ``undelivered`` still failing when retries or time ran out (429, 5xx,
                  ``es_rejected_execution_exception``, timeouts, auth or
                  cluster-block errors): the caller must fail the invocation.

Requests are bounded by BATCH_SIZE documents and BATCH_MAX_BYTES, at most
MAX_IN_FLIGHT are sent at once, an HTTP 413 splits the request in half, and
retries back off with full jitter inside the invocation's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol

from isal import igzip

from logstream.cluster.port import BulkEndpoint, ClusterError
from logstream.retry import Backoff, Deadline
from logstream.shipping.documents import Document
from logstream.shipping.engine_ids import encode_without_ids

#: Error types that mean "try again later", whatever the HTTP status says.
_RETRYABLE_ERROR_TYPES: Final = frozenset(
    {
        "es_rejected_execution_exception",
        "rejected_execution_exception",
        "circuit_breaking_exception",
        "process_cluster_event_timeout_exception",
        "unavailable_shards_exception",
        "timeout_exception",
    }
)


class ItemOutcome(StrEnum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    REJECTED = "rejected"
    FAILED = "failed"


def classify_item(status: int, error_type: str | None) -> ItemOutcome:
    """What one bulk response item means for its document."""
    if status in (200, 201):
        return ItemOutcome.DELIVERED
    if status == 409:
        return ItemOutcome.DUPLICATE
    if status == 429 or status >= 500 or error_type in _RETRYABLE_ERROR_TYPES:
        return ItemOutcome.RETRY
    if status == 400:
        return ItemOutcome.REJECTED
    # 401/403/404 and the like are about the cluster, not the document:
    # parking the document would hide an outage, so it stays undelivered.
    return ItemOutcome.FAILED


@dataclass(frozen=True, slots=True)
class Rejection:
    document: Document
    status: int
    error_type: str
    reason: str
    error: dict[str, Any]

    @property
    def cause(self) -> dict[str, Any]:
        """The error's ``caused_by`` (where mapping errors name the field), or {}."""
        cause = self.error.get("caused_by")
        return cause if isinstance(cause, dict) else {}


@dataclass(frozen=True, slots=True)
class Undelivered:
    document: Document
    reason: str


@dataclass(slots=True)
class DeliveryReport:
    delivered: list[Document] = field(default_factory=list)
    duplicates: list[Document] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    undelivered: list[Undelivered] = field(default_factory=list)
    retried: int = 0
    requests: int = 0
    splits: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0

    def merge(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.undelivered += other.undelivered
        self.retried += other.retried
        self.requests += other.requests
        self.splits += other.splits
        self.bytes_sent += other.bytes_sent

    @property
    def acknowledged(self) -> list[Document]:
        """Documents the cluster answered for: created, already there, or refused for cause."""
        return self.delivered + self.duplicates + [r.document for r in self.rejected]


class BulkSink(Protocol):
    """Where documents go. One real implementation; tests use the real cluster."""

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport: ...


def encode_bulk_body(documents: Sequence[Document]) -> bytes:
    """NDJSON for ``_bulk``: each document's action line and source line."""
    return b"".join([d.line for d in documents])


def gzip_body(body: bytes, level: int) -> bytes:
    """Gzip with ISA-L (measured fastest here; see benchmarks/bench_decoder.py)."""
    # ISA-L has levels 0..3; map zlib-style 0..9 onto them so settings stay familiar.
    return igzip.compress(body, compresslevel=min(3, level))


def chunk_documents(
    documents: Sequence[Document], max_docs: int, max_bytes: int
) -> Iterator[Sequence[Document]]:
    """Group documents into requests within both bounds, in order."""
    for start in range(0, len(documents), max_docs):
        part = documents[start : start + max_docs]
        # Usually the count is the binding bound: one C-speed sum settles it.
        if sum([len(d.line) for d in part]) <= max_bytes:
            yield part
            continue
        chunk: list[Document] = []
        size = 0
        for document in part:
            length = len(document.line)
            if chunk and size + length > max_bytes:
                yield chunk
                chunk, size = [], 0
            chunk.append(document)
            size += length
        if chunk:
            yield chunk


class ClusterBulkSink:
    """Delivers documents with ``_bulk``, classifying every item of every response."""

    def __init__(
        self,
        cluster: BulkEndpoint,
        *,
        batch_size: int,
        batch_max_bytes: int,
        max_in_flight: int,
        gzip_level: int,
        http_timeout_secs: float,
        backoff: Backoff,
        max_attempts: int = 12,
        client_ids: bool = True,
    ) -> None:
        self._cluster = cluster
        # Capabilities.client_ids: without them, no _id is sent (at-least-once, see engine_ids).
        self._encode = encode_bulk_body if client_ids else encode_without_ids
        self._batch_size = batch_size
        self._batch_max_bytes = batch_max_bytes
        self._max_in_flight = max_in_flight
        self._gzip_level = gzip_level
        self._http_timeout = http_timeout_secs
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._pool: ThreadPoolExecutor | None = None

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        started = time.perf_counter()
        chunks = list(chunk_documents(documents, self._batch_size, self._batch_max_bytes))
        report = DeliveryReport()
        if len(chunks) <= 1 or self._max_in_flight == 1:
            for chunk in chunks:
                report.merge(self._deliver_chunk(chunk, deadline))
        else:
            pool = self._executor()
            for part in pool.map(lambda c: self._deliver_chunk(c, deadline), chunks):
                report.merge(part)
        report.seconds = time.perf_counter() - started
        return report

    def _executor(self) -> ThreadPoolExecutor:
        # One pool per container: threads are reused across invocations.
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_in_flight, thread_name_prefix="bulk")
        return self._pool

    def _deliver_chunk(self, chunk: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        report = DeliveryReport()
        pending = chunk
        attempt = 0
        last_reason = ""
        while pending:
            if attempt >= self._max_attempts:
                break
            if attempt and not self._backoff.wait(attempt - 1, deadline, reserve=0.5):
                break
            timeout = min(self._http_timeout, deadline.remaining())
            if timeout <= 0.5:
                last_reason = "; ".join(
                    filter(None, [last_reason, "no time left before the invocation deadline"])
                )
                break
            attempt += 1
            if attempt > 1:
                report.retried += len(pending)
            body = gzip_body(self._encode(pending), self._gzip_level)
            report.requests += 1
            report.bytes_sent += len(body)
            try:
                response = self._cluster.bulk(body, timeout)
            except ClusterError as error:
                last_reason = str(error)
                if error.status == 413:
                    return self._split_after_413(pending, error, deadline, report)
                if error.retryable:
                    continue
                break
            pending, last_reason = self._sort_items(pending, response, report)
        report.undelivered += [
            Undelivered(doc, last_reason or "retries exhausted") for doc in pending
        ]
        return report

    def _split_after_413(
        self,
        pending: Sequence[Document],
        error: ClusterError,
        deadline: Deadline,
        report: DeliveryReport,
    ) -> DeliveryReport:
        if len(pending) == 1:
            document = pending[0]
            report.rejected.append(
                Rejection(document, 413, "request_entity_too_large", str(error), {})
            )
            return report
        report.splits += 1
        middle = len(pending) // 2
        for half in (pending[:middle], pending[middle:]):
            report.merge(self._deliver_chunk(half, deadline))
        return report

    @staticmethod
    def _sort_items(
        pending: Sequence[Document], response: dict[str, Any], report: DeliveryReport
    ) -> tuple[Sequence[Document], str]:
        items = response.get("items")
        if not isinstance(items, list) or len(items) != len(pending):
            # Without one answer per document nothing can be counted as delivered.
            return pending, f"bulk response had {len(items or [])} items for {len(pending)} docs"
        if response.get("errors") is False:
            # The bulk API's own summary: no item failed, so every one was created.
            report.delivered += pending
            return [], ""
        retry: list[Document] = []
        reason = ""
        for document, item in zip(pending, items, strict=True):
            # The single key is the op name; read whichever it is (create, index...).
            result: dict[str, Any] = next(iter(item.values()))
            status = int(result.get("status", 0))
            raw_error = result.get("error") or {}
            error: dict[str, Any] = (
                raw_error if isinstance(raw_error, dict) else {"reason": str(raw_error)}
            )
            error_type = error.get("type")
            outcome = classify_item(status, error_type)
            if outcome is ItemOutcome.DELIVERED:
                report.delivered.append(document)
            elif outcome is ItemOutcome.DUPLICATE:
                report.duplicates.append(document)
            elif outcome is ItemOutcome.REJECTED:
                report.rejected.append(
                    Rejection(
                        document,
                        status,
                        str(error_type or "unknown"),
                        str(error.get("reason", "")),
                        error,
                    )
                )
            elif outcome is ItemOutcome.RETRY:
                retry.append(document)
                reason = f"item status {status} {error_type or ''}".strip()
            else:
                report.undelivered.append(
                    Undelivered(document, f"item status {status}: {_item_reason(error)}")
                )
        return retry, reason


def _item_reason(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error)
