"""Source events against the index's ``_id``s: what is missing, what is unexpected,
and the runs of missing events that a report calls gaps.

The one id rule holds here too: a CloudWatch event is in the index when
:func:`logstream.naming.document_id` of its id is among the ``_id``s the index
returned, never when the raw event id is. Every comparison of the reconciler
goes through :func:`compare` and :func:`missing_events`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from logstream.naming import document_id
from logstream.reconcile.report import GAP_ID_SAMPLE, Gap

#: Maps a CloudWatch event id to the ``_id`` of its document.
IdRule = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Comparison:
    """One fetched range compared with the ids the index holds for it."""

    #: Source events (time order) whose ``_id`` the index lacks: exactly what to re-ship.
    missing: list[dict[str, Any]]
    #: ``_id``s the index holds that no source event maps to (sorted).
    unexpected: list[str]
    #: Maximal runs of consecutive missing events, each with all its event ids.
    runs: list[tuple[Gap, list[str]]]


def compare(
    events: list[dict[str, Any]], index_ids: Collection[str], *, id_rule: IdRule = document_id
) -> Comparison:
    """Compare ``events`` (sorted by time) with the index's ``_id``s of the same range."""
    doc_ids = [id_rule(event["id"]) for event in events]
    present = [doc_id in index_ids for doc_id in doc_ids]
    missing = [event for event, there in zip(events, present, strict=True) if not there]
    unexpected = sorted(set(index_ids) - set(doc_ids))
    return Comparison(missing, unexpected, _runs(events, present))


def missing_events(
    events: list[dict[str, Any]], index_ids: Collection[str], *, id_rule: IdRule = document_id
) -> list[dict[str, Any]]:
    """The events whose ``_id`` is not among ``index_ids`` (order kept)."""
    return [event for event in events if id_rule(event["id"]) not in index_ids]


def _runs(events: list[dict[str, Any]], present: list[bool]) -> list[tuple[Gap, list[str]]]:
    """Maximal runs of consecutive events (time order) not present in the index,
    each with all its event ids."""
    runs: list[tuple[Gap, list[str]]] = []
    current: tuple[Gap, list[str]] | None = None
    for position, event in enumerate(events):
        if present[position]:
            current = None
            continue
        if current is None:
            current = (
                Gap(
                    start_ms=event["timestamp"],
                    end_ms=event["timestamp"] + 1,
                    missing=0,
                    open_left=position == 0,
                ),
                [],
            )
            runs.append(current)
        gap, ids = current
        gap.end_ms = event["timestamp"] + 1
        gap.missing += 1
        ids.append(event["id"])
        if len(gap.event_ids) < GAP_ID_SAMPLE:
            gap.event_ids.append(event["id"])
    if current is not None:
        current[0].open_right = True
    return runs
