"""Pipelining: a payload goes to the cluster a part at a time while later parts are built.

The cluster here is scripted per document id (which request arrives first is
up to the threads), and gated with events where the order of answers
matters, so no test depends on how fast anything runs.
"""

from __future__ import annotations

import gzip
import random
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import pytest

from logstream.cluster.port import ClusterError
from logstream.retry import Backoff, Deadline
from logstream.shipping.bulk import MIN_PART_DOCUMENTS, PARTS_PER_WORKER, ClusterBulkSink
from logstream.shipping.checkpoints import LiveCheckpoints, StreamKey
from logstream.shipping.documents import (
    Document,
    DocumentBatch,
    EventOrigin,
    build_documents,
    build_in_parts,
)
from logstream.shipping.parking import Parking
from logstream.shipping.request_queue import RequestQueue
from logstream.shipping.service import PART_EVENTS, DeliveryIncomplete, Shipper

#: How long a test waits for another thread before it fails (never reached when it works).
PATIENCE = 30

T0 = 1_764_000_000_000
ORIGIN = EventOrigin(log_group="/app/api", log_stream="s1", owner="123456789012", region="r")


def _events(n: int) -> list[dict[str, Any]]:
    return [{"id": f"e{i:03d}", "timestamp": T0 + i, "message": f"line {i}"} for i in range(n)]


def _doc_ids(events: Sequence[dict[str, Any]]) -> set[str]:
    built = build_documents(events, ORIGIN, "logs")
    return {d.doc_id for d in built.documents}


class ScriptedCluster:
    """Answers ``_bulk`` per document: ``refuse(ids)`` returns an error to raise, or None.

    ``hold(ids)`` returns an event to wait for before answering (or None).
    """

    def __init__(
        self,
        refuse: Callable[[list[str]], ClusterError | None] = lambda _ids: None,
        hold: Callable[[list[str]], threading.Event | None] = lambda _ids: None,
    ) -> None:
        self._refuse = refuse
        self._hold = hold
        self._lock = threading.Lock()
        self.requests: list[list[str]] = []
        self.answered: list[list[str]] = []
        self.first_request = threading.Event()

    def bulk(self, gzipped_body: bytes, timeout: float) -> dict[str, Any]:
        lines = gzip.decompress(gzipped_body).splitlines()
        ids = [next(iter(orjson.loads(line).values()))["_id"] for line in lines[::2]]
        with self._lock:
            self.requests.append(ids)
        self.first_request.set()
        gate = self._hold(ids)
        if gate is not None:
            assert gate.wait(PATIENCE), "the request held back was never released"
        error = self._refuse(ids)
        with self._lock:
            self.answered.append(ids)
        if error is not None:
            raise error
        return {"errors": False, "items": [{"create": {"status": 201}} for _ in ids]}


def _sink(cluster: ScriptedCluster, *, batch_size: int, max_in_flight: int = 2) -> ClusterBulkSink:
    return ClusterBulkSink(
        cluster,
        batch_size=batch_size,
        batch_max_bytes=1024 * 1024,
        max_in_flight=max_in_flight,
        gzip_level=1,
        http_timeout_secs=5,
        backoff=Backoff(1, 4, rng=random.Random(1), sleep=lambda _: None),
    )


class RecordingStore:
    """A checkpoint store that remembers each settle and what the cluster had answered by then."""

    def __init__(self, cluster: ScriptedCluster) -> None:
        self.cluster = cluster
        self.settled: list[tuple[dict[StreamKey, int], dict[StreamKey, int]]] = []
        self.answered_at_settle: list[int] = []

    def settle(
        self,
        batch: str,
        marks: Mapping[StreamKey, int],
        floors: Mapping[StreamKey, int],
        deadline: Deadline,
    ) -> int:
        self.settled.append((dict(marks), dict(floors)))
        self.answered_at_settle.append(len(self.cluster.answered))
        return len(marks)

    def get(self, log_group: str, log_stream: str) -> int | None:
        return None


def _shipper(sink: ClusterBulkSink, *, part_size: int) -> Shipper:
    return Shipper(
        sink,
        Parking(sink, "logs-quarantine", rescue=None),
        index_prefix="logs",
        region="r",
        part_size=part_size,
    )


STREAM = (ORIGIN.log_group, ORIGIN.log_stream)


def test_the_first_part_is_on_the_wire_before_the_next_one_is_built() -> None:
    cluster = ScriptedCluster()
    sink = _sink(cluster, batch_size=3)
    events = _events(6)

    def parts() -> Iterator[list[Document]]:
        yield build_documents(events[:3], ORIGIN, "logs").documents
        # The workers take part 1 while this thread has not started on part 2.
        assert cluster.first_request.wait(PATIENCE), "part 1 waited for part 2"
        yield build_documents(events[3:], ORIGIN, "logs", start=3).documents

    report = sink.deliver_stream(parts(), Deadline.after_seconds(60))
    assert {d.doc_id for d in report.delivered} == _doc_ids(events)
    assert report.requests == 2
    assert sorted(len(r) for r in cluster.requests) == [3, 3]


def test_parts_built_in_turn_are_the_batch_one_pass_builds() -> None:
    events: list[Any] = _events(7)
    events[1] = {"timestamp": T0, "message": "no id"}
    events[5] = "not an event"
    events[6]["message"] = ""
    whole = build_documents(events, ORIGIN, "logs")
    gathered = DocumentBatch()
    parts = list(build_in_parts(events, ORIGIN, "logs", part_size=2, into=gathered))

    assert [len(p) for p in parts] == [1, 2, 1, 1]
    assert [d.line for p in parts for d in p] == [d.line for d in whole.documents]
    assert [d.line for d in gathered.documents] == [d.line for d in whole.documents]
    # Positions are the event's place in the whole payload, not in its part.
    assert (
        [b.position for b in gathered.bad_events]
        == [1, 5]
        == [b.position for b in whole.bad_events]
    )
    assert gathered.empty_messages == whole.empty_messages == 1


def test_a_failure_in_part_two_keeps_part_one_delivered_and_the_watermark_below_it() -> None:
    events = _events(6)
    part_two = {d.doc_id for d in build_documents(events[3:], ORIGIN, "logs").documents}

    def refuse(ids: list[str]) -> ClusterError | None:
        if part_two & set(ids):
            return ClusterError(403, "cluster_block_exception: read-only", retryable=False)
        return None

    cluster = ScriptedCluster(refuse=refuse)
    store = RecordingStore(cluster)
    shipper = _shipper(_sink(cluster, batch_size=3), part_size=3)

    with pytest.raises(DeliveryIncomplete) as failed:
        shipper.ship_events(
            events,
            ORIGIN,
            Deadline.after_seconds(60),
            checkpoints=LiveCheckpoints(store, "batch-1"),
        )
    report = failed.value.report
    assert (report.delivered, report.undelivered) == (3, 3)
    # The watermark covers part 1 only; part 2's oldest event holds the floor.
    assert store.settled == [({STREAM: T0 + 2}, {STREAM: T0 + 3})]
    assert store.answered_at_settle == [2]


def test_part_two_answered_first_moves_no_watermark_while_part_one_fails() -> None:
    events = _events(6)
    part_one = {d.doc_id for d in build_documents(events[:3], ORIGIN, "logs").documents}
    part_two_answered = threading.Event()
    order: list[str] = []

    def hold(ids: list[str]) -> threading.Event | None:
        return part_two_answered if part_one & set(ids) else None

    def refuse(ids: list[str]) -> ClusterError | None:
        if part_one & set(ids):
            order.append("part 1")
            return ClusterError(403, "cluster_block_exception: read-only", retryable=False)
        order.append("part 2")
        part_two_answered.set()
        return None

    cluster = ScriptedCluster(refuse=refuse, hold=hold)
    store = RecordingStore(cluster)
    shipper = _shipper(_sink(cluster, batch_size=3, max_in_flight=2), part_size=3)

    with pytest.raises(DeliveryIncomplete) as failed:
        shipper.ship_events(
            events,
            ORIGIN,
            Deadline.after_seconds(60),
            checkpoints=LiveCheckpoints(store, "batch-1"),
        )
    assert order == ["part 2", "part 1"]
    assert (failed.value.report.delivered, failed.value.report.undelivered) == (3, 3)
    # Part 2 is in, but its events are newer than part 1's undelivered ones: no watermark.
    assert store.settled == [({}, {STREAM: T0})]
    assert store.answered_at_settle == [2]


def test_a_request_refused_whole_in_part_two_narrows_to_its_culprit() -> None:
    events = _events(8)
    culprit = build_documents(events[6:7], ORIGIN, "logs").documents[0].doc_id

    def refuse(ids: list[str]) -> ClusterError | None:
        if culprit in ids:
            return ClusterError(413, "request_entity_too_large", retryable=False)
        return None

    cluster = ScriptedCluster(refuse=refuse)
    report = _sink(cluster, batch_size=4).deliver_stream(
        (p for p in _parts_of(events, 4)), Deadline.after_seconds(60)
    )
    assert [r.document.doc_id for r in report.rejected] == [culprit]
    assert {d.doc_id for d in report.delivered} == _doc_ids(events) - {culprit}
    assert report.splits == 2


def _parts_of(events: list[dict[str, Any]], size: int) -> Iterator[list[Document]]:
    return build_in_parts(events, ORIGIN, "logs", part_size=size, into=DocumentBatch())


def test_the_deadline_reached_mid_pipeline_leaves_later_parts_undelivered() -> None:
    events = _events(6)
    remaining_ms = [60_000]
    deadline = Deadline(lambda: remaining_ms[0])
    cluster = ScriptedCluster()
    store = RecordingStore(cluster)
    shipper = _shipper(_sink(cluster, batch_size=3), part_size=3)
    pulled = 0

    def events_running_out() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for number, event in enumerate(events):
            if number == 3:
                # Part 1 is out; the invocation's time runs out while part 2 is built.
                assert cluster.first_request.wait(PATIENCE)
                remaining_ms[0] = 0
            pulled += 1
            yield event

    with pytest.raises(DeliveryIncomplete) as failed:
        shipper.ship_events(
            events_running_out(), ORIGIN, deadline, checkpoints=LiveCheckpoints(store, "b")
        )
    assert pulled == 6
    assert (failed.value.report.delivered, failed.value.report.undelivered) == (3, 3)
    assert "no time left before the invocation deadline" in str(failed.value)
    assert len(cluster.requests) == 1
    assert store.settled == [({STREAM: T0 + 2}, {STREAM: T0 + 3})]


def test_a_part_that_fails_to_build_stops_the_pipeline_after_what_was_sent() -> None:
    cluster = ScriptedCluster()
    sink = _sink(cluster, batch_size=3)
    events = _events(3)

    def parts() -> Iterator[list[Document]]:
        yield from _parts_of(events, 3)
        assert cluster.first_request.wait(PATIENCE)
        raise RuntimeError("building part 2 failed")

    with pytest.raises(RuntimeError, match="part 2"):
        sink.deliver_stream(parts(), Deadline.after_seconds(60))
    assert cluster.answered == [sorted(_doc_ids(events))]
    # No worker is left waiting for parts: the same sink delivers again.
    again = sink.deliver_stream(_parts_of(_events(4), 3), Deadline.after_seconds(60))
    assert len(again.delivered) == 4


def test_a_feeding_queue_keeps_its_workers_until_closed() -> None:
    work: RequestQueue[str] = RequestQueue(
        (), clock=lambda: 0.0, sleep=lambda _: None, feeding=True
    )
    taken: list[str | None] = []

    def worker() -> None:
        while (item := work.take()) is not None:
            taken.append(item)
            work.done()
        taken.append(None)

    thread = threading.Thread(target=worker)
    thread.start()
    work.add(["a", "b"])
    work.add(["c"])
    work.close()
    thread.join(PATIENCE)
    assert not thread.is_alive()
    assert taken == ["a", "b", "c", None]


def test_parts_are_sent_as_built_and_never_joined_into_one_big_last_request() -> None:
    events = _events(8)
    all_added = threading.Event()
    first = {d.doc_id for d in build_documents(events[:2], ORIGIN, "logs").documents}

    def hold(ids: list[str]) -> threading.Event | None:
        return all_added if first & set(ids) else None

    def parts() -> Iterator[list[Document]]:
        for number, part in enumerate(_parts_of(events, 2)):
            yield part
            if number == 0:
                assert cluster.first_request.wait(PATIENCE)
        all_added.set()  # runs once the last part is queued

    cluster = ScriptedCluster(hold=hold)
    report = _sink(cluster, batch_size=6, max_in_flight=1).deliver_stream(
        parts(), Deadline.after_seconds(60)
    )
    # Parts 2-4 piled up behind part 1; each still went alone, as built.
    assert [len(r) for r in cluster.requests] == [2, 2, 2, 2]
    assert {d.doc_id for d in report.delivered} == _doc_ids(events)
    assert report.requests == 4


@pytest.mark.parametrize(
    ("total", "batch_size", "max_in_flight", "expected"),
    [
        # Equal shares, PARTS_PER_WORKER per worker, at least MIN_PART_DOCUMENTS...
        (10_000, 5_000, 2, -(-10_000 // (2 * PARTS_PER_WORKER))),
        (10_000, 5_000, 4, -(-10_000 // (4 * PARTS_PER_WORKER))),
        (1_000, 5_000, 2, MIN_PART_DOCUMENTS),
        # ...and never more than BATCH_SIZE.
        (100_000, 5_000, 2, 5_000),
        (10_000, 100, 2, 100),
        (0, 5_000, 2, MIN_PART_DOCUMENTS),
    ],
)
def test_the_sink_sizes_parts_as_equal_shares_for_its_workers(
    total: int, batch_size: int, max_in_flight: int, expected: int
) -> None:
    sink = _sink(ScriptedCluster(), batch_size=batch_size, max_in_flight=max_in_flight)
    assert sink.stream_part_size(total) == expected


def test_the_shipper_sizes_parts_by_the_payload_so_each_worker_gets_an_equal_share() -> None:
    total = 2 * PARTS_PER_WORKER * MIN_PART_DOCUMENTS + 7
    events = _events(total)
    cluster = ScriptedCluster()
    sink = _sink(cluster, batch_size=10_000, max_in_flight=2)
    shipper = Shipper(
        sink, Parking(sink, "logs-quarantine", rescue=None), index_prefix="logs", region="r"
    )
    report = shipper.ship_events(events, ORIGIN, Deadline.after_seconds(60))
    assert report.delivered == total
    share = sink.stream_part_size(total)
    sizes = sorted((len(r) for r in cluster.requests), reverse=True)
    assert sizes == [share] * (total // share) + [total % share]
    assert len(sizes) == 2 * PARTS_PER_WORKER


def test_events_without_a_length_go_part_events_at_a_time() -> None:
    events = _events(PART_EVENTS + 3)
    cluster = ScriptedCluster()
    sink = _sink(cluster, batch_size=10_000, max_in_flight=2)
    shipper = Shipper(
        sink, Parking(sink, "logs-quarantine", rescue=None), index_prefix="logs", region="r"
    )
    report = shipper.ship_events(iter(events), ORIGIN, Deadline.after_seconds(60))
    assert report.delivered == len(events)
    assert sorted(len(r) for r in cluster.requests) == [3, PART_EVENTS]


class _Marker:
    """An object whose end a test can observe (plain dicts and documents take no weakref)."""


def test_a_delivery_is_freed_while_the_next_one_waits_for_its_answers() -> None:
    """Freeing 10,000 events and documents costs milliseconds: not after the last answer."""
    first, second = _events(4), _events(8)[4:]
    first[0]["marker"] = _Marker()
    freed = threading.Event()
    weakref.finalize(first[0]["marker"], freed.set)
    second_ids = _doc_ids(second)

    def hold(ids: list[str]) -> threading.Event | None:
        if second_ids & set(ids):
            # Answers to the next delivery wait until the first one is gone.
            assert freed.wait(PATIENCE), "the last delivery was not freed while waiting"
        return None

    cluster = ScriptedCluster(hold=hold)
    shipper = _shipper(_sink(cluster, batch_size=10), part_size=10)
    shipper.ship_events(first, ORIGIN, Deadline.after_seconds(60))
    del first
    assert not freed.is_set(), "freed as the call returned, after the last answer"

    report = shipper.ship_events(second, ORIGIN, Deadline.after_seconds(60))
    assert report.delivered == 4
    assert freed.is_set()
