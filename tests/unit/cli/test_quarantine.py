"""A quarantine record's reason: its diagnosis when refused, else its kind."""

from __future__ import annotations

from logstream.operations.quarantine import reason_of


def test_reason_of() -> None:
    refused = {"kind": "rejected_document", "error_class": "mapper_parsing_exception"}
    assert reason_of(refused) == "mapper_parsing_exception"
    assert reason_of({"kind": "rejected_document", "error_type": "x"}) == "x"
    assert reason_of({"kind": "bad_payload", "error_class": None}) == "bad_payload"
    assert reason_of({}) == "-"
