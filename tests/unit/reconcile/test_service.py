"""The reconciler service: watermarks, manual ranges, missing groups, failures."""

from __future__ import annotations

from logstream.reconcile.report import Status
from logstream.retry import Deadline
from tests.unit.reconcile.fakes import (
    HOUR,
    T0,
    MemoryIndex,
    MemoryState,
    make_events,
    service,
)


def test_service_scheduled_run_advances_watermarks_and_reports_missing_groups() -> None:
    events = make_events([T0 + i * 10_000 for i in range(360)])  # one hour
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events[5:]})
    state = MemoryState()
    now = T0 + 2 * HOUR + 123
    run = service(events, index, state, now).run(["/app/*", "/gone"], Deadline.after_seconds(60))
    by_group = {g.log_group: g for g in run.groups}
    assert by_group["/gone"].status is Status.GROUP_MISSING
    assert by_group["/app/a"].status is Status.REPAIRED
    settled = (now - 900_000) // 300_000 * 300_000
    assert state.marks["/app/a"] == settled == by_group["/app/a"].watermark_after
    assert by_group["/app/a"].start_ms == (now - 86_400_000) // 300_000 * 300_000
    assert len(state.reports) == 3 and not run.failed
    # second run: from the watermark, nothing to re-ship
    again = service(events, index, state, now + 600_000).run(["/app/a"], Deadline.after_seconds(60))
    assert again.groups[0].status in {Status.CLEAN, Status.UP_TO_DATE}
    assert again.groups[0].events_reshipped == 0


def test_service_keeps_the_watermark_when_the_index_is_down() -> None:
    events = make_events([T0 + i * 10_000 for i in range(360)])
    index = MemoryIndex(down=True)
    state = MemoryState()
    state.marks["/app/a"] = T0
    run = service(events, index, state, T0 + 3 * HOUR).run(
        ["/app/a", "/app/b"], Deadline.after_seconds(60)
    )
    assert [g.status for g in run.groups] == [Status.FAILED, Status.FAILED]
    assert "cluster down" in (run.groups[0].error or "")
    assert state.marks == {"/app/a": T0}
    assert len(state.reports) == 2


def test_service_manual_range_moves_the_watermark_only_when_adjoining() -> None:
    events = make_events([T0 + i * 10_000 for i in range(360)])
    index = MemoryIndex({e["id"]: e["timestamp"] for e in events})
    state = MemoryState()
    recon = service(events, index, state, T0 + 5 * HOUR)
    report = recon.run(
        ["/app/a"], Deadline.after_seconds(60), start_ms=T0, end_ms=T0 + HOUR
    ).groups[0]
    assert report.status is Status.CLEAN and "/app/a" not in state.marks  # no watermark yet
    state.marks["/app/a"] = T0 + HOUR
    recon.run(["/app/a"], Deadline.after_seconds(60), start_ms=T0, end_ms=T0 + 2 * HOUR)
    assert state.marks["/app/a"] == T0 + 2 * HOUR
    clipped = recon.run(["/app/a"], Deadline.after_seconds(60), start_ms=T0, end_ms=T0 + 9 * HOUR)
    assert clipped.groups[0].end_ms == T0 + 5 * HOUR - 900_000
    assert any("clipped" in note for note in clipped.groups[0].notes)
