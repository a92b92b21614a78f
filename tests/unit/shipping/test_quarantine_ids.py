"""Quarantine records can always be written, whatever the refused document's ``_id``."""

from __future__ import annotations

from logstream.shipping.delivery import Rejection
from logstream.shipping.documents import Document
from logstream.shipping.quarantine import rejection_record


def _rejection(doc_id: str, index: str) -> Rejection:
    document = Document.from_source(
        index=index, doc_id=doc_id, timestamp=1, log_group="g", log_stream="s", source=b"{}"
    )
    return Rejection(document, 400, "mapper_parsing_exception", "bad", {})


def test_a_short_record_id_is_kept_readable() -> None:
    record = rejection_record("logs-quarantine", _rejection("e1", "logs-g-2026.12.02"))
    assert record.doc_id == "e1@logs-g-2026.12.02"


def test_a_record_id_over_512_bytes_becomes_a_stable_digest_within_the_limit() -> None:
    long_id, index = "7" * 500, "logs-" + "g" * 200 + "-2026.12.02"
    first = rejection_record("logs-quarantine", _rejection(long_id, index))
    again = rejection_record("logs-quarantine", _rejection(long_id, index))
    other = rejection_record("logs-quarantine", _rejection(long_id + "8", index))
    assert len(first.doc_id.encode()) <= 512
    assert first.doc_id == again.doc_id != other.doc_id
    assert first.doc_id.startswith("sha256-")
