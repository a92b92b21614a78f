"""Reading a ``_bulk`` answer: what each item's status means for its document."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final

from logstream.cluster.port import ClusterError
from logstream.shipping.delivery import DeliveryReport, Rejection, Undelivered
from logstream.shipping.documents import Document

#: Error types that mean "try again later", whatever the HTTP status says.
_RETRYABLE_ERROR_TYPES: Final = frozenset(
    {
        "es_rejected_execution_exception",
        "rejected_execution_exception",
        "circuit_breaking_exception",
        "process_cluster_event_timeout_exception",
        "unavailable_shards_exception",
        "timeout_exception",
    }
)


class ItemOutcome(StrEnum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    REJECTED = "rejected"
    FAILED = "failed"


def classify_item(status: int, error_type: str | None) -> ItemOutcome:
    """What one bulk response item means for its document."""
    if status in (200, 201):
        return ItemOutcome.DELIVERED
    if status == 409:
        return ItemOutcome.DUPLICATE
    if status == 429 or status >= 500 or error_type in _RETRYABLE_ERROR_TYPES:
        return ItemOutcome.RETRY
    if status == 400:
        return ItemOutcome.REJECTED
    # 401/403/404 and the like are about the cluster, not the document:
    # parking the document would hide an outage, so it stays undelivered.
    return ItemOutcome.FAILED


def sort_items(
    pending: Sequence[Document], response: dict[str, Any], report: DeliveryReport
) -> tuple[list[Document], str]:
    items = response.get("items")
    count = response.get("item_count", len(items) if isinstance(items, list) else 0)
    if count != len(pending):
        # Without one answer per document nothing can be counted as delivered.
        return list(pending), f"bulk response had {count} items for {len(pending)} docs"
    if response.get("errors") is False:
        # The bulk API's own summary: no item failed, so every one was created.
        report.delivered += pending
        return [], ""
    if not isinstance(items, list):
        return list(pending), "bulk response reported failed items without the items"
    retry: list[Document] = []
    reason = ""
    for document, item in zip(pending, items, strict=True):
        # The single key is the op name; read whichever it is (create, index...).
        result: dict[str, Any] = next(iter(item.values()))
        status = int(result.get("status", 0))
        raw_error = result.get("error") or {}
        error: dict[str, Any] = (
            raw_error if isinstance(raw_error, dict) else {"reason": str(raw_error)}
        )
        error_type = error.get("type")
        outcome = classify_item(status, error_type)
        if outcome is ItemOutcome.DELIVERED:
            report.delivered.append(document)
        elif outcome is ItemOutcome.DUPLICATE:
            report.duplicates.append(document)
        elif outcome is ItemOutcome.REJECTED:
            report.rejected.append(
                Rejection(
                    document,
                    status,
                    str(error_type or "unknown"),
                    str(error.get("reason", "")),
                    error,
                )
            )
        elif outcome is ItemOutcome.RETRY:
            retry.append(document)
            reason = f"item status {status} {error_type or ''}".strip()
        else:
            report.undelivered.append(
                Undelivered(document, f"item status {status}: {_item_reason(error)}")
            )
    return retry, reason


def whole_request_rejection(document: Document, error: ClusterError) -> Rejection:
    if error.status == 413:
        reason = (
            f"this document alone ({len(document.line):,} bytes of NDJSON) is larger than the "
            "cluster accepts in one request (http.max_content_length)"
        )
        return Rejection(document, 413, "request_entity_too_large", reason, {"reason": reason})
    # The transport summarises the error body as "<type>: <reason>".
    error_type, _, reason = error.reason.partition(": ")
    if not reason:
        error_type, reason = "bad_request", error.reason
    status = error.status or 400
    return Rejection(document, status, error_type, reason, {"type": error_type, "reason": reason})


def _item_reason(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error)
