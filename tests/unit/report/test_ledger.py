"""The ledger: each group's days verified, gap repaired, gap open or pending, with counts."""

from __future__ import annotations

from datetime import date

from logstream.reconcile.report import Status
from logstream.report.ledger import DayState, build_ledger, last_days
from tests.unit.report.fixtures import (
    CLEAN,
    D20,
    D21,
    D22,
    DAYS,
    GAPPY,
    HOUR,
    NEW,
    NOW,
    QUARANTINE,
    REPORTS,
    gap,
    report,
)


def test_days_are_verified_repaired_open_or_pending() -> None:
    ledger = build_ledger(REPORTS, QUARANTINE, DAYS, NOW)
    states = {(g, d): ledger.cell(g, d).state for g in ledger.groups for d in ledger.days}
    assert states == {
        (CLEAN, DAYS[0]): DayState.VERIFIED,
        (CLEAN, DAYS[1]): DayState.VERIFIED,
        (CLEAN, DAYS[2]): DayState.PENDING,  # proven to 12:00 only
        (GAPPY, DAYS[0]): DayState.GAP_REPAIRED,
        (GAPPY, DAYS[1]): DayState.GAP_OPEN,
        (GAPPY, DAYS[2]): DayState.PENDING,
        (NEW, DAYS[0]): DayState.PENDING,
        (NEW, DAYS[1]): DayState.PENDING,
        (NEW, DAYS[2]): DayState.PENDING,
    }
    assert ledger.groups == tuple(sorted([CLEAN, GAPPY, NEW]))
    assert ledger.totals() == {
        DayState.VERIFIED: 2,
        DayState.GAP_REPAIRED: 1,
        DayState.GAP_OPEN: 1,
        DayState.PENDING: 5,
    }


def test_counts_of_both_sides_are_filed_under_the_day_a_report_starts() -> None:
    ledger = build_ledger(REPORTS, QUARANTINE, DAYS, NOW)
    repaired = ledger.cell(GAPPY, DAYS[0])
    assert (repaired.source_events, repaired.index_events) == (900, 880)
    assert (repaired.events_reshipped, repaired.gaps_found, repaired.gaps_open) == (20, 1, 0)
    opened = ledger.cell(GAPPY, DAYS[1])
    assert (opened.source_events, opened.index_events, opened.events_still_missing) == (400, 397, 3)
    assert (opened.gaps_found, opened.gaps_open, opened.proven_ms) == (1, 1, 5 * HOUR)
    clean = ledger.cell(CLEAN, DAYS[2])
    assert (clean.source_events, clean.proven_ms, clean.runs) == (500, 12 * HOUR, 1)
    assert ledger.cell(NEW, DAYS[0]).runs == 0


def test_an_open_gap_a_later_run_proves_again_is_repaired() -> None:
    reports = {
        GAPPY: [
            *REPORTS[GAPPY],
            report(
                GAPPY,
                D21,
                D22,
                source=1000,
                gaps=[gap(D21 + 5 * HOUR, 3)],
                status=Status.REPAIRED,
                reshipped=3,
            ),
        ]
    }
    ledger = build_ledger(reports, {}, DAYS, NOW)
    assert ledger.cell(GAPPY, DAYS[1]).state == DayState.GAP_REPAIRED
    assert ledger.cell(GAPPY, DAYS[1]).gaps_open == 0


def test_a_run_over_several_days_says_how_far_its_counts_reach() -> None:
    reports = {CLEAN: [report(CLEAN, D20, D22, source=2500)]}
    ledger = build_ledger(reports, {}, DAYS, NOW)
    first, second = ledger.cell(CLEAN, DAYS[0]), ledger.cell(CLEAN, DAYS[1])
    assert (first.state, second.state) == (DayState.VERIFIED, DayState.VERIFIED)
    assert (first.source_events, first.counts_through) == (2500, DAYS[1])
    assert (second.source_events, second.counts_through) == (0, None)


def test_failed_and_stopped_runs_prove_nothing() -> None:
    reports = {
        CLEAN: [
            report(CLEAN, D20, D21, status=Status.FAILED, proven=D20),
            report(CLEAN, D21, D22, status=Status.INCOMPLETE, proven=D21 + 23 * HOUR),
        ]
    }
    ledger = build_ledger(reports, {}, DAYS, NOW)
    assert ledger.cell(CLEAN, DAYS[0]).state == DayState.PENDING
    assert ledger.cell(CLEAN, DAYS[1]).state == DayState.PENDING


def test_quarantine_and_days() -> None:
    ledger = build_ledger(REPORTS, {**QUARANTINE, "/empty": {}}, DAYS, NOW)
    assert ledger.quarantine == {
        GAPPY: {"bad_event": 1, "rejected_document: mapper_parsing_exception": 4}
    }
    assert ledger.quarantine_reasons == ("bad_event", "rejected_document: mapper_parsing_exception")
    assert last_days(date(2026, 11, 22), 3) == DAYS
