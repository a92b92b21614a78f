"""The vocabulary of delivery: where each document ended, and the sink that sends them.

Each document ends in exactly one bucket of a :class:`DeliveryReport`:

- ``delivered``   the cluster created it (201/200);
- ``duplicates``  it was already there (409 on ``create``): replays are harmless;
- ``rejected``    the cluster refused the document itself (HTTP 400: mapping
                  and parsing errors, or a lone document refused whole: 413
                  too large, 400 invalid); the caller parks it in quarantine;
- ``undelivered`` still failing when retries or time ran out (429, 5xx,
                  ``es_rejected_execution_exception``, timeouts, auth or
                  cluster-block errors): the caller must fail the invocation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from logstream.retry import Deadline
from logstream.shipping.documents import Document


@dataclass(frozen=True, slots=True)
class Rejection:
    document: Document
    status: int
    error_type: str
    reason: str
    error: dict[str, Any]

    @property
    def cause(self) -> dict[str, Any]:
        """The error's ``caused_by`` (where mapping errors name the field), or {}."""
        cause = self.error.get("caused_by")
        return cause if isinstance(cause, dict) else {}


@dataclass(frozen=True, slots=True)
class Undelivered:
    document: Document
    reason: str


@dataclass(slots=True)
class DeliveryReport:
    delivered: list[Document] = field(default_factory=list)
    duplicates: list[Document] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    undelivered: list[Undelivered] = field(default_factory=list)
    retried: int = 0
    requests: int = 0
    splits: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0

    def merge(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.undelivered += other.undelivered
        self.retried += other.retried
        self.requests += other.requests
        self.splits += other.splits
        self.bytes_sent += other.bytes_sent

    @property
    def acknowledged(self) -> list[Document]:
        """Documents the cluster answered for: created, already there, or refused for cause."""
        return self.delivered + self.duplicates + [r.document for r in self.rejected]


class BulkSink(Protocol):
    """Where documents go. One real implementation; tests use the real cluster."""

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport: ...


class StreamingSink(BulkSink, Protocol):
    """A sink that sends the first documents while later ones are still being built."""

    def stream_part_size(self, total: int) -> int:
        """How many documents of a payload of ``total`` to build before handing them over."""
        ...

    def deliver_stream(
        self, parts: Iterable[Sequence[Document]], deadline: Deadline
    ) -> DeliveryReport:
        """As :meth:`deliver` of all ``parts`` together; ``parts`` is consumed as it sends."""
        ...
