"""Bulk delivery: NDJSON, gzip request bodies, and an outcome for every document.

Each document ends in exactly one bucket of a
:class:`~logstream.shipping.delivery.DeliveryReport` (what each bucket means is
written there).

Requests are bounded by BATCH_SIZE documents and BATCH_MAX_BYTES, at most
MAX_IN_FLIGHT are sent at once from one shared queue, a request the cluster
refuses whole (HTTP 413 too large, or 400 invalid: an ``_id`` over 512 bytes
fails the whole ``_bulk``) is split in halves down to the document at fault,
which is rejected. Items to retry go back to the queue after a backoff with
full jitter, inside the invocation's deadline, so they never hold up the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from isal import igzip

from logstream.cluster.port import BulkEndpoint, ClusterError
from logstream.retry import Backoff, Deadline
from logstream.shipping.bulk_response import sort_items, whole_request_rejection
from logstream.shipping.delivery import DeliveryReport, Undelivered
from logstream.shipping.documents import Document
from logstream.shipping.engine_ids import encode_without_ids
from logstream.shipping.request_queue import RequestQueue

#: Parts per worker for a payload sent while it is built: equal shares, so the
#: workers finish together. Small parts joined into one big last request would
#: leave the cluster's other write threads idle at the end.
PARTS_PER_WORKER: Final = 3
#: Fewer documents than this are not worth a request of their own while more are coming.
MIN_PART_DOCUMENTS: Final = 500


def balanced_part_size(total: int, workers: int, batch_size: int) -> int:
    """:data:`PARTS_PER_WORKER` equal shares of ``total`` per worker, within
    ``batch_size`` and at least :data:`MIN_PART_DOCUMENTS`."""
    share = -(-total // (workers * PARTS_PER_WORKER))
    return max(1, min(batch_size, max(MIN_PART_DOCUMENTS, share)))


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


@dataclass(slots=True)
class _Request:
    """Documents to send together, how many requests they already took, and why the last failed."""

    documents: list[Document]
    attempt: int = 0
    reason: str = ""
    size: int = 0


class ClusterBulkSink:
    """Delivers documents with ``_bulk``, classifying every item of every response.

    Up to MAX_IN_FLIGHT workers take requests from one :class:`RequestQueue`.
    Items to retry go back to the queue, after their backoff, joined with the
    other retries of the same attempt; a worker never waits on one request's
    backoff while other requests are ready. A whole-request 400 or 413 splits
    the request in halves down to the one document at fault, which is rejected.
    """

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
        clock: Callable[[], float] = time.monotonic,
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
        self._clock = clock
        self._pool: ThreadPoolExecutor | None = None

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        requests = self._requests(documents)
        work = RequestQueue(requests, clock=self._clock, sleep=self._backoff.sleep)
        return self._run(work, min(self._max_in_flight, len(requests)), deadline)

    def stream_part_size(self, total: int) -> int:
        """Documents per part of a payload of ``total`` for :meth:`deliver_stream`."""
        return balanced_part_size(total, self._max_in_flight, self._batch_size)

    def deliver_stream(
        self, parts: Iterable[Sequence[Document]], deadline: Deadline
    ) -> DeliveryReport:
        """Deliver documents while the caller is still producing them.

        ``parts`` is consumed on the calling thread (it builds the documents);
        each part's requests go to the workers as soon as it is out, so the
        cluster indexes the first request while the next is built. Parts go as
        they come, never joined. The report is :meth:`deliver`'s of all parts.
        """
        work: RequestQueue[_Request] = RequestQueue(
            (), clock=self._clock, sleep=self._backoff.sleep, feeding=True
        )
        return self._run(work, self._max_in_flight, deadline, parts)

    def _run(
        self,
        work: RequestQueue[_Request],
        workers: int,
        deadline: Deadline,
        parts: Iterable[Sequence[Document]] | None = None,
    ) -> DeliveryReport:
        """``workers`` send from ``work`` while this thread adds the requests of ``parts``
        (None: everything is queued already)."""
        started = time.perf_counter()
        report = DeliveryReport()
        lock = threading.Lock()
        if workers <= 1 and parts is None:
            # Everything is queued already and one worker suffices: no thread hop.
            self._work(work, deadline, report, lock)
        else:
            pool = self._executor()
            running = [
                pool.submit(self._work, work, deadline, report, lock) for _ in range(workers)
            ]
            try:
                for part in parts or ():
                    work.add(self._requests(part))
            finally:
                # Also when building failed: the workers finish what they hold, then stop.
                work.close()
                for worker in running:
                    worker.result()
        report.seconds = time.perf_counter() - started
        return report

    def _requests(self, documents: Sequence[Document]) -> list[_Request]:
        chunks = chunk_documents(documents, self._batch_size, self._batch_max_bytes)
        return [_Request(list(c), size=_size(c)) for c in chunks]

    def _executor(self) -> ThreadPoolExecutor:
        # One pool per container: threads are reused across invocations.
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_in_flight, thread_name_prefix="bulk")
        return self._pool

    def _work(
        self,
        work: RequestQueue[_Request],
        deadline: Deadline,
        report: DeliveryReport,
        lock: threading.Lock,
    ) -> None:
        while (request := work.take()) is not None:
            try:
                part = self._send(request, work, deadline)
                with lock:
                    report.merge(part)
            finally:
                work.done()

    def _send(
        self, request: _Request, work: RequestQueue[_Request], deadline: Deadline
    ) -> DeliveryReport:
        """One request; what is settled goes into the returned report, the rest back to work."""
        report = DeliveryReport()
        pending = request.documents
        timeout = min(self._http_timeout, deadline.remaining())
        if timeout <= 0.5:
            reason = "; ".join(
                filter(None, [request.reason, "no time left before the invocation deadline"])
            )
            report.undelivered += [Undelivered(doc, reason) for doc in pending]
            return report
        if request.attempt:
            report.retried += len(pending)
        body = gzip_body(self._encode(pending), self._gzip_level)
        report.requests += 1
        report.bytes_sent += len(body)
        try:
            response = self._cluster.bulk(body, timeout)
        except ClusterError as error:
            if error.status in (400, 413) and not error.retryable:
                _narrow(request, error, work, report)
            elif error.retryable:
                self._retry(
                    pending,
                    attempt=request.attempt + 1,
                    reason=str(error),
                    work=work,
                    deadline=deadline,
                    report=report,
                )
            else:
                report.undelivered += [Undelivered(doc, str(error)) for doc in pending]
            return report
        retry, reason = sort_items(pending, response, report)
        if retry:
            self._retry(
                retry,
                attempt=request.attempt + 1,
                reason=reason,
                work=work,
                deadline=deadline,
                report=report,
            )
        return report

    def _retry(
        self,
        documents: list[Document],
        *,
        attempt: int,
        reason: str,
        work: RequestQueue[_Request],
        deadline: Deadline,
        report: DeliveryReport,
    ) -> None:
        """Back to the queue after a backoff, or undelivered when tries or time ran out."""
        if attempt >= self._max_attempts:
            report.undelivered += [Undelivered(d, reason or "retries exhausted") for d in documents]
            return
        pause = self._backoff.delay(attempt - 1)
        if deadline.remaining() < pause + 0.5:
            report.undelivered += [Undelivered(d, reason) for d in documents]
            return
        retry = _Request(documents, attempt, reason, _size(documents))

        def join(waiting: _Request) -> bool:
            if len(waiting.documents) + len(documents) > self._batch_size:
                return False
            if waiting.size + retry.size > self._batch_max_bytes:
                return False
            waiting.documents += documents
            waiting.size += retry.size
            return True

        work.later(retry, self._clock() + pause, key=attempt, join=join)


def _narrow(
    request: _Request,
    error: ClusterError,
    work: RequestQueue[_Request],
    report: DeliveryReport,
) -> None:
    """A request refused whole (413 too large, 400 invalid): halves, down to the culprit.

    A lone document refused whole is rejected with the cluster's reason, so
    it is parked; its neighbours are delivered.
    """
    pending = request.documents
    if len(pending) == 1:
        report.rejected.append(whole_request_rejection(pending[0], error))
        return
    report.splits += 1
    middle = len(pending) // 2
    work.now(_Request(half, size=_size(half)) for half in (pending[:middle], pending[middle:]))


def _size(documents: Sequence[Document]) -> int:
    return sum([len(d.line) for d in documents])
