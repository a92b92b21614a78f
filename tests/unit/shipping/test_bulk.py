"""The bulk sink's bookkeeping, driven by scripted cluster answers.

The real cluster (tests/integration) shows the same paths end to end; here a
scripted poster reaches the corners a real cluster will not produce on cue.
"""

from __future__ import annotations

import gzip
import random
import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from logstream.cluster.port import ClusterError
from logstream.retry import Backoff, Deadline
from logstream.shipping.bulk import ClusterBulkSink, chunk_documents, encode_bulk_body
from logstream.shipping.bulk_response import ItemOutcome, classify_item, sort_items
from logstream.shipping.delivery import DeliveryReport
from logstream.shipping.documents import Document

Answer = Callable[[list[dict[str, Any]]], dict[str, Any]]


def _docs(n: int) -> list[Document]:
    return [
        Document.from_source(
            index=f"logs-g-2026.11.{1 + i % 2:02d}",
            doc_id=f"id-{i}",
            timestamp=i,
            log_group="g",
            log_stream="s",
            source=b'{"n":%d}' % i,
        )
        for i in range(n)
    ]


class ScriptedCluster:
    """Parses each gzip body and answers with the next scripted reply."""

    def __init__(self, *answers: Answer | ClusterError) -> None:
        self.answers = list(answers)
        self.requests: list[list[dict[str, Any]]] = []

    def bulk(self, gzipped_body: bytes, timeout: float) -> dict[str, Any]:
        lines = gzip.decompress(gzipped_body).splitlines()
        actions = [orjson.loads(line) for line in lines[::2]]
        self.requests.append(actions)
        answer = self.answers.pop(0) if self.answers else all_created
        if isinstance(answer, ClusterError):
            raise answer
        return answer(actions)


def all_created(actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"errors": False, "items": [{"create": {"status": 201}} for _ in actions]}


def statuses(*codes: int, error_type: str = "mapper_parsing_exception") -> Answer:
    def answer(actions: list[dict[str, Any]]) -> dict[str, Any]:
        items = []
        for i, _ in enumerate(actions):
            code = codes[i % len(codes)]
            body: dict[str, Any] = {"status": code}
            if code >= 300:
                body["error"] = {
                    "type": error_type if code == 400 else "es_rejected_execution_exception",
                    "reason": f"status {code}",
                }
            items.append({"create": body})
        return {"errors": any(code >= 300 for code in codes), "items": items}

    return answer


def _sink(
    cluster: ScriptedCluster, *, batch_size: int = 100, max_in_flight: int = 1
) -> ClusterBulkSink:
    return ClusterBulkSink(
        cluster,
        batch_size=batch_size,
        batch_max_bytes=1024 * 1024,
        max_in_flight=max_in_flight,
        gzip_level=1,
        http_timeout_secs=5,
        backoff=Backoff(1, 4, rng=random.Random(1), sleep=lambda _: None),
    )


@pytest.mark.parametrize(
    ("status", "error_type", "outcome"),
    [
        (201, None, ItemOutcome.DELIVERED),
        (200, None, ItemOutcome.DELIVERED),
        (409, "version_conflict_engine_exception", ItemOutcome.DUPLICATE),
        (429, "es_rejected_execution_exception", ItemOutcome.RETRY),
        (503, "unavailable_shards_exception", ItemOutcome.RETRY),
        (400, "es_rejected_execution_exception", ItemOutcome.RETRY),
        (400, "mapper_parsing_exception", ItemOutcome.REJECTED),
        (400, "document_parsing_exception", ItemOutcome.REJECTED),
        (403, "cluster_block_exception", ItemOutcome.FAILED),
        (404, "index_not_found_exception", ItemOutcome.FAILED),
    ],
)
def test_item_classification(status: int, error_type: str | None, outcome: ItemOutcome) -> None:
    assert classify_item(status, error_type) is outcome


def test_body_is_ndjson_with_create_actions_and_the_event_id() -> None:
    body = encode_bulk_body(_docs(2))
    lines = body.splitlines()
    assert orjson.loads(lines[0]) == {"create": {"_index": "logs-g-2026.11.01", "_id": "id-0"}}
    assert orjson.loads(lines[1]) == {"n": 0}
    assert body.endswith(b"\n")


def test_chunks_respect_document_and_byte_bounds() -> None:
    docs = _docs(250)
    assert [len(c) for c in chunk_documents(docs, 100, 10**9)] == [100, 100, 50]
    line = len(encode_bulk_body(docs[:1]))
    assert all(len(c) <= 3 for c in chunk_documents(docs, 100, 3 * line + 2))


def test_byte_bound_splits_keep_every_document_in_order() -> None:
    docs = _docs(250)
    line = len(docs[0].line)
    chunks = list(chunk_documents(docs, 100, 7 * line))
    assert [d for chunk in chunks for d in chunk] == docs
    assert all(len(encode_bulk_body(c)) <= 7 * line for c in chunks)
    # A document larger than the byte bound still goes, alone in its request.
    assert [len(c) for c in chunk_documents(docs[:3], 100, 1)] == [1, 1, 1]


def test_every_item_outcome_lands_in_its_bucket() -> None:
    cluster = ScriptedCluster(statuses(201, 409, 400, 429), statuses(201))
    report = _sink(cluster).deliver(_docs(8), Deadline.after_seconds(30))
    assert len(report.delivered) == 2 + 2  # two at once, the two 429s on retry
    assert len(report.duplicates) == 2
    assert [r.error_type for r in report.rejected] == ["mapper_parsing_exception"] * 2
    assert report.undelivered == []
    assert report.retried == 2
    assert [len(r) for r in cluster.requests] == [8, 2]


def test_a_413_splits_the_request_until_it_fits() -> None:
    too_large = ClusterError(413, "request entity too large", retryable=False)
    cluster = ScriptedCluster(too_large, too_large)
    report = _sink(cluster).deliver(_docs(8), Deadline.after_seconds(30))
    assert len(report.delivered) == 8
    assert report.splits == 2
    assert [len(r) for r in cluster.requests] == [8, 4, 2, 2, 4]


def test_a_lone_document_too_large_is_rejected_not_lost() -> None:
    too_large = ClusterError(413, "request entity too large", retryable=False)
    report = _sink(ScriptedCluster(too_large)).deliver(_docs(1), Deadline.after_seconds(30))
    assert [r.error_type for r in report.rejected] == ["request_entity_too_large"]


def test_whole_request_429s_are_retried() -> None:
    busy = ClusterError(429, "too many requests", retryable=True)
    cluster = ScriptedCluster(busy, busy, busy)
    report = _sink(cluster).deliver(_docs(5), Deadline.after_seconds(30))
    assert len(report.delivered) == 5
    assert report.requests == 4


def test_what_is_still_failing_after_the_last_retry_is_undelivered() -> None:
    cluster = ScriptedCluster(*[statuses(429)] * 100)
    report = _sink(cluster).deliver(_docs(3), Deadline.after_seconds(30))
    assert len(report.undelivered) == 3
    assert report.delivered == []
    assert "429" in report.undelivered[0].reason
    assert len(cluster.requests) == 12


def test_nothing_is_sent_without_time_left() -> None:
    cluster = ScriptedCluster()
    report = _sink(cluster).deliver(_docs(3), Deadline.after_seconds(0.2))
    assert len(report.undelivered) == 3
    assert "deadline" in report.undelivered[0].reason
    assert cluster.requests == []


def test_auth_failures_are_not_retried_and_not_parked() -> None:
    denied = ClusterError(403, "security_exception: no permissions", retryable=False)
    cluster = ScriptedCluster(denied)
    report = _sink(cluster).deliver(_docs(3), Deadline.after_seconds(30))
    assert len(report.undelivered) == 3
    assert report.rejected == []
    assert len(cluster.requests) == 1


def test_a_short_response_counts_nothing_as_delivered() -> None:
    cluster = ScriptedCluster(lambda actions: {"items": []}, all_created)
    report = _sink(cluster).deliver(_docs(4), Deadline.after_seconds(30))
    assert len(report.delivered) == 4
    assert len(cluster.requests) == 2


def test_requests_run_in_parallel_up_to_max_in_flight() -> None:
    cluster = ScriptedCluster()
    report = _sink(cluster, batch_size=10, max_in_flight=3).deliver(
        _docs(95), Deadline.after_seconds(30)
    )
    assert len(report.delivered) == 95
    assert sorted(len(r) for r in cluster.requests) == [5] + [10] * 9


class FakeClock:
    """Time that passes only when a request is made (1 s each) or a backoff sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def deadline(self, budget: float) -> Deadline:
        return Deadline(lambda: int((budget - self.now) * 1000))


class StuckItems(ScriptedCluster):
    """Answers 429 for a few ids, every time; creates everything else. Each request costs 1 s."""

    def __init__(self, stuck: set[str], clock: FakeClock) -> None:
        super().__init__()
        self.stuck = stuck
        self.clock = clock
        self._lock = threading.Lock()

    def bulk(self, gzipped_body: bytes, timeout: float) -> dict[str, Any]:
        lines = gzip.decompress(gzipped_body).splitlines()
        actions = [orjson.loads(line) for line in lines[::2]]
        with self._lock:
            self.requests.append(actions)
        self.clock.advance(1.0)
        items = [
            {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}}
            if a["create"]["_id"] in self.stuck
            else {"create": {"status": 201}}
            for a in actions
        ]
        return {"errors": True, "items": items}


def test_items_that_keep_answering_429_do_not_hold_up_the_rest() -> None:
    clock = FakeClock()
    docs = _docs(200)
    stuck = {f"id-{i}" for i in range(0, 200, 20)}  # one per request of 20
    cluster = StuckItems(stuck, clock)
    sink = ClusterBulkSink(
        cluster,
        batch_size=20,
        batch_max_bytes=1024 * 1024,
        max_in_flight=2,
        gzip_level=1,
        http_timeout_secs=5,
        backoff=Backoff(100, 1000, rng=random.Random(1), sleep=clock.advance),
        clock=lambda: clock.now,
    )
    # 10 requests' worth of time, plus a little: no room for any request to retry in place.
    report = sink.deliver(docs, clock.deadline(16))
    assert {d.doc_id for d in report.delivered} == {d.doc_id for d in docs} - stuck
    assert {u.document.doc_id for u in report.undelivered} == stuck
    assert "429" in report.undelivered[0].reason
    # The stuck items were retried together, not one request per original chunk.
    retries = [r for r in cluster.requests if all(a["create"]["_id"] in stuck for a in r)]
    assert max(len(r) for r in retries) > 1


def test_every_document_ends_in_exactly_one_bucket_under_concurrency() -> None:
    answers = [statuses(201, 429, 409, 400, 503)] * 30
    cluster = ScriptedCluster(*answers)
    docs = _docs(300)
    report = _sink(cluster, batch_size=7, max_in_flight=4).deliver(docs, Deadline.after_seconds(30))
    buckets = (
        report.delivered
        + report.duplicates
        + [r.document for r in report.rejected]
        + [u.document for u in report.undelivered]
    )
    assert sorted(d.doc_id for d in buckets) == sorted(d.doc_id for d in docs)


def test_a_whole_request_400_is_narrowed_down_to_the_document_at_fault() -> None:
    bad = "id-5"

    def refuse_the_bad_id(actions: list[dict[str, Any]]) -> dict[str, Any]:
        if any(a["create"]["_id"] == bad for a in actions):
            raise ClusterError(
                400,
                "action_request_validation_exception: Validation Failed: 1: id is too long",
                retryable=False,
            )
        return all_created(actions)

    class Refusing(ScriptedCluster):
        def bulk(self, gzipped_body: bytes, timeout: float) -> dict[str, Any]:
            lines = gzip.decompress(gzipped_body).splitlines()
            actions = [orjson.loads(line) for line in lines[::2]]
            self.requests.append(actions)
            return refuse_the_bad_id(actions)

    cluster = Refusing()
    report = _sink(cluster).deliver(_docs(8), Deadline.after_seconds(30))
    assert sorted(d.doc_id for d in report.delivered) == [f"id-{i}" for i in range(8) if i != 5]
    assert [r.document.doc_id for r in report.rejected] == [bad]
    rejection = report.rejected[0]
    assert (rejection.status, rejection.error_type) == (400, "action_request_validation_exception")
    assert "too long" in rejection.reason
    assert report.undelivered == []
    assert [len(r) for r in cluster.requests] == [8, 4, 4, 2, 1, 1, 2]


@pytest.mark.parametrize(
    ("response", "delivered", "retried"),
    [
        # The transport's count of an answer in which nothing failed.
        ({"errors": False, "item_count": 3}, 3, 0),
        # One item short, or an item count without items when something failed: nothing counts.
        ({"errors": False, "item_count": 2}, 0, 3),
        ({"errors": True, "item_count": 3}, 0, 3),
        ({"errors": False, "items": [{"create": {"status": 201}}] * 3}, 3, 0),
        ({"errors": False, "items": [{"create": {"status": 201}}] * 4}, 0, 3),
    ],
)
def test_an_answer_counts_only_with_one_item_per_document(
    response: dict[str, Any], delivered: int, retried: int
) -> None:
    report = DeliveryReport()
    retry, reason = sort_items(_docs(3), response, report)
    assert (len(report.delivered), len(retry)) == (delivered, retried)
    assert bool(reason) == bool(retried)
