"""The id comparison: source events are looked up among the index's ``_id``s through
the one id rule (``naming.document_id``), never by their raw event id.

Today ``document_id`` is the identity, so a test through it could not tell a
mapped comparison from a raw one. These tests inject a rule that differs from
the identity instead, which fails if any lookup skips the mapping, and pin the
default rule to ``naming.document_id``.
"""

from __future__ import annotations

import inspect
from typing import Any

from logstream import naming
from logstream.reconcile import comparison
from logstream.reconcile.comparison import compare, missing_events
from tests.unit.reconcile.fakes import T0, make_events


def _prefixed(event_id: str) -> str:
    return f"doc-{event_id}"


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [event["id"] for event in events]


def test_compare_looks_source_ids_up_through_the_injected_id_rule() -> None:
    events = make_events([T0 + i for i in range(6)])
    # The index holds documents of events 0, 1, 4 under their mapped ids, plus
    # one document under a raw event id (what a raw comparison would match).
    index_ids = {_prefixed(events[i]["id"]) for i in (0, 1, 4)} | {events[2]["id"]}
    found = compare(events, index_ids, id_rule=_prefixed)
    assert _ids(found.missing) == _ids([events[2], events[3], events[5]])
    assert found.unexpected == [events[2]["id"]]
    assert [(gap.missing, gap.open_left, gap.open_right) for gap, _ in found.runs] == [
        (2, False, False),
        (1, False, True),
    ]
    assert [ids for _, ids in found.runs] == [_ids(events[2:4]), [events[5]["id"]]]


def test_missing_events_looks_source_ids_up_through_the_injected_id_rule() -> None:
    events = make_events([T0, T0 + 1, T0 + 2])
    index_ids = {_prefixed(events[0]["id"]), events[1]["id"]}
    assert _ids(missing_events(events, index_ids, id_rule=_prefixed)) == _ids(events[1:])


def test_the_comparisons_default_to_naming_document_id() -> None:
    for function in (comparison.compare, comparison.missing_events):
        default = inspect.signature(function).parameters["id_rule"].default
        assert default is naming.document_id


def test_events_with_their_document_in_the_index_are_not_missing() -> None:
    events = make_events([T0, T0 + 1])
    index_ids = {naming.document_id(e["id"]) for e in events}
    found = compare(events, index_ids)
    assert (found.missing, found.unexpected, found.runs) == ([], [], [])
