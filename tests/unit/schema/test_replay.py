"""Quarantine replay: a document tried in a second round counts its moved values once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from logstream.retry import Deadline
from logstream.schema.decisions import Decision, GroupDecisions, MemoryDecisionStore, Resolution
from logstream.schema.diagnosis import diagnose
from logstream.schema.parked import ParkedDocument
from logstream.schema.replay import QuarantineReplay
from logstream.schema.report import GroupHeal
from logstream.shipping.delivery import DeliveryReport, Rejection
from logstream.shipping.documents import Document

GROUP = "/app"
STATUS_REASON = (
    "failed to parse field [json.status] of type [double] in document with id 'd1'. "
    "Preview of field's value: 'OK'"
)
USER_REASON = (
    "failed to parse field [json.user] of type [keyword] in document with id 'd1'. "
    "Preview of field's value: '{id=1}'"
)


class _Sink:
    """Refuses the first send for ``json.user`` (a new conflict), accepts the second."""

    def __init__(self) -> None:
        self.sent: list[list[Document]] = []

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        self.sent.append(list(documents))
        if len(self.sent) > 1:
            return DeliveryReport(delivered=list(documents))
        error = {
            "type": "mapper_parsing_exception",
            "reason": USER_REASON,
            "caused_by": {"type": "illegal_state_exception", "reason": "START_OBJECT"},
        }
        rejections = [
            Rejection(d, 400, "mapper_parsing_exception", USER_REASON, error) for d in documents
        ]
        return DeliveryReport(rejected=rejections)


class _Parked:
    def __init__(self) -> None:
        self.unparked: list[ParkedDocument] = []
        self.parked: list[Rejection] = []

    def park(self, rejected: Sequence[Rejection], deadline: Deadline) -> None:
        self.parked += rejected

    def unpark(self, done: Sequence[ParkedDocument]) -> None:
        self.unparked += done


def _decision(field: str, established: str) -> Decision:
    return Decision(GROUP, field, established, Resolution.TYPED_SIBLING, [], 0, 0, 0, "scan")


def test_values_moved_count_once_when_a_document_is_tried_again() -> None:
    store = MemoryDecisionStore()
    store.save(_decision("json.status", "double"))
    source: dict[str, Any] = {"@timestamp": 1, "json": {"status": "OK", "user": {"id": 1}}}
    raw = orjson.dumps(source)
    record = ParkedDocument(
        record_id="q1",
        target_index="logs-app-2026.01.02",
        doc_id="d1",
        timestamp=1,
        log_group=GROUP,
        log_stream="s",
        source=raw,
        diagnosis=diagnose("mapper_parsing_exception", STATUS_REASON, None, None, raw),
    )
    sink, parked = _Sink(), _Parked()
    replay = QuarantineReplay(
        None,  # type: ignore[arg-type]  # no field-limit refusal here: mappings are never read
        sink,
        parked,  # type: ignore[arg-type]
        depth_limit=20,
        settle=lambda heal, decisions: None,
    )
    heal = GroupHeal(GROUP)
    decisions = GroupDecisions(store, GROUP, lambda: 0)
    replay.replay(heal, [record], decisions, Deadline.after_seconds(60))

    assert len(sink.sent) == 2  # json.user was decided from the first refusal
    assert heal.replayed == 1
    assert parked.unparked == [record]
    # The second transform moved both values; the first round's move is not counted again.
    assert heal.values_moved == 2
    assert decisions.current["json.status"].count == 1
    assert decisions.current["json.user"].count == 1
