"""The deciding rules: the oldest index's type wins, refusals decide their field or cap."""

from __future__ import annotations

from logstream.schema.decisions import (
    Decision,
    GroupDecisions,
    MemoryDecisionStore,
    Resolution,
    decide_from_refusal,
    decide_from_scan,
    decided_types,
)
from logstream.schema.diagnosis import Diagnosis, ErrorClass
from logstream.schema.scan import FieldConflict, ScanResult
from logstream.schema.transform import TOTAL_FIELDS_KEY

GROUP = "/app/a"
DAY1 = "logs-app-a-2025.11.23"
DAY2 = "logs-app-a-2025.11.24"
DAY2_MS = 1_763_942_400_000  # 2025-11-24T00:00:00Z


def _scan(*conflicts: FieldConflict) -> ScanResult:
    return ScanResult(GROUP, indices=[DAY1, DAY2], conflicts=list(conflicts))


def test_a_scanned_conflict_keeps_the_oldest_index_type() -> None:
    decisions: dict[str, Decision] = {}
    conflict = FieldConflict("json.status", {"keyword": [DAY2], "double": [DAY1]})
    assert decide_from_scan(decisions, GROUP, _scan(conflict), now_ms=5) == {"json.status"}
    decision = decisions["json.status"]
    assert (decision.established_type, decision.resolution) == ("double", Resolution.TYPED_SIBLING)
    assert (decision.types_seen, decision.first_seen) == (["double", "keyword"], DAY2_MS)
    assert (decision.decided_at, decision.origin) == (5, "scan")
    # The same scan again changes nothing.
    assert decide_from_scan(decisions, GROUP, _scan(conflict), now_ms=6) == set()


def test_a_refusal_decides_its_field_or_its_cap() -> None:
    decisions: dict[str, Decision] = {}
    misfit = Diagnosis(ErrorClass.MAPPER_PARSING, "json.user", "keyword", "object")
    assert decide_from_refusal(decisions, GROUP, misfit, timestamp=20, now_ms=1) == {"json.user"}
    assert decisions["json.user"].types_seen == ["keyword", "object"]
    assert decisions["json.user"].origin == "quarantine"
    # An earlier refusal moves first_seen back; an unknown class decides nothing.
    assert decide_from_refusal(decisions, GROUP, misfit, timestamp=10, now_ms=2) == {"json.user"}
    assert decisions["json.user"].first_seen == 10
    other = Diagnosis(ErrorClass.OTHER)
    assert decide_from_refusal(decisions, GROUP, other, timestamp=1, now_ms=3) == set()
    cap = Diagnosis(ErrorClass.FIELD_LIMIT)
    assert decide_from_refusal(decisions, GROUP, cap, timestamp=1, now_ms=4) == {TOTAL_FIELDS_KEY}
    assert decisions[TOTAL_FIELDS_KEY].resolution is Resolution.OVERFLOW
    # Caps are not field types: the transform and the template only see fields.
    assert decided_types(decisions.values()) == {"json.user": "keyword"}


def test_a_group_saves_only_what_changed() -> None:
    store = MemoryDecisionStore()
    decisions = GroupDecisions(store, GROUP, lambda: 7)
    decisions.from_refusal(Diagnosis(ErrorClass.MAPPER_PARSING, "json.n", "double", "string"), 1)
    assert decisions.save() == 1
    assert decisions.save() == 1  # nothing new, still one written this heal
    decisions.count_moves({"json.n": 3, "json.unknown": 2})
    assert decisions.save() == 1
    assert store.load(GROUP)["json.n"].count == 3
    assert GroupDecisions(store, GROUP, lambda: 8).save() == 0
