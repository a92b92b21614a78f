from __future__ import annotations

import random

from logstream.retry import Backoff, Deadline
from logstream.shipping.checkpoints import acknowledged_watermarks
from logstream.shipping.documents import Document


def _doc(stream: str, ts: int) -> Document:
    return Document.from_source(
        index="i", doc_id=f"{stream}-{ts}", timestamp=ts, log_group="g", log_stream=stream,
        source=b"{}",
    )  # fmt: skip


def test_watermark_is_the_newest_acknowledged_time_per_stream() -> None:
    marks = acknowledged_watermarks([_doc("a", 5), _doc("a", 9), _doc("b", 3)], [])
    assert marks == {("g", "a"): 9, ("g", "b"): 3}


def test_watermark_stops_below_the_oldest_undelivered_event() -> None:
    acked = [_doc("a", 1), _doc("a", 4), _doc("a", 7), _doc("b", 8)]
    marks = acknowledged_watermarks(acked, [_doc("a", 5)])
    assert marks == {("g", "a"): 4, ("g", "b"): 8}


def test_no_watermark_when_the_oldest_event_is_undelivered() -> None:
    assert acknowledged_watermarks([_doc("a", 7)], [_doc("a", 2)]) == {}


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    backoff = Backoff(200, 10_000, rng=random.Random(3))
    for attempt in range(12):
        ceiling = min(10_000, 200 * 2**attempt) / 1000
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spans the range, not a constant


def test_backoff_refuses_to_sleep_past_the_deadline() -> None:
    slept: list[float] = []
    backoff = Backoff(10_000, 10_000, rng=random.Random(1), sleep=slept.append)
    assert backoff.wait(0, Deadline.after_seconds(0.01)) is False
    assert slept == []
    assert backoff.wait(0, Deadline.after_seconds(60)) is True
    assert len(slept) == 1


def test_deadline_margin_is_subtracted() -> None:
    deadline = Deadline(lambda: 10_000, margin_ms=3_000)
    assert deadline.remaining() == 7.0
    assert Deadline(lambda: 1_000, margin_ms=3_000).expired
