"""Stored reconciliation reports, shaped exactly as the reconciler stores them
(GroupReport.as_dict), for three groups over three days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from logstream.reconcile.report import GroupReport, Status
from logstream.report.ledger import day_start_ms
from logstream.times import iso

DAYS = (date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22))
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
D20, D21, D22 = (day_start_ms(d) for d in DAYS)
HOUR = 3_600_000


def report(
    group: str,
    start: int,
    end: int,
    *,
    status: Status = Status.CLEAN,
    proven: int | None = None,
    source: int = 0,
    index: int | None = None,
    gaps: list[dict[str, Any]] | None = None,
    reshipped: int = 0,
    still_missing: int = 0,
) -> dict[str, Any]:
    g = GroupReport(group, iso(end + 15 * 60_000), status, start_ms=start, end_ms=end)
    g.proven_through = end if proven is None else proven
    g.events_in_source = source
    g.events_in_index = source if index is None else index
    g.gaps = gaps or []
    g.gaps_found = len(g.gaps)
    g.events_reshipped = reshipped
    g.events_still_missing = still_missing
    return g.as_dict()


def gap(start: int, missing: int, still_missing: int = 0) -> dict[str, Any]:
    return {
        "start_ms": start,
        "end_ms": start + 1000,
        "missing": missing,
        "still_missing": still_missing,
        "event_ids": [],
    }


CLEAN = "/aws/lambda/clean-api"
GAPPY = "/ecs/payments"
NEW = "/aws/lambda/brand-new"

REPORTS: dict[str, list[dict[str, Any]]] = {
    # Two whole days proven clean in one run each; the 22nd proven to 12:00 only.
    CLEAN: [
        report(CLEAN, D20, D21, source=1200),
        report(CLEAN, D21, D22, source=1300),
        report(CLEAN, D22, D22 + 12 * HOUR, source=500),
    ],
    # The 20th: a gap re-shipped. The 21st: a gap the cluster refused to take back.
    GAPPY: [
        report(
            GAPPY,
            D20,
            D21,
            source=900,
            index=880,
            gaps=[gap(D20 + HOUR, 20)],
            status=Status.REPAIRED,
            reshipped=20,
        ),
        report(
            GAPPY,
            D21,
            D21 + 6 * HOUR,
            source=400,
            index=397,
            proven=D21 + 5 * HOUR,
            gaps=[gap(D21 + 5 * HOUR, 3, still_missing=3)],
            status=Status.GAPS_OPEN,
            still_missing=3,
        ),
    ],
    NEW: [],
}
QUARANTINE = {GAPPY: {"rejected_document: mapper_parsing_exception": 4, "bad_event": 1}}
